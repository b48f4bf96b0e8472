# servflow — one machine, two commands: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run run-scaled test bench chaos lint fuzz venv clean

# The last pip line installs the `servflow` command, editable: code and data are used from
# this tree. The egg-info setuptools leaves behind is a by-product (metadata is in .venv).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	rm -rf servflow.egg-info
	touch $(STAMP)

venv: $(STAMP)

## The platform with demo data: Temporal dev server (SQLite under var/), worker, API.
run: $(STAMP)
	bash scripts/build-designer.sh
	$(BIN)/python -m servflow.cli run

## The scale-out shape without Docker: WORKERS workers and APIS API replicas (ports 8000, 8001, ...)
## against one Temporal; meant for PostgreSQL (SERVFLOW_DATABASE_URL=postgresql+psycopg://...).
WORKERS ?= 2
APIS ?= 2
run-scaled: $(STAMP)
	bash scripts/build-designer.sh
	$(BIN)/python -m servflow.cli run --workers $(WORKERS) --apis $(APIS)

## Lint, type-check and the whole test suite (PostgreSQL too when SERVFLOW_TEST_DATABASE_URL is set).
test: $(STAMP)
	bash scripts/test.sh

## Style, formatting, types and the import rules of the house (.importlinter).
lint: $(STAMP)
	bash scripts/lint.sh

## Every route fuzzed as every role, longer than `make test` does (FUZZ_EXAMPLES per operation).
FUZZ_EXAMPLES ?= 25
fuzz: $(STAMP)
	SERVFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -s -p no:cacheprovider tests/api/test_fuzz.py

## The fault suite (issue 10): worker/Temporal/API SIGKILLs, PostgreSQL backend terminations and
## refused connections, SQLite write locks; then the independent checker's table (docs/operations.md).
## PostgreSQL runs with CHAOS_DATABASE_URL (or SERVFLOW_TEST_DATABASE_URL) set.
CHAOS_ORDERS ?= 120
chaos: $(STAMP)
	CHAOS_ORDERS=$(CHAOS_ORDERS) $(BIN)/python -m tests.chaos

## Side-by-side benchmarks; each prints ratios.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
