# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine
# with Python 3.11+, Java 17+ (21+ for Elasticsearch) and Maven; they create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-engines lint unit unit-pure integration demo stack-up stack-down bench

# The compiled hot paths (Rust): `pip install` builds them with cargo when it is there (and
# goes on without them when it is not); a change to the crate reinstalls.
SPEEDUPS := kafka_logging/speedups
$(VENV)/.installed: setup.cfg pyproject.toml $(SPEEDUPS)/Cargo.toml $(SPEEDUPS)/Cargo.lock $(wildcard $(SPEEDUPS)/src/*.rs)
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
## private node of each other tested search engine (downloaded once into the cache), then the
## unit tests of the code the hot-path switch touches again on the pure-Python path.
ENGINES ?= elasticsearch:8.19.21 opensearch:2.19.1
test: stack-up lint
	$(BIN)/pytest
	$(MAKE) test-engines
	$(MAKE) unit-pure

test-engines: install
	for engine in $(ENGINES); do $(BIN)/pytest -m engines --search-engine $$engine || exit 1; done

## The pure-Python twins of the compiled hot paths (KAFKA_LOGGING_PURE=1, kafka_logging/speedups).
unit-pure: install
	KAFKA_LOGGING_PURE=1 $(BIN)/pytest -q -m 'not integration' tests/unit/shipper tests/unit/handler tests/unit/fuzz tests/unit/speedups

unit: install
	$(BIN)/pytest -m 'not integration'

integration: stack-up
	$(BIN)/pytest -m integration

## The product's main job on the local stack.
demo: stack-up
	$(BIN)/kafka-logging demo
