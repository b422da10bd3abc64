"""The SQLite write gate: one write transaction at a time, waiting in a queue instead of polling.

SQLite has a single writer. Left to itself, a writer that finds the lock taken sleeps in SQLite's
busy handler for 1, 2, 5, 10, 15, 20, 25… ms between tries, so under concurrency most of a
request's time is spent asleep after the lock was already free. The gate puts the waiting where
it can be woken at once: threads of one process queue on a lock, and processes (server workers)
take an advisory lock on a file beside the database, polled at a fine interval. The gate's
timeout is the store's lock timeout; running out of it means "busy", as the busy handler would.
PostgreSQL has row locks and needs no gate.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from payintents.service.waiting import WouldWaitError, may_wait

# How often a process re-tries the file lock while another process writes. Far finer than the
# busy handler's back-off; a write transaction takes about a millisecond.
FILE_LOCK_POLL_S = 0.0002
# Guards the queued-thread counters of every gate (held for an increment, never while waiting).
_QUEUE_COUNT = threading.Lock()
# A request running on the event loop never queues here (ADR 0011): if a thread of this process
# holds the gate or is waiting for it, or another worker process holds the file lock, it gives way
# "briefly" and the endpoint retries it on the loop after an asynchronous pause. Queued threads go
# first, so the loop (which would otherwise retake the lock every turn) cannot starve them.


class WriteGateTimeoutError(TimeoutError):
    """The gate stayed closed for longer than the lock timeout."""


class WriteGate:
    def __init__(self, lock_path: Path | None, timeout_s: float) -> None:
        self._thread_lock = threading.Lock()
        # Threads queued for the thread lock right now (read by the event loop to let them first).
        self._queued_threads = 0
        self._lock_path = lock_path
        self._fd: int | None = None
        self._timeout_s = timeout_s

    @contextmanager
    def held(self) -> Iterator[None]:
        deadline = time.monotonic() + self._timeout_s
        if may_wait():
            self._queue_for_thread_lock()
        elif self._queued_threads or not self._thread_lock.acquire(blocking=False):
            raise WouldWaitError("a thread of this process is writing or waiting to", briefly=True)
        try:
            fd = self._file_lock(deadline)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _queue_for_thread_lock(self) -> None:
        with _QUEUE_COUNT:
            self._queued_threads += 1
        try:
            acquired = self._thread_lock.acquire(timeout=self._timeout_s)
        finally:
            with _QUEUE_COUNT:
                self._queued_threads -= 1
        if not acquired:
            raise WriteGateTimeoutError("another write transaction held the database for too long")

    def close(self) -> None:
        """Let go of the lock file (the engine is gone)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _file_lock(self, deadline: float) -> int | None:
        if self._lock_path is None:
            return None
        if self._fd is None:
            # Opened once per process (the thread lock is held), so spawned workers each get their own.
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self._fd
            except BlockingIOError:
                if not may_wait():
                    raise WouldWaitError("another worker process is writing", briefly=True) from None
                if time.monotonic() >= deadline:
                    raise WriteGateTimeoutError("another process held the database for too long") from None
                time.sleep(FILE_LOCK_POLL_S)
