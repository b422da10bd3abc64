"""API operations on the event loop, and what they do when they would wait (ADR 0011, 0012, 0014).

On both stores: a plain refund runs on the event loop (the processor sees a request that may not
wait). A refund that must pause (a sandbox "slow" failure) gives way before committing anything,
the pause is awaited on the loop (no thread held), and it runs again there, succeeding exactly
once: one refund, the amount added once, one entry in the request log, one token of the rate
limit. A refund that finds another writer
in its way (the SQLite gate held by another worker or by a thread, the intent's row locked on
PostgreSQL) pauses on the loop (SQLite) or waits suspended in its greenlet (PostgreSQL), and is
applied once when the writer lets go, or answers 503 after the lock timeout having changed nothing.
(That the loop serves other requests meanwhile: on SQLite here, on PostgreSQL in
tests/store/test_suspending.py.) On SQLite, a failed
group commit answers 503 and the retry applies once; answers are never logged by writing the log
from the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from payintents.adapters.sql import commit_group
from payintents.adapters.sql.engine import Timeouts, make_engine, write_gate
from payintents.adapters.sql.write_gate import WriteGate
from payintents.bootstrap import Settings, build_dependencies, migrate
from payintents.domain.intent import Scope
from payintents.domain.sandbox import InjectedFailure
from payintents.service import request_log
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.ports import Processor
from payintents.service.request_log import RequestLogBuffer
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

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    watched = dataclasses.replace(deps, processor=processor, sleep=sleep)
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


def assert_refunded_once(world: World, intent_id: str, amount: int, logged: list[int] | None = None) -> None:
    """One refund of ``amount``; the request log's refund entries, newest first, are ``logged``."""
    assert world.api.intent(intent_id)["refundedAmount"] == amount
    listed = world.api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    assert [r["amount"] for r in listed] == [amount]
    assert [e["status"] for e in logged_refunds(world, intent_id)] == (logged or [200])


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


def test_a_slow_failure_pauses_on_the_loop_and_the_refund_reruns_once_there(world: World) -> None:
    intent_id = world.api.captured_intent(1000)
    armed = world.api.post(
        f"/sandbox/payment-intents/{intent_id}/fail-next",
        {"operation": "refund", "outcome": "slow", "delayMs": 700},
    )
    assert armed.status_code == 200, armed.text
    answered = world.api.refund(intent_id, 300)
    assert answered.status_code == 200, answered.text
    assert world.sleeps == [0.7]  # paused once, awaited on the loop
    assert world.processor.refunds_may_wait == [False]  # and reran on the loop, not on a thread
    assert_refunded_once(world, intent_id, 300)


def test_a_held_writer_is_waited_out_on_the_loop_then_the_refund_applies_once(
    world: World, held_writer: Any
) -> None:
    # SQLite: another engine (as another worker would) holds the file lock; PostgreSQL: another
    # transaction holds the intent's row. The refund pauses on the loop, never moving to a thread.
    intent_id = world.api.captured_intent(1000)
    held_writer(intent_id)
    started = time.monotonic()
    answered = world.api.refund(intent_id, 300, key="held-1")
    assert answered.status_code == 200, answered.text
    assert time.monotonic() - started >= HOLD_S * 0.5  # it did wait for the writer
    assert world.processor.refunds_may_wait == [False]
    assert_refunded_once(world, intent_id, 300)
    replayed = world.api.refund(intent_id, 300, key="held-1")
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.content == answered.content


@contextmanager
def second_world(
    first: Dependencies,
    database_url: str,
    key: str,
    timeouts: Timeouts | None = None,
    limiter: RateLimiter | None = None,
) -> Iterator[World]:
    """A second app on the same database, with its own store (its own event loop, hence its own
    runner on PostgreSQL) and ``timeouts``, logging through ``first``'s request log, which does
    not drop an entry while a test holds the writer."""
    timeouts = timeouts or Timeouts()
    engine = make_engine(database_url, pool_size=2, timeouts=timeouts)
    second = build_dependencies(Settings(timeouts=timeouts), engine=engine)
    try:
        with world_of(dataclasses.replace(second, request_log=first.request_log), key, limiter) as world:
            yield world
    finally:
        engine.dispose()


def test_a_writer_held_past_the_lock_timeout_answers_503_and_changes_nothing(
    world: World, deps: Dependencies, database_url: str, held_writer: Any
) -> None:
    intent_id = world.api.captured_intent(1000)
    # The same key through an app whose store gives up on a held writer well before it lets go:
    # its lock timeout is a sixth of the hold (PAYINTENTS_DB_LOCK_TIMEOUT_MS, as an operator sets it).
    short_lock_wait = Timeouts(lock_ms=int(HOLD_S * 1000 / 6))
    with second_world(deps, database_url, world.api.key, short_lock_wait) as impatient:
        held_writer(intent_id)
        answered = impatient.api.refund(intent_id, 300, key="busy-1")
        assert answered.status_code == 503, answered.text
        assert answered.headers["retry-after"] == "1"
        assert impatient.processor.refunds_may_wait == []
    time.sleep(HOLD_S)  # the writer lets go: the same key now applies, once
    assert world.api.refund(intent_id, 300, key="busy-1").status_code == 200
    assert_refunded_once(world, intent_id, 300, logged=[200, 503])


