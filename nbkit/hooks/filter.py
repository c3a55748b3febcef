"""git's long-running filter process (``filter.nbkit.process``): clean notebooks on ``git add``.

One process serves a whole ``git add`` over pkt-line protocol version 2 (see
gitattributes(5), "Long Running Filter Process"), so a hundred notebooks cost one Python
start, not a hundred. The blob git stores is the cleaned canonical notebook; the working
file keeps its outputs. Content nbkit cannot parse goes through unchanged (never lose data)
and the reason is reported through ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO, NamedTuple

from nbkit import notebook
from nbkit.cache import Cache
from nbkit.clean import cache_key, clean_in_place
from nbkit.config import CleanPolicy
from nbkit.errors import BadInput, NbkitError
from nbkit.fsutil import detect_newline

FLUSH = b"0000"
MAX_PKT_DATA = 65516  # git's limit: 65520 bytes per packet including the 4-byte length


class ProtocolError(NbkitError):
    """git sent something this filter does not understand."""


class Request(NamedTuple):
    command: str
    pathname: str
    content: bytes


# --- pkt-line -------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_pkt(stream: BinaryIO) -> bytes | None:
    """One packet's payload, or None for a flush packet. EOFError when git hung up."""
    head = _read_exact(stream, 4)
    try:
        length = int(head, 16)
    except ValueError:
        raise ProtocolError(f"filter-process: bad pkt-line length {head!r}") from None
    if length == 0:
        return None
    if length < 4:
        raise ProtocolError(f"filter-process: bad pkt-line length {length}")
    return _read_exact(stream, length - 4)


def read_lines(stream: BinaryIO) -> list[str]:
    """Text packets up to the next flush, without their trailing newlines."""
    lines = []
    while (pkt := read_pkt(stream)) is not None:
        lines.append(pkt.decode("utf-8", "surrogateescape").rstrip("\n"))
    return lines


def read_content(stream: BinaryIO) -> bytes:
    chunks = []
    while (pkt := read_pkt(stream)) is not None:
        chunks.append(pkt)
    return b"".join(chunks)


def write_pkt(stream: BinaryIO, payload: bytes) -> None:
    stream.write(b"%04x" % (len(payload) + 4) + payload)


def write_lines(stream: BinaryIO, *lines: str) -> None:
    for line in lines:
        write_pkt(stream, (line + "\n").encode("utf-8"))
    stream.write(FLUSH)


def write_content(stream: BinaryIO, data: bytes) -> None:
    for start in range(0, len(data), MAX_PKT_DATA):
        write_pkt(stream, data[start : start + MAX_PKT_DATA])
    stream.write(FLUSH)


# --- the filter -----------------------------------------------------------------------------


def handshake(stdin: BinaryIO, stdout: BinaryIO) -> set[str]:
    """Agree on version 2 and announce ``clean``; returns the capabilities git offered."""
    try:
        welcome = read_lines(stdin)
    except EOFError:
        raise ProtocolError(
            "filter-process: no handshake on stdin (git starts this command)",
            hint="set it up with: nbkit install --filter",
        ) from None
    if "git-filter-client" not in welcome or "version=2" not in welcome:
        raise ProtocolError(f"filter-process: not git's filter protocol version 2: {welcome!r}")
    write_lines(stdout, "git-filter-server", "version=2")
    stdout.flush()
    try:
        capabilities = read_lines(stdin)
    except EOFError:
        raise ProtocolError("filter-process: git closed the pipe during the handshake") from None
    offered = {line.partition("=")[2] for line in capabilities if line.startswith("capability=")}
    write_lines(stdout, *(["capability=clean"] if "clean" in offered else []))
    stdout.flush()
    return offered


def read_request(stdin: BinaryIO) -> Request | None:
    """The next file from git, or None when git has no more (it closed the pipe)."""
    try:
        headers = read_lines(stdin)
        content = read_content(stdin)
    except EOFError:  # git is done (or gone): nothing is left to answer
        return None
    fields = dict(line.partition("=")[::2] for line in headers)
    return Request(fields.get("command", ""), fields.get("pathname", ""), content)


def clean_content(
    data: bytes, pathname: str, policy: CleanPolicy, cache: Cache, warn: Callable[[str], None]
) -> bytes:
    """The cleaned bytes, or ``data`` unchanged (with a warning) when it is not a notebook.

    ``data`` itself comes back when cleaning changes no content (no re-serialising: what the
    user saved is staged); the content hash is looked up only when the cache holds any."""
    if not data or (not cache.empty("clean") and cache.has("clean", cache_key(data, policy))):
        return data
    try:
        nb = notebook.loads(data, pathname)
        if not clean_in_place(nb, policy):  # nb is ours: cleaned in place, sources untouched
            return data
        before = [notebook.source_text(c) for c in nb["cells"]]
        cleaned = notebook.to_bytes(nb, detect_newline(data), owned=True)
        # Read back as plain JSON (its shape is ours): the sources staged are the user's.
        after = [notebook.source_text(c) for c in notebook.parse_json(cleaned, pathname)["cells"]]
    except BadInput as exc:
        warn(f"nbkit filter: {exc}; staged unchanged")
        return data
    if before != after:  # cleaning never touches sources; if it did, keep the user's bytes
        warn(f"nbkit filter: {pathname}: cleaning would change cell sources; staged unchanged")
        return data
    return cleaned


def serve(
    stdin: BinaryIO,
    stdout: BinaryIO,
    policy: CleanPolicy | None,
    cache: Cache,
    warn: Callable[[str], None],
    managed: Callable[[str], bool] = lambda pathname: True,
) -> int:
    """Answer git until it closes the pipe; returns how many files were filtered.

    ``policy`` None (the project's config could not be read) passes every file through
    unchanged: dying instead would make git abort the whole ``git add``."""
    handshake(stdin, stdout)
    count = 0
    while (request := read_request(stdin)) is not None:
        if request.command == "clean" and policy is not None and managed(request.pathname):
            result = clean_content(request.content, request.pathname, policy, cache, warn)
        else:  # only clean was announced; anything else is answered unchanged
            result = request.content
        write_lines(stdout, "status=success")
        write_content(stdout, result)
        stdout.write(FLUSH)  # an empty list: the status stays "success"
        stdout.flush()
        count += 1
    cache.save()
    return count
