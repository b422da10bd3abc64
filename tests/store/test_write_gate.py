"""The SQLite write gate (ADR 0010): one writer at a time across engines and processes, a clear
"busy" when the wait runs out, and never left closed after a failure."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError

from payintents.adapters.sql.engine import Timeouts, make_engine, write_gate
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.store import SqlUnitOfWork
from payintents.service.ports import StoreBusyError
from payintents.service.waiting import WouldWaitError, without_waiting

QUICK = Timeouts(lock_ms=300)


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return url


def test_a_writer_of_another_engine_waits_then_is_told_busy(database: str) -> None:
    # Two engines on one file have two gates but one lock file: as two worker processes would.
    holder, waiter = make_engine(database, timeouts=QUICK), make_engine(database, timeouts=QUICK)
    with SqlUnitOfWork(holder):
        started = time.monotonic()
        with pytest.raises(StoreBusyError), SqlUnitOfWork(waiter):
            pass
        assert time.monotonic() - started >= 0.25
    with SqlUnitOfWork(waiter) as uow:  # released: the next writer goes straight in
        uow.commit()


def test_a_waiting_writer_goes_in_as_soon_as_the_gate_opens(database: str) -> None:
    holder, waiter = make_engine(database), make_engine(database)
    entered = threading.Event()

    def write_later() -> None:
        with SqlUnitOfWork(waiter) as uow:
            uow.commit()
        entered.set()

    with SqlUnitOfWork(holder):
        thread = threading.Thread(target=write_later)
        thread.start()
        assert not entered.wait(0.3)  # held out while the first writer is inside
    thread.join(5)
    assert entered.is_set()


def test_work_on_the_event_loop_gives_way_at_once_instead_of_waiting(database: str) -> None:
    # ADR 0011: an event-loop request does not queue behind another writer; it reruns on a thread.
    holder, waiter = make_engine(database), make_engine(database)

    async def on_the_loop() -> None:
        with SqlUnitOfWork(holder):
            started = time.monotonic()
            with pytest.raises(WouldWaitError), without_waiting(), SqlUnitOfWork(waiter):
                pass
            assert time.monotonic() - started < 1.0  # not the 5 s lock timeout
            gate = write_gate(waiter)
            assert gate is not None and not gate._thread_lock.locked()
        with without_waiting() as work, SqlUnitOfWork(waiter) as uow:  # free: straight in
            uow.commit()
        await work.durable()

    asyncio.run(on_the_loop())


def test_readers_do_not_wait_for_the_gate(database: str) -> None:
    holder, reader = make_engine(database, timeouts=QUICK), make_engine(database, timeouts=QUICK)
    with SqlUnitOfWork(holder), SqlUnitOfWork(reader, read_only=True) as uow:
        assert uow.accounts.count() == 0


def test_a_failure_while_opening_never_leaves_the_gate_closed(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database, timeouts=QUICK)
    real_connect = engine.connect

    def broken() -> object:
        raise DatabaseError("connect", {}, Exception("file is not a database"))

    monkeypatch.setattr(engine, "connect", broken)
    with pytest.raises(DatabaseError), SqlUnitOfWork(engine):
        pass
    gate = write_gate(engine)
    assert gate is not None and not gate._thread_lock.locked()  # nobody holds it any more
    monkeypatch.setattr(engine, "connect", real_connect)
    with SqlUnitOfWork(engine) as uow:
        uow.commit()


def test_postgres_engines_have_no_gate() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    assert write_gate(engine) is None
