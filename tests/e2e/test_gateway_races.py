"""Concurrent refunds through two gateway workers on PostgreSQL (and SQLite), against the real
upstream "Dojo" (tests/gateway_support.py):

- distinct keys, demand 2.4 times the captured amount: the gateway's cap holds, and the upstream
  holds exactly the refunds the gateway acknowledged and recorded (same ids, same total);
- one key sent four times at once: one refund at the upstream, four identical answers;
- the negative control, a gateway that calls the upstream before reserving locally
  (``call-before-reserve`` in tests/harness/gateway_variants.py), refunds several times at the
  upstream for one key under the same race, and the same checks catch it.

Bounded: a few trials of a few requests each (a 2-core machine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.gateway_support import GatewayPair, compare_refunds, gateway_pair
from tests.harness.gateway_variants import CALL_BEFORE_RESERVE, VARIANT_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("gateway_races")]

TRIALS = 5
DISTINCT = 8
SAME_KEY = 4
CAPTURED = 1000
AMOUNT = 300


@dataclass
class RaceFigures:
    trials: int = 0
    acknowledged: int = 0
    # Trials where the gateway and the upstream disagree, or the gateway passed its cap.
    broken: list[str] = field(default_factory=list)


def _pair(
    tmp_path_factory: pytest.TempPathFactory, backend: str, variant: str | None
) -> Iterator[GatewayPair]:
    folder = tmp_path_factory.mktemp(f"gateway-race-{backend}-{variant or 'real'}")
    env = {"PAYINTENTS_DISPATCHER": "off", **({VARIANT_ENV: variant} if variant else {})}
    module = "tests.harness.gateway_variants" if variant else None
    with gateway_pair(backend, folder, gateway_workers=2, gateway_env=env, app_module=module) as started:
        yield started


@pytest.fixture(scope="module")
def postgres_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    yield from _pair(tmp_path_factory, "postgres", None)


@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    yield from _pair(tmp_path_factory, "sqlite", None)


@pytest.fixture(scope="module")
def call_first_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    yield from _pair(tmp_path_factory, "postgres", CALL_BEFORE_RESERVE)


def all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Send every call from its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def send(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def distinct_key_trial(pair: GatewayPair, figures: RaceFigures, trial: int) -> None:
    intent_id = pair.captured_intent(CAPTURED)
    keys = [f"race-{trial}-{n}" for n in range(DISTINCT)]
    answers = all_at_once(
        [lambda key=key: pair.at_gateway.refund(intent_id, AMOUNT, key=key) for key in keys]
    )
    assert {a.status_code for a in answers} <= {200, 400}, [a.text for a in answers if a.status_code >= 500]
    acknowledged = {a.json()["refundId"] for a in answers if a.status_code == 200}
    compared = compare_refunds(pair.at_upstream, pair.at_gateway, intent_id)
    figures.trials += 1
    figures.acknowledged += len(acknowledged)
    if not compared.consistent or compared.gateway_total > CAPTURED or acknowledged != compared.gateway_ids:
        figures.broken.append(
            f"distinct keys on {intent_id}: {compared}, acknowledged {sorted(acknowledged)}"
        )


def same_key_trial(pair: GatewayPair, figures: RaceFigures, trial: int) -> None:
    intent_id = pair.captured_intent(CAPTURED)
    key = f"same-{trial}"
    answers = all_at_once([lambda: pair.at_gateway.refund(intent_id, 100, key=key)] * SAME_KEY)
    compared = compare_refunds(pair.at_upstream, pair.at_gateway, intent_id)
    figures.trials += 1
    one_answer = len({(a.status_code, a.content) for a in answers}) == 1 and answers[0].status_code == 200
    figures.acknowledged += int(one_answer)
    if not compared.consistent or len(compared.upstream_ids) != 1 or not one_answer:
        figures.broken.append(
            f"one key on {intent_id}: {compared}, answers {[a.status_code for a in answers]}"
        )


def race(pair: GatewayPair) -> RaceFigures:
    figures = RaceFigures()
    for trial in range(TRIALS):
        distinct_key_trial(pair, figures, trial)
        same_key_trial(pair, figures, trial)
    return figures


def test_concurrent_refunds_through_two_postgres_workers_match_the_upstream(
    postgres_pair: GatewayPair,
) -> None:
    figures = race(postgres_pair)
    assert figures.broken == [] and figures.trials == 2 * TRIALS
    # Each distinct-key trial acknowledges exactly what fits: 3 refunds of 300 in 1000.
    assert figures.acknowledged == TRIALS * (CAPTURED // AMOUNT) + TRIALS
    assert postgres_pair.gateway.log_problems() == []


def test_concurrent_refunds_through_two_sqlite_workers_match_the_upstream(sqlite_pair: GatewayPair) -> None:
    figures = race(sqlite_pair)
    assert figures.broken == [] and figures.trials == 2 * TRIALS


def test_the_race_catches_a_gateway_that_calls_the_upstream_before_reserving(
    call_first_pair: GatewayPair,
) -> None:
    figures = race(call_first_pair)
    assert figures.broken, "the negative control was not caught"
    assert any(entry.startswith("one key") for entry in figures.broken)
