# The project's commands. `make run` serves on SQLite; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check ci install crash-test crash-test-short race bench bench-smoke clean

$(STAMP): pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e './client[cli]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/payintents serve

test: $(STAMP)
	$(BIN)/pytest -n auto -q tests client/tests

check: $(STAMP)
	$(BIN)/ruff check src tests client
	$(BIN)/ruff format --check src tests client
	$(BIN)/mypy
	$(BIN)/mypy --strict client/src
	$(BIN)/lint-imports

ci: check test

PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

# Concurrency harnesses (figures in docs/performance.md); the --naive runs are negative controls.
race: $(STAMP)
	$(BIN)/python -m tests.harness.refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite
	$(BIN)/python -m tests.harness.refund_race --trials 100 --workers 2 --concurrency 8 --backend sqlite --naive
	$(BIN)/python -m tests.harness.same_key_race --trials 100 --workers 2 --concurrency 8 --backend sqlite
	$(BIN)/python -m tests.harness.same_key_race --trials 100 --workers 2 --concurrency 8 --backend sqlite --naive

# Kill every worker (and PostgreSQL itself) at random moments; nothing may be lost or doubled.
crash-test: $(STAMP)
	$(BIN)/python -m tests.harness.crash_test --backend sqlite --cycles 20 --workers 2
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 20 --workers 2 --db-restarts
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 20 --workers 2 --variant ack-before-commit

# The PostgreSQL crash test with database restarts, short; run alone (it restarts PostgreSQL).
crash-test-short: $(STAMP)
	PAYINTENTS_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/python -m tests.harness.crash_test --backend postgres --cycles 5 --workers 2 --db-restarts

# Figures for docs/performance.md (measurements, never assertions; the runs fail only if the
# audit at their end finds a violation).
bench: $(STAMP)
	$(BIN)/payintents bench
	$(BIN)/payintents bench --backend postgres --postgres-url $(PG_TEST_URL)
	$(BIN)/python -m tests.harness.bench_api --backend sqlite --workers 2 --requests 200
	$(BIN)/python -m tests.harness.dashboard_bench

# The short form CI runs: every mode on both databases, figures printed, nothing asserted on speed.
bench-smoke: $(STAMP)
	$(BIN)/payintents bench --smoke
	$(BIN)/payintents bench --smoke --backend postgres --postgres-url $(PG_TEST_URL)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
