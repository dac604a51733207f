# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: serve test lint protos check-protos venv clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What `vestry up` needs, and no more.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# Plus the test and development tools.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(RUNTIME) $(STAMP)

## Start Vestry on this machine (embedded defaults: SQLite, local disk, in-process cache).
serve: $(RUNTIME)
	$(BIN)/vestry up $(ARGS)

## Run the whole test suite (brings up PostgreSQL/Redis/SeaweedFS for the tests if needed).
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run-tests.sh $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

protos: $(STAMP)
	PYTHON=$(BIN)/python scripts/gen_protos.sh

## Fails when the checked-in generated code does not match the protos.
check-protos: $(STAMP)
	PYTHON=$(BIN)/python scripts/gen_protos.sh
	git diff --exit-code -- protos/ || (echo "generated code is stale: run 'make protos'" >&2; exit 1)
	test -z "$$(git status --porcelain -- protos/)" || (git status --porcelain -- protos/; echo "untracked generated files: run 'make protos' and commit" >&2; exit 1)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
