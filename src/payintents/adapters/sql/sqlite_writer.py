"""The SQLite transaction runner: one writer thread that commits the waiting units of work together.

SQLite has a single writer, and each commit with ``synchronous=FULL`` waits for the disk. So the
writer thread takes every unit of work waiting at that moment (up to ``MAX_BATCH``) into one
transaction, each unit in a savepoint of its own (a unit that raises is rolled back to its
savepoint, alone), and commits them with one commit and one fsync (ADR 0012). A unit's ``write``
returns only once that commit is durable; if the commit fails, every unit of the batch fails with
StoreBusyError and nothing of any of them was applied. While one batch commits, the next gathers.

The writer takes the write gate (write_gate.py) for each batch, so it takes turns with the other
threads of its process that write through ``Dependencies.uow`` (request log, workers, dashboard,
CLI) and with other worker processes. All that waiting happens on the writer thread: the event
loop only queues units and awaits their futures. Reads are a read-only unit (a WAL snapshot, no
lock) run straight on the event loop: a few hundred microseconds, cheaper than a thread hop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from payintents.adapters.sql.store import Savepoint, SqlUnitOfWork
from payintents.adapters.sql.write_gate import WriteGate
from payintents.service.ports import StoreBusyError, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
log = logging.getLogger("payintents.store")

# Units in one transaction at most: bounds how long one batch holds the database.
MAX_BATCH = 64
# A writer thread with nothing to write for this long ends; the next write starts another.
IDLE_S = 5.0


@dataclass(slots=True)
class _Unit:
    work: Callable[[UnitOfWork], Any]
    done: asyncio.Future[Any]
    # What the unit returned, or what it raised; set by the writer thread.
    result: Any = None
    failure: BaseException | None = None


class SqliteTransactions:
    """Writes through one writer thread in batches; reads on the caller's event loop."""

    def __init__(self, engine: Engine, gate: WriteGate, reader: UnitOfWorkFactory) -> None:
        self._engine = engine
        self._gate = gate
        self._reader = reader
        self._queue: deque[_Unit] = deque()
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closing = False

    async def write(self, work: Callable[[UnitOfWork], T]) -> T:
        unit = _Unit(work, asyncio.get_running_loop().create_future())
        with self._wake:
            if self._closing:
                raise StoreBusyError("the server is shutting down")
            self._queue.append(unit)
            if self._writer is None:
                # Started by the first write, so each server worker process has its own.
                self._writer = threading.Thread(target=self._write_batches, name="sqlite-writer", daemon=True)
                self._writer.start()
            self._wake.notify()
        # Shielded: a cancelled request must not cancel a unit the writer may be committing.
        result: T = await asyncio.shield(unit.done)
        return result

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        with self._reader() as uow:
            return work(uow)

    async def look_up(self, work: Callable[[], T]) -> T:
        return work()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread (a later write starts a new one)."""
        with self._wake:
            self._closing = True
            writer = self._writer
            self._wake.notify()
        if writer is not None:
            writer.join()
        with self._wake:
            self._closing, self._writer = False, None

    def _write_batches(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._queue) or self._closing, IDLE_S)
                if not self._queue:
                    if not self._closing:
                        self._writer = None  # idle: under the lock, so a new write starts another
                    return
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            self._write(batch)
            _settle(batch)

    def _write(self, batch: list[_Unit]) -> None:
        try:
            with SqlUnitOfWork(self._engine, gate=self._gate) as transaction:
                savepoint = Savepoint(transaction.connection)
                for unit in batch:
                    _run(unit, savepoint)
                transaction.commit()
        except Exception as exc:
            log.warning("a batch of %d writes failed to commit; each answers busy: %s", len(batch), exc)
            busy = exc if isinstance(exc, StoreBusyError) else StoreBusyError("the database could not commit")
            for unit in batch:
                if unit.failure is None:
                    unit.failure = busy


def _run(unit: _Unit, savepoint: Savepoint) -> None:
    """One unit in its own savepoint: released when it returns, rolled back to when it raises."""
    try:
        with SqlUnitOfWork(savepoint.connection.engine, within=savepoint) as uow:
            unit.result = unit.work(uow)
            uow.commit()
    except Exception as exc:
        unit.failure = exc
    if not savepoint.transaction_open():
        # Some SQLite errors roll back the whole transaction; what follows would run outside it.
        raise StoreBusyError("a write of this batch failed and took the transaction with it")


def _settle(batch: list[_Unit]) -> None:
    """Hand each unit's outcome to the event loop that waits for it."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Unit]] = {}
    for unit in batch:
        by_loop.setdefault(unit.done.get_loop(), []).append(unit)
    for loop, units in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, units)
        except RuntimeError:
            log.warning("%d writes finished after their event loop closed", len(units))


def _resolve(units: list[_Unit]) -> None:
    for unit in units:
        if unit.done.done():
            continue
        if unit.failure is not None:
            unit.done.set_exception(unit.failure)
        else:
            unit.done.set_result(unit.result)
