"""The plain transaction runner: each unit of work on a worker thread, in a transaction of its own.

It is the strategy that needs nothing from the store but its synchronous units of work, so it
serves wherever no store-specific runner was chosen (``Dependencies.runner``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from payintents.service.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


class ThreadedTransactions:
    def __init__(self, writer: UnitOfWorkFactory, reader: UnitOfWorkFactory) -> None:
        self._writer = writer
        self._reader = reader

    async def write(self, work: Callable[[UnitOfWork], T]) -> T:
        return await asyncio.to_thread(self._write_now, work)

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        return await asyncio.to_thread(self._read_now, work)

    def _write_now(self, work: Callable[[UnitOfWork], T]) -> T:
        with self._writer() as uow:
            result = work(uow)
            uow.commit()
            return result

    def _read_now(self, work: Callable[[UnitOfWork], T]) -> T:
        with self._reader() as uow:
            return work(uow)
