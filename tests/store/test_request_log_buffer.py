"""The sandbox request log's write buffer, on both real stores: entries reach the table in
batches, in order, through an explicit flush, the background writer, or back-pressure; a busy
store drops a batch with a warning instead of failing the request that added to it."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from payintents.domain.intent import Environment, Scope
from payintents.service import request_log_buffer
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.ports import (
    RequestLogEntry,
    RequestQuery,
    StoreBusyError,
    UnitOfWork,
    UnitOfWorkFactory,
)
from payintents.service.request_log_buffer import RequestLogBuffer
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

    def make(uow: UnitOfWorkFactory, interval_s: float) -> RequestLogBuffer:
        made.append(RequestLogBuffer(uow, interval_s=interval_s))
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


def test_a_full_buffer_wakes_the_writer_at_once_and_adding_never_writes(
    deps: Dependencies, scope: Scope, monkeypatch: pytest.MonkeyPatch, buffers: Buffers
) -> None:
    # Requests log on the event loop, where nothing may wait for the store: adding only adds,
    # and a full buffer has the background writer write now rather than at its next interval.
    monkeypatch.setattr(request_log_buffer, "MAX_PENDING", 3)
    buffer = buffers(deps.uow, NEVER_S)
    writers: list[int] = []
    real_write = buffer._write
    monkeypatch.setattr(
        buffer, "_write", lambda batch: writers.append(threading.get_ident()) or real_write(batch)
    )
    for n in range(3):
        buffer.add(scope, entry(n))
    deadline = time.monotonic() + 10
    while len(logged_paths(deps, scope)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert logged_paths(deps, scope) == [f"/payment-intents/pi_{n}" for n in range(3)]
    assert writers and threading.get_ident() not in writers  # written by the writer, not by add


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
