"""Short runs of the two race harnesses against real servers (two worker processes on loopback).

- distinct keys, demand twice the captured amount: the real server never over-refunds, every
  acknowledged refund is stored and listed, and nothing answers 5xx — on SQLite and PostgreSQL;
- the same harness against the naive check-then-write server catches over-refunds (it can fail),
  on both stores;
- one key fired eight times at once: exactly one refund and byte-identical answers on both
  stores, while the naive server (key checked apart from the write) shows duplicates.

The full runs (100 trials each) are the commands ``python -m tests.harness.refund_race`` and
``python -m tests.harness.same_key_race``; see their docstrings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import pytest

from tests.harness import refund_race, same_key_race
from tests.harness.race_common import Harness, harness
from tests.support import skip_without_postgres

pytestmark = pytest.mark.e2e

TRIALS = 10
CONCURRENCY = 8
WORKERS = 2


def _server(tmp_path_factory: pytest.TempPathFactory, backend: str, *, naive: bool) -> Iterator[Harness]:
    logs = tmp_path_factory.mktemp(f"race-{backend}-{'naive' if naive else 'real'}")
    with harness(backend=backend, workers=WORKERS, concurrency=CONCURRENCY, naive=naive, log_dir=logs) as h:
        yield h


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _server(tmp_path_factory, "sqlite", naive=False)


@pytest.fixture(scope="module")
def naive_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _server(tmp_path_factory, "sqlite", naive=True)


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    skip_without_postgres()
    yield from _server(tmp_path_factory, "postgres", naive=False)


@pytest.fixture(scope="module")
def naive_postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    skip_without_postgres()
    yield from _server(tmp_path_factory, "postgres", naive=True)


def _refund_race(h: Harness) -> refund_race.RefundRaceFigures:
    figures = refund_race.RefundRaceFigures()
    for _ in range(TRIALS):
        refund_race.run_trial(h, figures)
    return figures


def _same_key_race(h: Harness) -> same_key_race.SameKeyFigures:
    figures = same_key_race.SameKeyFigures()
    for _ in range(TRIALS):
        same_key_race.run_trial(h, figures)
    return figures


def _assert_never_over_refunds(h: Harness) -> None:
    figures = _refund_race(h)
    seen = asdict(figures)
    assert figures.over_refunded == 0, seen
    assert figures.acknowledged_mismatch == 0, seen
    assert figures.status_mismatch == 0, seen
    assert figures.errors_5xx == 0, seen
    assert figures.other_status == 0, seen
    # 8 x 250 against 1000: exactly four fit, and a refund that fits is never refused.
    assert figures.acknowledged == 4 * TRIALS, seen
    assert figures.rejected_400 == 4 * TRIALS, seen
    assert h.log_problems() == []


def _assert_exactly_once(h: Harness) -> None:
    figures = _same_key_race(h)
    seen = asdict(figures)
    assert figures.duplicate_refunds == 0, seen
    assert figures.divergent_answers == 0, seen
    assert figures.acknowledged_mismatch == 0, seen
    assert figures.replay_header_mismatch == 0, seen
    assert figures.errors_5xx == 0, seen
    assert figures.other_status == 0, seen
    assert figures.replayed == (CONCURRENCY - 1) * TRIALS, seen
    assert h.log_problems() == []


def test_concurrent_refunds_never_exceed_the_captured_amount_on_sqlite(sqlite_server: Harness) -> None:
    _assert_never_over_refunds(sqlite_server)


@pytest.mark.postgres
def test_concurrent_refunds_never_exceed_the_captured_amount_on_postgres(postgres_server: Harness) -> None:
    _assert_never_over_refunds(postgres_server)


def test_the_refund_race_catches_a_naive_check_then_write_server(naive_sqlite_server: Harness) -> None:
    figures = _refund_race(naive_sqlite_server)
    assert figures.over_refunded >= 1, asdict(figures)
    assert figures.max_refunded > 1000, asdict(figures)


@pytest.mark.postgres
def test_the_refund_race_catches_a_naive_server_on_postgres(naive_postgres_server: Harness) -> None:
    # The naive server must be able to over-refund here too: with one of the store's cap CHECKs
    # left in place its over-refunds were 500s, and this control could not fail.
    figures = _refund_race(naive_postgres_server)
    assert figures.over_refunded >= 1, asdict(figures)
    assert figures.max_refunded > 1000, asdict(figures)


def test_one_key_fired_concurrently_makes_exactly_one_refund_on_sqlite(sqlite_server: Harness) -> None:
    _assert_exactly_once(sqlite_server)


@pytest.mark.postgres
def test_one_key_fired_concurrently_makes_exactly_one_refund_on_postgres(postgres_server: Harness) -> None:
    _assert_exactly_once(postgres_server)


def test_the_same_key_race_catches_a_key_checked_apart_from_the_write(naive_sqlite_server: Harness) -> None:
    figures = _same_key_race(naive_sqlite_server)
    assert figures.duplicate_refunds >= 1, asdict(figures)
    assert figures.divergent_answers >= 1, asdict(figures)
