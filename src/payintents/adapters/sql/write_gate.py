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
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How often a process re-tries the file lock while another process writes. Far finer than the
# busy handler's back-off; a write transaction takes about a millisecond.
FILE_LOCK_POLL_S = 0.0002


class WriteGateTimeoutError(TimeoutError):
    """The gate stayed closed for longer than the lock timeout."""


class WriteGate:
    def __init__(self, lock_path: Path | None, timeout_s: float) -> None:
        self._thread_lock = _TakingTurns()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._timeout_s = timeout_s

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate; a thread of this process waits here (the event loop uses ``try_hold``)."""
        deadline = time.monotonic() + self._timeout_s
        if not self._thread_lock.acquire(timeout=self._timeout_s):
            raise WriteGateTimeoutError("another write transaction held the database for too long")
        try:
            fd = self._file_lock(deadline)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    @property
    def timeout_s(self) -> float:
        """How long a writer waits for the gate before the store reports itself busy."""
        return self._timeout_s

    def try_hold(self) -> bool:
        """Take the gate if it is free now (threads queued for it go first); give it back with
        ``release``. For the event loop, which must not wait (sqlite_writer.py)."""
        if not self._thread_lock.acquire(timeout=0):
            return False
        try:
            self._file_lock(time.monotonic())
        except BaseException:
            self._thread_lock.release()
            return False
        return True

    def release(self) -> None:
        """Give back a gate taken with ``try_hold``."""
        if self._fd is not None and self._lock_path is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
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
                    raise WriteGateTimeoutError("another process held the database for too long") from None
                time.sleep(FILE_LOCK_POLL_S)


class _TakingTurns:
    """A lock handed to its waiters in order of arrival, and never to an asker that does not wait
    while anyone does. A plain lock lets whoever just released it take it again first: the event
    loop's batches, written one after another under load, would starve the other threads of the
    process (the request log, the CLI)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            if timeout <= 0:
                return False
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over as the wait ran out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # still held: now by the next in line
            else:
                self._held = False