def test_a_request_that_paused_and_reran_takes_one_token_of_the_rate_limit(
    world: World, deps: Dependencies, database_url: str
) -> None:
    intent_id = world.api.captured_intent(1000)
    armed = world.api.post(
        f"/sandbox/payment-intents/{intent_id}/fail-next",
        {"operation": "refund", "outcome": "slow", "delayMs": 100},
    )
    assert armed.status_code == 200, armed.text
    # The same key through an app allowing one request, refilled far slower than the test runs.
    one_request = RateLimiter(sandbox=RateLimit(0.001, 1))
    with second_world(deps, database_url, world.api.key, limiter=one_request) as limited:
        answered = limited.api.refund(intent_id, 300)
        assert answered.status_code == 200, answered.text  # a second admission would be a 429
        assert limited.sleeps == [0.1]  # it did pause and rerun
        assert limited.api.refund(intent_id, 100).status_code == 429  # the limit is really on
    assert world.api.intent(intent_id)["refundedAmount"] == 300


@dataclasses.dataclass
class SqliteWorld:
    world: World
    url: str
    engine: Engine


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[SqliteWorld]:
    """A SQLite app whose engine the test can reach (its write gate, its pool)."""
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    migrate(Settings(database_url=url))
    engine = make_engine(url)
    deps = build_dependencies(Settings(database_url=url), engine=engine)
    with world_of(deps, create_account(deps, "loop").sandbox_key) as world:
        yield SqliteWorld(world, url, engine)
    engine.dispose()


def refund_while_held(world: World, intent_id: str, gate: WriteGate) -> None:
    """Refund from another thread while ``gate`` is held for HOLD_S, then check it ran once."""
    with gate.held():
        answered: list[int] = []

        def call() -> None:
            answered.append(world.api.refund(intent_id, 300).status_code)

        request = threading.Thread(target=call)
        request.start()
        time.sleep(HOLD_S)  # the refund keeps pausing meanwhile; the loop stays free
        assert world.api.intent(intent_id)["refundedAmount"] == 0
    request.join(10)
    assert answered == [200]
    assert world.processor.refunds_may_wait == [False]  # it ran on the event loop
    assert_refunded_once(world, intent_id, 300)


def test_another_worker_writing_makes_a_refund_pause_on_the_loop_not_move_to_a_thread(
    sqlite_world: SqliteWorld,
) -> None:
    # "Another worker" is a second engine on the same file, holding the file lock.
    intent_id = sqlite_world.world.api.captured_intent(1000)
    other_worker = make_engine(sqlite_world.url, pool_size=1)
    gate = write_gate(other_worker)
    assert gate is not None
    refund_while_held(sqlite_world.world, intent_id, gate)
    other_worker.dispose()


def test_a_thread_writing_makes_a_refund_pause_on_the_loop_and_then_go_first(
    sqlite_world: SqliteWorld,
) -> None:
    # A thread of the same process (a rerun, the request-log writer) holds the app's own gate.
    intent_id = sqlite_world.world.api.captured_intent(1000)
    gate = write_gate(sqlite_world.engine)
    assert gate is not None
    refund_while_held(sqlite_world.world, intent_id, gate)


def test_a_failed_group_commit_answers_503_and_the_retry_applies_once(
    sqlite_world: SqliteWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sqlite_world.world
    intent_id = world.api.captured_intent(1000)
    real_commit = commit_group.CommitGroup._commit_transaction

    def failing_once(group: commit_group.CommitGroup) -> None:
        monkeypatch.setattr(commit_group.CommitGroup, "_commit_transaction", real_commit)
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(commit_group.CommitGroup, "_commit_transaction", failing_once)
    failed = world.api.refund(intent_id, 300, key="group-1")
    assert failed.status_code == 503, failed.text
    assert failed.json()["status"] == 503
    assert world.api.intent(intent_id)["refundedAmount"] == 0  # nothing of it was applied
    retried = world.api.refund(intent_id, 300, key="group-1")
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert world.api.intent(intent_id)["refundedAmount"] == 300
    assert [e["status"] for e in logged_refunds(world, intent_id)] == [200, 503]  # newest first


def test_answers_are_logged_without_a_blocking_flush_on_the_event_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every entry makes the buffer "full": a flush from the event loop's thread would queue for
    # the writer there (and on SQLite behind the loop's own group commit). On SQLite the loop may
    # write a batch only into its own commit group, which never waits (test_request_log_buffer).
    monkeypatch.setattr(request_log, "MAX_PENDING", 1)
    flushed_on_loop: list[bool] = []
    real_flush = RequestLogBuffer.flush

    def watched_flush(buffer: RequestLogBuffer) -> int:
        flushed_on_loop.append(running_loop_here())
        return real_flush(buffer)

    monkeypatch.setattr(RequestLogBuffer, "flush", watched_flush)
    intent_id = world.api.captured_intent(1000)
    for _ in range(3):
        assert world.api.refund(intent_id, 100).status_code == 200
    assert len(logged_refunds(world, intent_id)) == 3  # all logged, by a flush off the loop
    assert flushed_on_loop and not any(flushed_on_loop)


def running_loop_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
