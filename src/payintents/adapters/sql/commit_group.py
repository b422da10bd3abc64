"""SQLite group commit: the write units of work of one turn of the event loop share one commit.

A SQLite commit with ``synchronous=FULL`` waits for the disk (an fsync), and on the event loop that
wait was about 30 % of a worker's time under load. Requests that run on the event loop (ADR 0011)
therefore do not commit one by one. The first write of a loop turn takes the write gate, opens the
group's transaction and schedules the group's commit for the next turn (``call_soon``); every
write unit of work until then runs inside it as a savepoint, released on its commit and rolled back
to on failure, as a transaction of its own would be. Each of those requests answers only once the
group's commit is durable (``EventLoopWork.durable``); if that commit fails, every one of them
answers 503 and nothing of any of them was applied (ADR 0012).

Only the event loop's thread touches a group, so it needs no lock. PostgreSQL has no group: its
own commits overlap.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack

from sqlalchemy import Connection, Engine

from payintents.adapters.sql.prepared import run_driver_sql
from payintents.adapters.sql.write_gate import WriteGate
from payintents.service.ports import StoreBusyError

log = logging.getLogger("payintents.store")

# The open group of each (event loop, engine); tests run several loops in one process.
_OPEN: dict[tuple[asyncio.AbstractEventLoop, Engine], CommitGroup] = {}


class CommitGroup:
    """One SQLite write transaction shared by the event-loop requests of one loop turn."""

    def __init__(self, engine: Engine, gate: WriteGate, loop: asyncio.AbstractEventLoop) -> None:
        self._key = (loop, engine)
        self._held = ExitStack()
        # May raise WouldWaitError: nothing is open yet, so the request simply tries again later.
        self._held.enter_context(gate.held())
        try:
            self.connection: Connection = self._held.enter_context(engine.connect())
            self._tx = self.connection.begin()
        except BaseException:
            self._held.close()
            raise
        self.durable: asyncio.Future[None] = loop.create_future()
        # Each member awaits this; retrieving it here too keeps a failure nobody awaited quiet.
        self.durable.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.broken = False
        self._members = 0
        loop.call_soon(self._commit)

    def savepoint(self) -> MemberSavepoint:
        """A new member's own savepoint in the group's transaction."""
        self._members += 1
        return MemberSavepoint(self.connection, f"member_{self._members}")

    def check_still_open(self) -> None:
        """After a member ended: some SQLite errors roll back the whole transaction, after which
        later statements would run outside it. Then the group must not commit anything."""
        try:
            driver = self.connection.connection.driver_connection
            still_open = bool(getattr(driver, "in_transaction", False))
        except Exception:
            still_open = False  # the connection itself is gone
        if not still_open:
            self.broken = True

    def _commit(self) -> None:
        _OPEN.pop(self._key, None)
        try:
            if self.broken:
                raise StoreBusyError("a write of this commit group failed and took the transaction with it")
            self._commit_transaction()
        except Exception as exc:
            log.warning("group commit failed; every request in it answers 503: %s", exc)
            self._abandon()
            busy = exc if isinstance(exc, StoreBusyError) else StoreBusyError("the database could not commit")
            self.durable.set_exception(busy)
        else:
            self.durable.set_result(None)
        finally:
            if not self.durable.done():  # only if something beyond Exception interrupted us
                self.durable.set_exception(StoreBusyError("the group commit was interrupted"))
            self._held.close()

    def _commit_transaction(self) -> None:
        self._tx.commit()

    def _abandon(self) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        except Exception:
            log.exception("rolling back a failed commit group")


class MemberSavepoint:
    """One member's savepoint, sent to the driver directly: SQLAlchemy's ``begin_nested`` and
    its commit cost ~150 µs a member, 50 times the two statements themselves."""

    def __init__(self, connection: Connection, name: str) -> None:
        self._connection = connection
        self._name = name
        run_driver_sql(connection, f"SAVEPOINT {name}")
        self.is_active = True

    def commit(self) -> None:
        self.is_active = False
        run_driver_sql(self._connection, f"RELEASE {self._name}")

    def rollback(self) -> None:
        self.is_active = False
        run_driver_sql(self._connection, f"ROLLBACK TO {self._name}")
        run_driver_sql(self._connection, f"RELEASE {self._name}")


def join_group(engine: Engine, gate: WriteGate) -> CommitGroup:
    """The group this loop turn's writes share, opened by the first of them."""
    loop = asyncio.get_running_loop()
    group = _OPEN.get((loop, engine))
    if group is None:
        group = CommitGroup(engine, gate, loop)
        _OPEN[(loop, engine)] = group
    if group.broken:
        raise StoreBusyError("the database failed a write of this moment; retry shortly")
    return group
