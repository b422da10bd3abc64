"""PostgreSQL work on the event loop that waits for the database without stalling the loop.

The store is synchronous (ADR 0005) and the quick API operations run on the event loop (ADR 0011).
On PostgreSQL each of a refund's statements is a network round trip, and a synchronous driver makes
the whole worker wait for every one of them: measured, a worker spent most of its time waiting
with nothing else to do. Here the same synchronous use-case code runs inside a greenlet
(SQLAlchemy's ``greenlet_spawn``) on an engine of psycopg's asynchronous driver: each wait for
the database suspends that request's greenlet and the loop serves other requests meanwhile, so a
worker has up to ``pool_size`` writes and as many reads in flight (ADR 0014).

Outside such a greenlet (worker threads, background workers) the ordinary synchronous engine
serves; ``engine_here`` picks one of the two.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.util.concurrency import greenlet_spawn, in_greenlet

from payintents.adapters.sql.engine import (
    Timeouts,
    equip_postgres_engine,
    postgres_engine_options,
    postgres_made_with,
)
from payintents.service.ports import StoreBusyError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class SuspendingRunner:
    """Runs synchronous work on the event loop, its database waits suspending only itself.

    A runner serves one event loop, the first that uses it (its pool's connections belong there).
    """

    def __init__(self, url: str, *, pool_size: int, timeouts: Timeouts) -> None:
        # Imported here: it brings SQLAlchemy's ORM (about 0.1 s), which SQLite never needs.
        from sqlalchemy.ext.asyncio import create_async_engine

        url_, options = postgres_engine_options(url, pool_size, timeouts)
        # As many connections as the engine for threads may open (pool_size plus as many overflow),
        # all kept: a worker's admitted reads and writes use them all under load, and a pool that
        # closed its overflow connections on return made and closed connections for every few
        # requests (measured: a quarter of the throughput).
        options.update(pool_size=2 * pool_size, max_overflow=0)
        self._engine: AsyncEngine = create_async_engine(
            url_.set(drivername="postgresql+psycopg_async"), **options
        )
        equip_postgres_engine(self._engine.sync_engine)
        self._pool_size = pool_size
        # Waiting to be admitted is waiting for the store: as long as a lock, then "busy" (503).
        self._admission_wait_s = timeouts.lock_ms / 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._admission: _Admission | None = None

    @property
    def engine(self) -> Engine:
        """The engine to use inside ``run``: synchronous calls, asynchronous waits."""
        return self._engine.sync_engine

    async def run(self, work: Callable[..., T], *args: Any, writes: bool = True) -> T:
        """Run ``work(*args)`` once admitted among the worker's writes (or, ``writes=False``, its
        reads): at most ``pool_size`` of each at once, in order of arrival. StoreBusyError if not
        admitted within the lock timeout."""
        admission = self._admitting()
        permits = admission.writes if writes else admission.reads
        await _within(self._admission_wait_s, permits)
        try:
            return await greenlet_spawn(work, *args)
        finally:
            permits.release()

    def in_turn(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold ``key``'s turn: whoever asks for the same key meanwhile waits, in order, up to the
        lock timeout (then StoreBusyError). Without a bound the k-th of k writes queued behind a
        row another session holds would answer only after k lock timeouts."""
        return self._admitting().turn(key, self._admission_wait_s)

    def _admitting(self) -> _Admission:
        loop = asyncio.get_running_loop()
        if self._admission is None:
            self._loop, self._admission = loop, _Admission(self._pool_size)
        elif loop is not self._loop:
            raise RuntimeError("a SuspendingRunner serves the one event loop that first used it")
        return self._admission

    async def close(self) -> None:
        await self._engine.dispose()


class _Admission:
    """Which work may start now, in order of arrival.

    Writes and reads (authentication, GET, search) are admitted separately, at most ``pool_size``
    of each at once: together they never need more than the runner's pool holds, so nobody waits
    for the pool, whose wait is not fair (a returned connection can go to a newcomer before the
    request that waited: measured, that starved requests on a hot intent until the 5 s pool
    timeout answered 503). And a write waiting for a row another session holds (up to the lock
    timeout) delays other writes at worst, never reads or authentication.

    Work on one key (writes to one payment intent) takes turns: a second write to a row waits here,
    not in PostgreSQL's lock queue holding a connection, where the holder's lock would last as long
    as the loop takes to come back to it after each of its statements (measured on one hot intent,
    two workers: 390 against 452–508 refunds/s).
    """

    def __init__(self, pool_size: int) -> None:
        self.writes = asyncio.Semaphore(pool_size)
        self.reads = asyncio.Semaphore(pool_size)
        self._turns: dict[str, _Turn] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str, wait_s: float) -> AsyncIterator[None]:
        turn = self._turns.setdefault(key, _Turn())
        turn.queued += 1
        try:
            await _within(wait_s, turn.lock)
            try:
                yield
            finally:
                turn.lock.release()
        finally:
            turn.queued -= 1
            if turn.queued == 0:
                del self._turns[key]


async def _within(wait_s: float, taken: asyncio.Lock | asyncio.Semaphore) -> None:
    """Acquire, or give up after ``wait_s`` as the store gives up on a lock (asyncio's lock and
    semaphore leave nothing behind when a waiter is cancelled)."""
    if not taken.locked():
        await taken.acquire()  # free and nobody queued: taken at once, no timer needed
        return
    try:
        async with asyncio.timeout(wait_s):
            await taken.acquire()
    except TimeoutError:
        raise StoreBusyError("the database is busy; retry shortly") from None


class _Turn:
    __slots__ = ("lock", "queued")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.queued = 0


def runner_for(engine: Engine) -> SuspendingRunner | None:
    """For a PostgreSQL engine made by ``make_engine``, a runner on the same URL with the same
    timeouts (its pool: ``2 × pool_size``, see SuspendingRunner). None for SQLite, which needs none:
    its writes never wait for the network, and its group commit (ADR 0012) relies on running
    straight on the loop."""
    if engine.dialect.name != "postgresql":
        return None
    made_with = postgres_made_with(engine)
    if made_with is None:
        # Without a runner its event-loop requests would stall the loop on every wait (ADR 0014).
        raise ValueError("a PostgreSQL engine for the server must come from make_engine")
    url, pool_size, timeouts = made_with
    return SuspendingRunner(url, pool_size=pool_size, timeouts=timeouts)


def engine_here(threads: Engine, runner: SuspendingRunner | None) -> Engine:
    """The runner's engine inside a greenlet of SQLAlchemy's (here only the runner starts them),
    else the engine for threads."""
    if runner is not None and in_greenlet():
        return runner.engine
    return threads
