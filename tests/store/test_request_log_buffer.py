"""The sandbox request log's write buffer, on both real stores: entries reach the table in
batches, in order, through an explicit flush, the background writer, or back-pressure; a busy
store drops a batch with a warning instead of failing the request that added to it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.intent import Environment, Scope
from payintents.service import request_log
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.ports import (
    RequestLogEntry,
    RequestQuery,
    StoreBusyError,
    UnitOfWork,
    UnitOfWorkFactory,
)
from payintents.service.request_log import RequestLogBuffer
from payintents.service.waiting import without_waiting
from payintents.web.app import build_app

NEVER_S = 3600.0
Buffers = Callable[..., RequestLogBuffer]


def entry(n: int) -> RequestLogEntry:
    return RequestLogEntry(
        trace_id=f"trace-{n}", at=datetime.now(UTC), method="GET", path=f"/payment-intents/pi_{n}",
        status=200, duration_ms=1, idempotency_key=None, replayed=False, payment_intent_id=None,
        request_body="", response_body="{}",
    )  # fmt: skip


def logged_paths(deps: Dependencies, scope: Scope) -> list[str]:
    with deps.read() as uow:
        entries = uow.sandbox.list_requests(scope, RequestQuery(limit=100))
    return [e.path for e in reversed(entries)]  # the store lists newest first


@pytest.fixture
def buffers() -> Iterator[Buffers]:
    """Buffers made by a test, closed after it (no writer thread outlives its test)."""
    made: list[RequestLogBuffer] = []

    def make(uow: UnitOfWorkFactory, interval_s: float, **options: bool) -> RequestLogBuffer:
        made.append(RequestLogBuffer(uow, interval_s=interval_s, **options))
        return made[-1]

    yield make
    for buffer in made:
        buffer.close()


@pytest.fixture
def scope(deps: Dependencies) -> Scope:
    return Scope(create_account(deps, "log").account_id, Environment.SANDBOX)


def test_flush_writes_waiting_entries_in_order(deps: Dependencies, scope: Scope, buffers: Buffers) -> None:
    buffer = buffers(deps.uow, NEVER_S)
    for n in range(5):
        buffer.add(scope, entry(n))
    assert logged_paths(deps, scope) == []
    assert buffer.flush() == 5
    assert logged_paths(deps, scope) == [f"/payment-intents/pi_{n}" for n in range(5)]
    assert buffer.flush() == 0


def test_the_background_writer_writes_without_being_asked(
    deps: Dependencies, scope: Scope, buffers: Buffers
) -> None:
    buffer = buffers(deps.uow, 0.01)
    buffer.add(scope, entry(1))
    deadline = time.monotonic() + 10
    while not logged_paths(deps, scope) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert logged_paths(deps, scope) == ["/payment-intents/pi_1"]


def test_a_full_buffer_is_written_by_the_request_that_fills_it(
    deps: Dependencies, scope: Scope, monkeypatch: pytest.MonkeyPatch, buffers: Buffers
) -> None:
    monkeypatch.setattr(request_log, "MAX_PENDING", 3)
    buffer = buffers(deps.uow, NEVER_S)
    buffer.add(scope, entry(1))
    buffer.add(scope, entry(2))
    assert logged_paths(deps, scope) == []
    buffer.add(scope, entry(3))
    assert len(logged_paths(deps, scope)) == 3


def test_a_full_buffer_is_left_to_the_writer_on_the_event_loop(
    deps: Dependencies, scope: Scope, monkeypatch: pytest.MonkeyPatch, buffers: Buffers
) -> None:
    # The endpoint logs an answer on the event loop's thread, where nothing may queue for the
    # writer (ADR 0011): adding there only adds, whatever the buffer's size.
    monkeypatch.setattr(request_log, "MAX_PENDING", 2)
    buffer = buffers(deps.uow, NEVER_S)

    async def on_the_loop() -> None:
        buffer.add(scope, entry(1))
        buffer.add(scope, entry(2))

    asyncio.run(on_the_loop())
    assert logged_paths(deps, scope) == []
    assert buffer.flush() == 2  # nothing was lost: the next flush writes both


def test_a_busy_store_drops_the_batch_with_a_warning(
    deps: Dependencies, scope: Scope, caplog: pytest.LogCaptureFixture, buffers: Buffers
) -> None:
    def busy() -> UnitOfWork:
        raise StoreBusyError("busy")

    buffer = buffers(busy, NEVER_S)
    buffer.add(scope, entry(1))
    with caplog.at_level(logging.WARNING, logger="payintents.request_log"):
        assert buffer.flush() == 0
    assert "1 entries dropped" in caplog.text
    assert buffer.flush() == 0  # dropped, not retried forever


def test_close_stops_the_writer_and_writes_what_is_left(
    deps: Dependencies, scope: Scope, buffers: Buffers
) -> None:
    buffer = buffers(deps.uow, NEVER_S)
    buffer.add(scope, entry(1))
    writer = buffer._writer
    assert writer is not None and writer.is_alive()
    buffer.close()
    assert not writer.is_alive()
    assert logged_paths(deps, scope) == ["/payment-intents/pi_1"]


def test_the_app_writes_the_log_when_it_shuts_down(deps: Dependencies) -> None:
    slow = dataclasses.replace(deps, request_log=RequestLogBuffer(deps.uow, interval_s=NEVER_S))
    account = create_account(slow, "shutdown")
    with TestClient(build_app(slow)) as client:
        key = {"Authorization": f"Basic {account.sandbox_key}", "Version": "2024-02-05"}
        answer = client.get("/payment-intents/pi_x", headers=key)
        assert answer.status_code == 404, answer.text
        scope = Scope(account.account_id, Environment.SANDBOX)
        with deps.read() as uow:  # not through the service: that would flush first
            assert uow.sandbox.list_requests(scope, RequestQuery(limit=10)) == []
    assert logged_paths(deps, scope) == ["/payment-intents/pi_x"]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite store, whose event-loop writes share one commit per loop turn (ADR 0012)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}", pool_size=2)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_deps(sqlite_engine: Engine) -> Dependencies:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    return build_dependencies(Settings(database_url=url), engine=sqlite_engine)


@dataclasses.dataclass(frozen=True)
class LoopLog:
    """A sandbox scope on SQLite and a buffer that writes batches into commit groups."""

    deps: Dependencies
    scope: Scope
    buffer: RequestLogBuffer


@pytest.fixture
def loop_log(
    sqlite_deps: Dependencies, buffers: Buffers, monkeypatch: pytest.MonkeyPatch
) -> Callable[[int], LoopLog]:
    def make(batch: int) -> LoopLog:
        monkeypatch.setattr(request_log, "EVENT_LOOP_BATCH", batch)
        scope = Scope(create_account(sqlite_deps, "loop").account_id, Environment.SANDBOX)
        return LoopLog(sqlite_deps, scope, buffers(sqlite_deps.uow, NEVER_S, joins_commit_groups=True))

    return make


def one_turn(log: LoopLog, entries: list[RequestLogEntry], account_id: str | None = None) -> None:
    """One event-loop turn: a request's own write (if ``account_id``), then entries logged."""

    async def turn() -> None:
        if account_id is not None:
            with without_waiting(), log.deps.uow() as uow:
                uow.accounts.add(account_id, account_id, [], datetime.now(UTC))
                uow.commit()
        for logged in entries:
            log.buffer.add(log.scope, logged)
        await asyncio.sleep(0)  # the turn ends: its commit group commits
        await asyncio.sleep(0)

    asyncio.run(turn())


