"""The SQLite write gate (ADR 0010): one writer at a time across engines and processes, a clear
"busy" when the wait runs out, and never left closed after a failure."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError

from payintents.adapters.sql.engine import Timeouts, make_engine, make_write_gate
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.adapters.sql.write_gate import WriteGate
from payintents.service.ports import StoreBusyError

QUICK = Timeouts(lock_ms=300)


def gated(url: str, timeouts: Timeouts | None = None) -> tuple[Engine, WriteGate]:
    """An engine and its gate, as one worker process has them."""
    engine = make_engine(url, timeouts=timeouts)
    gate = make_write_gate(engine, timeouts)
    assert gate is not None
    return engine, gate


def opens_at_once(gate: WriteGate) -> bool:
    held = threading.Event()

    def take() -> None:
        with gate.held():
            held.set()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(1)
    return held.is_set()


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return url


def test_a_writer_of_another_engine_waits_then_is_told_busy(database: str) -> None:
    # Two engines on one file have two gates but one lock file: as two worker processes would.
    (holder, holder_gate), (waiter, waiter_gate) = gated(database, QUICK), gated(database, QUICK)
    with SqlUnitOfWork(holder, gate=holder_gate):
        started = time.monotonic()
        with pytest.raises(StoreBusyError), SqlUnitOfWork(waiter, gate=waiter_gate):
            pass
        assert time.monotonic() - started >= 0.25
    with SqlUnitOfWork(waiter, gate=waiter_gate) as uow:  # released: the next writer goes straight in
        uow.commit()


def test_a_waiting_writer_goes_in_as_soon_as_the_gate_opens(database: str) -> None:
    (holder, holder_gate), (waiter, waiter_gate) = gated(database), gated(database)
    entered = threading.Event()

    def write_later() -> None:
        with SqlUnitOfWork(waiter, gate=waiter_gate) as uow:
            uow.commit()
        entered.set()

    with SqlUnitOfWork(holder, gate=holder_gate):
        thread = threading.Thread(target=write_later)
        thread.start()
        assert not entered.wait(0.3)  # held out while the first writer is inside
    thread.join(5)
    assert entered.is_set()


def test_threads_of_one_process_take_the_gate_in_order_of_arrival(database: str) -> None:
    # The event loop writes batch after batch; a thread that queued meanwhile goes next.
    _, gate = gated(database)
    order: list[str] = []
    with gate.held():
        waiter = threading.Thread(target=lambda: gate_then(gate, order, "queued thread"))
        waiter.start()
        time.sleep(0.1)  # it waits for the gate now
    gate_then(gate, order, "releaser again")
    waiter.join(5)
    assert order == ["queued thread", "releaser again"]


def gate_then(gate: WriteGate, order: list[str], name: str) -> None:
    with gate.held():
        order.append(name)


def test_readers_do_not_wait_for_the_gate(database: str) -> None:
    (holder, gate), reader = gated(database, QUICK), make_engine(database, timeouts=QUICK)
    with SqlUnitOfWork(holder, gate=gate), SqlUnitOfWork(reader, read_only=True) as uow:
        assert uow.accounts.count() == 0


def test_a_failure_while_opening_never_leaves_the_gate_closed(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, gate = gated(database, QUICK)
    real_connect = engine.connect

    def broken() -> object:
        raise DatabaseError("connect", {}, Exception("file is not a database"))

    monkeypatch.setattr(engine, "connect", broken)
    with pytest.raises(DatabaseError), SqlUnitOfWork(engine, gate=gate):
        pass
    assert opens_at_once(gate)  # nobody holds it any more
    monkeypatch.setattr(engine, "connect", real_connect)
    with SqlUnitOfWork(engine, gate=gate) as uow:
        uow.commit()


def test_postgres_engines_have_no_gate() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    assert make_write_gate(engine) is None
