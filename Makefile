# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

# The gRPC code is generated from these at install time (hatch_build.py): a changed .proto
# reinstalls, which regenerates.
PROTOS := $(wildcard protos/vestry/*/v1/*.proto)

.PHONY: serve test lint protos venv clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What `vestry up` needs, and no more.
$(RUNTIME): pyproject.toml hatch_build.py $(PROTOS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# Plus the test and development tools.
$(STAMP): pyproject.toml hatch_build.py $(PROTOS) | $(BIN)/python
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

## Regenerate the gRPC code and stubs in place (what every install does), without reinstalling.
protos: $(STAMP)
	$(BIN)/python hatch_build.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
