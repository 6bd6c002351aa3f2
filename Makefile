# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine
# with Python 3.11+, Java 17+ (21+ for Elasticsearch) and Maven; they create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-engines lint unit integration demo stack-up stack-down bench

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev,server,registry,otel,bench]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack-up: install
	$(BIN)/kafka-logging stack up

stack-down: install
	$(BIN)/kafka-logging stack down

## The whole suite: lint, types, unit and integration tests against the real local stack,
## then the `engines`-marked tests (exactly-once, DLQ, replay, search, setup, prune) against a
## private node of each other tested search engine (downloaded once into the cache).
ENGINES ?= elasticsearch:8.19.21 opensearch:2.19.1
test: stack-up lint
	$(BIN)/pytest
	$(MAKE) test-engines

test-engines: install
	for engine in $(ENGINES); do $(BIN)/pytest -m engines --search-engine $$engine || exit 1; done

unit: install
	$(BIN)/pytest -m 'not integration'

integration: stack-up
	$(BIN)/pytest -m integration

## The product's main job on the local stack.
demo: stack-up
	$(BIN)/kafka-logging demo
