"""The SQLite transaction runner: the units of work waiting at one moment share one commit.

SQLite has a single writer, and each commit with ``synchronous=FULL`` waits for the disk. So a
batch takes every unit of work waiting at that moment (up to ``MAX_BATCH``) into one transaction,
each unit in a savepoint of its own (a unit that raises is rolled back to its savepoint, alone),
and commits them with one commit and one fsync (ADR 0012); a batch of units that all asked for a
non-durable write commits without the fsync, on the loop (ADR 0030). A unit's ``write`` returns
only once that commit is done; if the commit fails, every unit of the batch fails with
StoreBusyError and nothing of any of them was applied. While one batch commits, the next one gathers.

Where each part runs (measured, docs/performance.md "The explicit write path's runners"): the units run on
the event loop, a few hundred microseconds of statements on a local file, which saves a thread
hop and the fight for the GIL a writer thread had; the commit, which waits for the disk, runs on
a worker thread. The batch first takes the write gate (write_gate.py), so it takes turns with the
other threads of its process that write through ``Dependencies.uow`` (request log, workers,
dashboard, CLI) and with other worker processes; it asks without waiting and, while the gate is
held elsewhere, tries again after an asynchronous pause, so the loop never waits for another
writer. Threads queued for the gate go first. Reads are a read-only unit (a WAL snapshot, no lock)
run straight on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from payintents.adapters.sql.unit_of_work import Savepoint, SqlUnitOfWork
from payintents.adapters.sql.write_gate import WriteGate
from payintents.service.ports import StoreBusyError, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
log = logging.getLogger("payintents.store")

# Units in one transaction at most: bounds how long one batch holds the database.
MAX_BATCH = 64
# While another writer holds the gate, the batch asks again after a pause doubling from the first
# to the longest (a write transaction takes about a millisecond).
FIRST_PAUSE_S = 0.0002
LONGEST_PAUSE_S = 0.002


@dataclass(slots=True)
class _Unit:
    work: Callable[[UnitOfWork], Any]
    done: asyncio.Future[Any]
    durable: bool
    # What the unit returned, or what it raised.
    result: Any = None
    failure: BaseException | None = None


class SqliteTransactions:
    """Writes in batches, each one transaction and one commit; reads on the event loop."""

    def __init__(self, engine: Engine, gate: WriteGate, reader: UnitOfWorkFactory) -> None:
        self._engine = engine
        self._gate = gate
        self._reader = reader
        # Per event loop (tests run several): its waiting units, and the task writing them.
        self._waiting: dict[asyncio.AbstractEventLoop, deque[_Unit]] = {}
        self._writing: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def write(self, work: Callable[[UnitOfWork], T], *, durable: bool = True) -> T:
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop.create_future(), durable)
        self._waiting.setdefault(loop, deque()).append(unit)
        if loop not in self._writing:
            self._writing[loop] = loop.create_task(self._write_batches(loop))
        # Shielded: a cancelled request must not cancel a unit its batch may be committing.
        result: T = await asyncio.shield(unit.done)
        return result

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        with self._reader() as uow:
            return work(uow)

    async def look_up(self, work: Callable[[], T]) -> T:
        return work()

    def close(self) -> None:
        """Nothing to stop: a batch runs only while units wait, and answers them all."""

    async def _write_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting[loop]
        try:
            while waiting:
                await self._hold_gate()
                try:
                    batch = [waiting.popleft() for _ in range(min(MAX_BATCH, len(waiting)))]
                    await self._write(batch)
                finally:
                    self._gate.release()
                _answer(batch)
        except StoreBusyError as busy:  # the gate stayed closed for the lock timeout
            for unit in waiting:
                unit.failure = busy
            _answer(list(waiting))
            waiting.clear()
        finally:
            del self._writing[loop], self._waiting[loop]

    async def _hold_gate(self) -> None:
        busy_at = time.monotonic() + self._gate.timeout_s
        pause_s = FIRST_PAUSE_S
        while not self._gate.try_hold():
            if time.monotonic() >= busy_at:
                raise StoreBusyError("another writer held the database for too long")
            await asyncio.sleep(pause_s)
            pause_s = min(2 * pause_s, LONGEST_PAUSE_S)

    async def _write(self, batch: list[_Unit]) -> None:
        try:
            # The gate is held: BEGIN IMMEDIATE finds the write lock free. The batch's commit
            # syncs the log if any of its units asked for a durable write.
            durable = any(unit.durable for unit in batch)
            with SqlUnitOfWork(self._engine, durable=durable) as transaction:
                savepoint = Savepoint(transaction.connection)
                for unit in batch:
                    _run(unit, savepoint)
                if durable:
                    # The commit waits for the disk: on a thread, while the loop serves others.
                    await asyncio.to_thread(transaction.commit)
                else:
                    # Nothing to wait for (the log is written, not synced): a thread hop would
                    # cost more than the commit.
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


def _answer(units: list[_Unit]) -> None:
    for unit in units:
        if unit.done.done():
            continue
        if unit.failure is not None:
            unit.done.set_exception(unit.failure)
        else:
            unit.done.set_result(unit.result)
