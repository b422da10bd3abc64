# The project's commands. `make run` serves on SQLite; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check ci install crash-test race bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/payintents serve

test: $(STAMP)
	$(BIN)/pytest -n auto -q

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

ci: check test

race: $(STAMP)
	$(BIN)/python -m tests.harness.refund_race --trials 100

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
