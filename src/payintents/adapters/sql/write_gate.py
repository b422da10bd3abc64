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
# How long a request running on the event loop queues for this process's threads before it gives
# way and reruns on a thread (WouldWaitError); one of them holds the gate for about a millisecond.
# Another worker process is not waited for at all: polling its file lock from the event loop
# stalled this worker and measured slower than handing the request to a thread at once
# (docs/performance.md: 2 workers, 527–571 → 593–687 refunds/s).
EVENT_LOOP_WAIT_S = 0.01


class WriteGateTimeoutError(TimeoutError):
    """The gate stayed closed for longer than the lock timeout."""


class WriteGate:
    def __init__(self, lock_path: Path | None, timeout_s: float) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._timeout_s = timeout_s

    @contextmanager
    def held(self) -> Iterator[None]:
        timeout_s = self._timeout_s if may_wait() else EVENT_LOOP_WAIT_S
        deadline = time.monotonic() + timeout_s
        if not self._thread_lock.acquire(timeout=timeout_s):
            raise _closed_too_long("another write transaction held the database for too long")
        try:
            fd = self._file_lock(deadline if may_wait() else time.monotonic())
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

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
                if time.monotonic() >= deadline:
                    raise _closed_too_long("another process held the database for too long") from None
                time.sleep(FILE_LOCK_POLL_S)


def _closed_too_long(detail: str) -> Exception:
    """Busy for a thread; for event-loop work, a sign to rerun it on a thread instead."""
    return WriteGateTimeoutError(detail) if may_wait() else WouldWaitError(detail)