def test_with_commit_groups_the_event_loop_writes_a_batch_into_its_turns_commit(
    loop_log: Callable[[int], LoopLog],
) -> None:
    log = loop_log(3)
    one_turn(log, [entry(n) for n in range(4)])
    # The third entry filled the batch and wrote it; the fourth waits for the next batch.
    assert logged_paths(log.deps, log.scope) == [f"/payment-intents/pi_{n}" for n in range(3)]
    assert log.buffer.flush() == 1


def test_with_commit_groups_a_batch_stays_waiting_while_another_writer_holds_the_database(
    loop_log: Callable[[int], LoopLog],
) -> None:
    log = loop_log(2)
    held, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with log.deps.uow():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        held.wait(10)
        one_turn(log, [entry(n) for n in range(3)])  # the loop never waits: the batch goes back
    finally:
        release.set()
        holder.join()
    assert logged_paths(log.deps, log.scope) == []
    assert log.buffer.flush() == 3
    assert logged_paths(log.deps, log.scope) == [f"/payment-intents/pi_{n}" for n in range(3)]


def test_with_commit_groups_a_batch_shares_its_turns_transaction_with_that_turns_writes(
    loop_log: Callable[[int], LoopLog], sqlite_engine: Engine
) -> None:
    log = loop_log(2)
    statements: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    one_turn(log, [entry(0), entry(1)], account_id="acc_turn")
    assert [sql for sql in statements if sql.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]  # one transaction
    assert logged_paths(log.deps, log.scope) == ["/payment-intents/pi_0", "/payment-intents/pi_1"]
    with log.deps.read() as uow:
        assert uow.accounts.count() == 2  # the turn's own write committed with the batch


def test_with_commit_groups_a_failing_batch_leaves_the_turns_other_writes_committed(
    loop_log: Callable[[int], LoopLog], caplog: pytest.LogCaptureFixture
) -> None:
    log = loop_log(1)
    unstorable = dataclasses.replace(entry(0), method=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="payintents.request_log"):
        one_turn(log, [unstorable], account_id="acc_kept")  # its savepoint fails and rolls back alone
    assert "1 entries could not be written" in caplog.text
    with log.deps.read() as uow:
        assert uow.accounts.count() == 2  # the request's own write was committed
    assert logged_paths(log.deps, log.scope) == []


def test_with_commit_groups_the_background_writer_leaves_entries_to_a_busy_loop(
    loop_log: Callable[[int], LoopLog],
) -> None:
    log = loop_log(2)
    one_turn(log, [entry(n) for n in range(3)])  # the loop wrote a batch of two; one waits
    assert log.buffer.write_if_quiet(quiet_s=60) == 0  # the loop is busy: it will take it
    assert logged_paths(log.deps, log.scope) == ["/payment-intents/pi_0", "/payment-intents/pi_1"]
    time.sleep(0.05)
    assert log.buffer.write_if_quiet(quiet_s=0.01) == 1  # a quiet moment: the writer takes it
    assert logged_paths(log.deps, log.scope) == [f"/payment-intents/pi_{n}" for n in range(3)]


def test_without_commit_groups_the_background_writer_always_writes(
    deps: Dependencies, scope: Scope, buffers: Buffers
) -> None:
    # The contrast for the test above: nothing else writes the entries, so nothing is left.
    buffer = buffers(deps.uow, NEVER_S)
    buffer.add(scope, entry(1))
    assert buffer.write_if_quiet(quiet_s=60) == 1
