# The project's commands. `make run` serves on SQLite; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Two stamps: what serving needs (`make run`), and everything else (tests, linters, the client).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test check ci install crash-test crash-test-short race bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing payintents and what serving needs into $(VENV) (the first run takes a minute)"
	$(BIN)/pip install -e .
	touch $(RUNTIME_STAMP)

# The development install includes the runtime one, so it stamps both.
$(DEV_STAMP): pyproject.toml client/pyproject.toml | $(BIN)/python
	@echo "Installing payintents, its client and the development tools into $(VENV) (a few minutes the first time)"
	$(BIN)/pip install -e '.[dev]' -e './client[cli]'
	touch $(RUNTIME_STAMP) $(DEV_STAMP)

install: $(DEV_STAMP)

# `make run PORT=8100` serves on another port.
run: $(RUNTIME_STAMP)
	$(BIN)/payintents serve --port $(PORT)

# Heaviest modules first, and a module's shared server started on one worker only (see
# tests/conftest.py). `pytest -m "not slow"` leaves out the slowest cases for a quick run.
test: $(DEV_STAMP)
	$(BIN)/pytest -n auto --dist loadgroup -q tests client/tests

check: $(DEV_STAMP)
	$(BIN)/ruff check src tests client
	$(BIN)/ruff format --check src tests client
	$(BIN)/mypy
	$(BIN)/mypy --strict client/src
	$(BIN)/lint-imports

ci: check test

PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

# Concurrency harnesses (figures in docs/performance.md); the --naive runs are negative controls.
race: $(DEV_STAMP)
	$(BIN)/python -m tests.harness.refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite
	$(BIN)/python -m tests.harness.refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite --naive
	$(BIN)/python -m tests.harness.same_key_race --trials 100 --workers 2 --concurrency 8 --backend sqlite
	$(BIN)/python -m tests.harness.same_key_race --trials 100 --workers 2 --concurrency 8 --backend sqlite --naive
	$(BIN)/python -m tests.harness.terminal_refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite
	$(BIN)/python -m tests.harness.terminal_refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite --naive

# Kill every worker (and PostgreSQL itself) at random moments; nothing may be lost or doubled.
crash-test: $(DEV_STAMP)
	$(BIN)/python -m tests.harness.crash_test --backend sqlite --cycles 20 --workers 2
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 20 --workers 2 --db-restarts
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 20 --workers 2 --variant ack-before-commit

# The PostgreSQL crash test with database restarts, short; run alone (it restarts PostgreSQL).
crash-test-short: $(DEV_STAMP)
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 5 --workers 2 --db-restarts

# Figures for docs/performance.md (measurements, never assertions; the runs fail only if the
# audit at their end finds a violation).
bench: $(DEV_STAMP)
	$(BIN)/payintents bench
	$(BIN)/payintents bench --backend postgres --postgres-url $(PG_TEST_URL)
	$(BIN)/python -m tests.harness.bench_api --backend sqlite --workers 2 --requests 200
	$(BIN)/python -m tests.harness.dashboard_bench

# The short form CI runs: every mode on both databases, figures printed, nothing asserted on speed.
bench-smoke: $(DEV_STAMP)
	$(BIN)/payintents bench --smoke
	$(BIN)/payintents bench --smoke --backend postgres --postgres-url $(PG_TEST_URL)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
