# The two set-up commands of the README: `make demo` and `make test`. Each creates its own
# virtual environment (.venv) on first use; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nbkit-installed
PYTEST_WORKERS ?= 2

.PHONY: venv test quick lint unit demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[all,dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy nbkit

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

test: lint unit

# The edit loop: lint, then every test not marked slow (kernels, pre-commit, faults,
# benchmark smoke, browser). `make test` still runs everything.
quick: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -m "not slow"

demo: $(STAMP)
	$(BIN)/python demo/run.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
