"""PostgreSQL work on the event loop that waits for the database without stalling the loop.

The store is synchronous (ADR 0005) and the quick API operations run on the event loop (ADR 0011).
On PostgreSQL each of a refund's statements is a network round trip, and a synchronous driver makes
the whole worker wait for every one of them: measured, a worker spent most of its time waiting
with nothing else to do. Here the same synchronous use-case code runs inside a greenlet
(SQLAlchemy's ``greenlet_spawn``) on an engine of psycopg's asynchronous driver: each wait for
the database suspends that request's greenlet and the loop serves other requests meanwhile, so a
worker has as many refunds in flight as it has pooled connections (ADR 0014).

Outside such a greenlet (worker threads, background workers) the ordinary synchronous engine
serves; ``engine_here`` picks one of the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util.concurrency import greenlet_spawn, in_greenlet

from payintents.adapters.sql.engine import Timeouts, postgres_engine_options, postgres_made_with

T = TypeVar("T")


class SuspendingRunner:
    """Runs synchronous work on the event loop, its database waits suspending only itself."""

    def __init__(self, url: str, *, pool_size: int, timeouts: Timeouts) -> None:
        url_, options = postgres_engine_options(url, pool_size, timeouts)
        self._engine: AsyncEngine = create_async_engine(
            url_.set(drivername="postgresql+psycopg_async"), **options
        )
        self._in_flight = pool_size
        self._admissions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Admission] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def engine(self) -> Engine:
        """The engine to use inside ``run``: synchronous calls, asynchronous waits."""
        return self._engine.sync_engine

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(*args)`` once it is admitted: at most ``pool_size`` at once, in order of arrival."""
        async with self._admission().in_flight:
            return await greenlet_spawn(work, *args)

    def in_turn(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold ``key``'s turn: whoever asks for the same key meanwhile waits, in order."""
        return self._admission().turn(key)

    def _admission(self) -> _Admission:
        # One per event loop: asyncio's primitives belong to the loop they first waited on.
        loop = asyncio.get_running_loop()
        admission = self._admissions.get(loop)
        if admission is None:
            admission = self._admissions[loop] = _Admission(self._in_flight)
        return admission

    async def close(self) -> None:
        await self._engine.dispose()


class _Admission:
    """Which work may start now, in order of arrival.

    At most ``in_flight`` pieces at once: the pool (twice that size) then never makes one wait,
    and waiting for the pool is not fair (a returned connection can go to a newcomer before the
    request that waited): measured, that starved requests on a hot intent until the 5 s pool
    timeout answered 503. And work on one key (writes to one payment intent) one at a time: a
    second write to a row waits here, not in PostgreSQL's lock queue holding a connection, where
    the holder's lock would last as long as the loop takes to come back to it after each of its
    statements (measured on one hot intent, two workers: 390 against 580 refunds/s).
    """

    def __init__(self, in_flight: int) -> None:
        self.in_flight = asyncio.Semaphore(in_flight)
        self._turns: dict[str, _Turn] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        turn = self._turns.setdefault(key, _Turn())
        turn.queued += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.queued -= 1
            if turn.queued == 0:
                del self._turns[key]


class _Turn:
    __slots__ = ("lock", "queued")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.queued = 0


def runner_for(engine: Engine) -> SuspendingRunner | None:
    """A runner with a pool twin to ``engine``'s (same URL, size and timeouts), for a PostgreSQL
    engine made by ``make_engine``; None for any other (SQLite needs none: its writes never wait
    for the network, and its group commit, ADR 0012, relies on running straight on the loop)."""
    made_with = postgres_made_with(engine)
    if made_with is None:
        return None
    url, pool_size, timeouts = made_with
    return SuspendingRunner(url, pool_size=pool_size, timeouts=timeouts)


def engine_here(threads: Engine, runner: SuspendingRunner | None) -> Engine:
    """The runner's engine inside one of its greenlets, else the engine for threads."""
    if runner is not None and in_greenlet():
        return runner.engine
    return threads
