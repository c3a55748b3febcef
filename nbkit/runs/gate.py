"""``--fail-if`` gates: ``METRIC OP EXPR`` parsed by hand and evaluated on numbers only.

A gate comes from the command line and often from a CI file someone else wrote, so it is
data, never code: no ``eval``, no names but ``base``, no calls, no attributes. The grammar::

    gate   := METRIC ("<" | "<=" | ">" | ">=" | "==" | "!=") expr
    expr   := term (("+" | "-") term)*
    term   := factor (("*" | "/") factor)*
    factor := NUMBER | "base" | "(" expr ")" | "-" factor

``METRIC`` is the new run's value of that metric; ``base`` is the base run's value of the same
metric. The gate *fails* (a regression) when the comparison is true.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nbkit.errors import BadInput

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_GATE_RE = re.compile(r"^\s*(?P<metric>[^<>=!]+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<expr>.+?)\s*$")
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<sym>[-+*/()]))"
)

# An expression tree: a number, "base", or (op, left, right) / ("neg", operand).
Expr = float | str | tuple[Any, ...]


@dataclass(frozen=True)
class Gate:
    """One parsed ``--fail-if`` condition."""

    text: str
    metric: str
    op: str
    expr: Expr

    @property
    def uses_base(self) -> bool:
        return _uses_base(self.expr)


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    run: str  # the run the gate was decided on
    failed: bool
    reason: str  # e.g. "accuracy = 0.91 < base - 0.01 = 0.94"


def parse_gate(text: str, option: str = "--fail-if") -> Gate:
    """Parse ``METRIC OP EXPR``; a malformed gate is ``BadInput`` naming the problem."""
    match = _GATE_RE.match(text)
    if not match:
        example = "accuracy < base - 0.01" if option == "--fail-if" else "accuracy > 0.9"
        raise BadInput(
            f"cannot parse {text!r}: expected METRIC OP EXPR",
            option,
            hint=f"e.g. {option} '{example}'",
        )
    tokens = _tokenize(match["expr"], text, option)
    parser = _Parser(tokens, text, option)
    expr = parser.expr()
    if parser.pos != len(tokens):
        raise BadInput(f"unexpected {tokens[parser.pos]!r} in gate {text!r}", option)
    return Gate(text=text.strip(), metric=match["metric"].strip(), op=match["op"], expr=expr)


def parse_where(text: str) -> Gate:
    """A ``--where`` filter: the gate grammar without ``base`` (there is no base run)."""
    gate = parse_gate(text, "--where")
    if gate.uses_base:
        raise BadInput(f"'base' has no meaning in {text!r}", "--where", hint="compare to numbers")
    return gate


def holds(gate: Gate, values: Mapping[str, Any]) -> bool:
    """Whether a ``--where`` filter holds for a run's values (metrics and parameters); a
    missing or non-numeric value never matches."""
    value = _number(values.get(gate.metric))
    if value is None:
        return False
    try:
        return _OPS[gate.op](value, _value(gate.expr, math.nan))
    except ZeroDivisionError:
        return False


def _tokenize(expr: str, text: str, option: str = "--fail-if") -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN_RE.match(expr, pos)
        if not match or match.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise BadInput(f"unexpected {expr[pos:].strip()[:10]!r} in gate {text!r}", option)
        token = match["num"] or match["name"] or match["sym"]
        if match["name"] and token != "base":
            raise BadInput(
                f"unknown name {token!r} in gate {text!r}: only numbers and 'base' are allowed",
                option,
            )
        tokens.append(token)
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list; each method consumes what it parses."""

    def __init__(self, tokens: list[str], text: str, option: str = "--fail-if") -> None:
        self.tokens = tokens
        self.text = text
        self.option = option
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise BadInput(f"gate {self.text!r} ends too early", self.option)
        self.pos += 1
        return token

    def expr(self) -> Expr:
        node = self.term()
        while self._peek() in ("+", "-"):
            node = (self._take(), node, self.term())
        return node

    def term(self) -> Expr:
        node = self.factor()
        while self._peek() in ("*", "/"):
            node = (self._take(), node, self.factor())
        return node

    def factor(self) -> Expr:
        token = self._take()
        if token == "-":
            return ("neg", self.factor())
        if token == "(":
            node = self.expr()
            if self._take() != ")":
                raise BadInput(f"missing ')' in gate {self.text!r}", self.option)
            return node
        if token == "base":
            return "base"
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        raise BadInput(f"unexpected {token!r} in gate {self.text!r}", self.option)


def _uses_base(expr: Expr) -> bool:
    if expr == "base":
        return True
    return isinstance(expr, tuple) and any(_uses_base(part) for part in expr[1:])


def _value(expr: Expr, base: float) -> float:
    if isinstance(expr, float):
        return expr
    if expr == "base":
        return base
    assert isinstance(expr, tuple)
    if expr[0] == "neg":
        return -_value(expr[1], base)
    left, right = _value(expr[1], base), _value(expr[2], base)
    if expr[0] == "/" and right == 0:
        raise ZeroDivisionError
    ops: dict[str, Callable[[float, float], float]] = {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "/": operator.truediv,
    }
    return ops[expr[0]](left, right)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def evaluate(
    gate: Gate, base: Mapping[str, Any], new: Mapping[str, Any], base_id: str, new_id: str
) -> GateResult:
    """Decide one gate on two runs' metrics. A missing or non-numeric metric fails the gate:
    a CI check must not pass because the thing it guards was not measured."""
    new_value = _number(new.get(gate.metric))
    if new_value is None:
        what = "not recorded" if gate.metric not in new else "not a number"
        return GateResult(gate, new_id, True, f"{gate.metric}: {what} in run {new_id}")
    base_value = _number(base.get(gate.metric))
    if gate.uses_base and base_value is None:
        what = "not recorded" if gate.metric not in base else "not a number"
        return GateResult(gate, new_id, True, f"{gate.metric}: {what} in base run {base_id}")
    try:
        bound = _value(gate.expr, base_value if base_value is not None else math.nan)
    except ZeroDivisionError:
        return GateResult(gate, new_id, True, f"{gate.text}: division by zero")
    failed = _OPS[gate.op](new_value, bound)
    if failed:
        reason = f"{gate.metric} = {new_value:g} {gate.op} {bound:g}: regression"
    else:
        reason = f"{gate.metric} = {new_value:g}, not {gate.op} {bound:g}: ok"
    return GateResult(gate, new_id, failed, reason)
