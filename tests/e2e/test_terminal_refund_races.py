"""Short runs of the terminal refund race (tests/harness/terminal_refund_race.py) against real
servers with two worker processes: matched refunds at terminals and API refunds racing on one
intent never refund more than was captured, on SQLite and PostgreSQL; against the naive
check-then-write API refunds the same harness catches over-refunds (it can fail).

The full runs (100 trials) are ``python -m tests.harness.terminal_refund_race``; see its docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import pytest

from tests.harness import terminal_refund_race as race
from tests.harness.naive_app import WINDOW_ENV
from tests.harness.race_common import Harness, harness
from tests.support import skip_without_postgres

pytestmark = pytest.mark.e2e

TRIALS = 10
CONCURRENCY = 8


def _server(tmp_path_factory: pytest.TempPathFactory, backend: str, *, naive: bool) -> Iterator[Harness]:
    logs = tmp_path_factory.mktemp(f"terminal-race-{backend}-{'naive' if naive else 'real'}")
    with harness(backend=backend, workers=2, concurrency=CONCURRENCY, naive=naive, log_dir=logs) as h:
        yield h


# The negative control goes on past TRIALS until it catches an over-refund, up to this many: on a
# loaded machine (a second copy of the suite beside it) the naive API refunds all landed before
# any terminal session reserved, ten trials in a row (the naive window also grows with the load).
CONTROL_TRIALS = 40


def _race(h: Harness, trials: int = TRIALS, *, until_over_refund: bool = False) -> race.TerminalRaceFigures:
    figures = race.TerminalRaceFigures()
    terminals = race.prepare(h)
    for _ in range(trials):
        race.run_trial(h, terminals, figures)
        if until_over_refund and figures.over_refunded:
            break
    return figures


def _assert_never_over_refunds(h: Harness) -> None:
    figures = _race(h)
    seen = asdict(figures)
    assert figures.over_refunded == 0, seen
    assert figures.acknowledged_mismatch == 0, seen
    assert figures.status_mismatch == 0, seen
    assert figures.errors_5xx == 0 and figures.other_status == 0, seen
    # 8 x 250 against 1000: exactly four fit, and one that fits is never refused.
    assert figures.api_acknowledged + figures.terminal_acknowledged == 4 * TRIALS, seen
    assert figures.terminal_acknowledged > 0 and figures.api_acknowledged > 0, seen
    assert h.log_problems() == []


def test_terminal_and_api_refunds_never_exceed_the_capture_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for h in _server(tmp_path_factory, "sqlite", naive=False):
        _assert_never_over_refunds(h)


@pytest.mark.postgres
def test_terminal_and_api_refunds_never_exceed_the_capture_on_postgres(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    skip_without_postgres()
    for h in _server(tmp_path_factory, "postgres", naive=False):
        _assert_never_over_refunds(h)


def test_the_terminal_race_catches_naive_api_refunds(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WINDOW_ENV, race.NAIVE_WINDOW_MS)
    for h in _server(tmp_path_factory, "sqlite", naive=True):
        figures = _race(h, CONTROL_TRIALS, until_over_refund=True)
        assert figures.over_refunded >= 1, asdict(figures)
        assert figures.max_refunded > race.CAPTURED, asdict(figures)
