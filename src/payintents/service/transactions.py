"""The plain transaction runner: each unit of work on a worker thread, in a transaction of its own.

It needs nothing from the store but its synchronous units of work. It serves PostgreSQL (bootstrap
gives it as many threads as the pool has connections, so no thread waits for a connection and a
unit waiting for a row lock holds up only its own thread) and any store without a runner of its
own (``Dependencies.runner``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from payintents.service.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


class ThreadedTransactions:
    def __init__(
        self, writer: UnitOfWorkFactory, reader: UnitOfWorkFactory, threads: int | None = None
    ) -> None:
        self._writer = writer
        self._reader = reader
        # How many threads of its own; None: the event loop's default executor.
        self._thread_count = threads
        self._threads: ThreadPoolExecutor | None = None

    async def write(self, work: Callable[[UnitOfWork], T], *, durable: bool = True) -> T:
        write_now = self._write_now if durable else self._write_now_not_flushed
        return await self._on_thread(write_now, work)

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        return await self._on_thread(self._read_now, work)

    async def look_up(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown()

    async def _on_thread(
        self, run: Callable[[Callable[[UnitOfWork], T]], T], work: Callable[[UnitOfWork], T]
    ) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, run, work)

    def _write_now(self, work: Callable[[UnitOfWork], T], durable: bool = True) -> T:
        with self._writer() as uow:
            result = work(uow)
            uow.commit(durable)
            return result

    def _write_now_not_flushed(self, work: Callable[[UnitOfWork], T]) -> T:
        return self._write_now(work, durable=False)

    def _read_now(self, work: Callable[[UnitOfWork], T]) -> T:
        with self._reader() as uow:
            return work(uow)
