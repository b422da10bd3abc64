"""API operations on the event loop, and giving way to a thread when they would wait (ADR 0011).

On both stores: a plain refund runs on the event loop (the processor sees a request that may not
wait); a refund that would wait — a sandbox "slow" failure, the SQLite write gate held by another
writer, the intent's row locked on PostgreSQL — gives way before committing anything and runs again
on a worker thread, where it succeeds exactly once: one refund, the amount added once, one entry in
the request log, one token of the rate limit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine, write_gate
from payintents.domain.intent import Scope
from payintents.domain.sandbox import InjectedFailure
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.ports import Processor
from payintents.service.waiting import may_wait
from payintents.web.app import build_app
from payintents.web.rate_limit import RateLimit, RateLimiter
from tests.support import Api

HOLD_S = 0.3


class WatchedProcessor:
    """The sandbox processor, noting for each refund whether the request could have waited."""

    def __init__(self, inner: Processor) -> None:
        self._inner = inner
        self.refunds_may_wait: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def refund(
        self, scope: Scope, intent_id: str, amount: int, injected: InjectedFailure | None = None
    ) -> None:
        self.refunds_may_wait.append(may_wait())
        self._inner.refund(scope, intent_id, amount, injected)


@dataclasses.dataclass
class World:
    api: Api
    deps: Dependencies
    processor: WatchedProcessor
    sleeps: list[float]


@contextmanager
def world_of(deps: Dependencies, key: str, limiter: RateLimiter | None = None) -> Iterator[World]:
    processor = WatchedProcessor(deps.processor)
    sleeps: list[float] = []
    watched = dataclasses.replace(deps, processor=processor, sleep=sleeps.append)
    with TestClient(build_app(watched, rate_limiter=limiter), base_url="http://testserver") as client:
        yield World(Api(client, key), watched, processor, sleeps)


@pytest.fixture
def world(deps: Dependencies) -> Iterator[World]:
    with world_of(deps, create_account(deps, "loop").sandbox_key) as made:
        yield made


def logged_refunds(world: World, intent_id: str) -> list[dict[str, Any]]:
    assert world.deps.request_log is not None
    world.deps.request_log.flush()
    listed = world.api.get("/sandbox/requests?limit=100")
    assert listed.status_code == 200, listed.text
    return [
        e
        for e in listed.json()["data"]
        if e["path"] == f"/payment-intents/{intent_id}/refunds" and e["method"] == "POST"
    ]


def assert_refunded_once(world: World, intent_id: str, amount: int) -> None:
    assert world.api.intent(intent_id)["refundedAmount"] == amount
    listed = world.api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    assert [r["amount"] for r in listed] == [amount]
    assert [e["status"] for e in logged_refunds(world, intent_id)] == [200]


@pytest.fixture
def held_writer(database_url: str) -> Iterator[Any]:
    """Hold, from another connection, what the next refund of ``intent_id`` must write through."""
    engine = make_engine(database_url, pool_size=1)
    threads: list[threading.Thread] = []

    def hold(intent_id: str) -> None:
        taken = threading.Event()

        def run() -> None:
            gate = write_gate(engine)
            if gate is not None:  # SQLite: the single writer's gate
                with gate.held():
                    taken.set()
                    time.sleep(HOLD_S)
                return
            with engine.begin() as conn:  # PostgreSQL: the intent's row
                conn.execute(
                    text("SELECT 1 FROM payment_intents WHERE id = :id FOR UPDATE"), {"id": intent_id}
                )
                taken.set()
                time.sleep(HOLD_S)

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        assert taken.wait(5)

    yield hold
    for thread in threads:
        thread.join()
    engine.dispose()


def test_a_refund_runs_on_the_event_loop(world: World) -> None:
    intent_id = world.api.captured_intent(1000)
    assert world.api.refund(intent_id, 300).status_code == 200
    assert world.processor.refunds_may_wait == [False]
    assert_refunded_once(world, intent_id, 300)


def test_a_slow_failure_gives_way_and_the_refund_reruns_once_on_a_thread(world: World) -> None:
    intent_id = world.api.captured_intent(1000)
    armed = world.api.post(
        f"/sandbox/payment-intents/{intent_id}/fail-next",
        {"operation": "refund", "outcome": "slow", "delayMs": 700},
    )
    assert armed.status_code == 200, armed.text
    answered = world.api.refund(intent_id, 300)
    assert answered.status_code == 200, answered.text
    assert world.sleeps == [0.7]  # waited once, on the thread
    assert world.processor.refunds_may_wait == [True]
    assert_refunded_once(world, intent_id, 300)


def test_a_held_writer_makes_the_refund_give_way_then_succeed_once(world: World, held_writer: Any) -> None:
    intent_id = world.api.captured_intent(1000)
    held_writer(intent_id)
    started = time.monotonic()
    answered = world.api.refund(intent_id, 300, key="held-1")
    assert answered.status_code == 200, answered.text
    assert time.monotonic() - started >= HOLD_S * 0.5  # it did wait for the writer, on a thread
    assert world.processor.refunds_may_wait == [True]
    assert_refunded_once(world, intent_id, 300)
    replayed = world.api.refund(intent_id, 300, key="held-1")
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.content == answered.content


def test_a_request_that_gave_way_takes_one_token_of_the_rate_limit(
    world: World, deps: Dependencies, held_writer: Any
) -> None:
    intent_id = world.api.captured_intent(1000)
    # The same key through an app allowing one request, refilled far slower than the test runs.
    with world_of(deps, world.api.key, RateLimiter(sandbox=RateLimit(0.001, 1))) as limited:
        held_writer(intent_id)
        answered = limited.api.refund(intent_id, 300)
        assert answered.status_code == 200, answered.text  # a second admission would be a 429
        assert limited.processor.refunds_may_wait == [True]
        assert limited.api.refund(intent_id, 100).status_code == 429  # the limit is really on
    assert world.api.intent(intent_id)["refundedAmount"] == 300
