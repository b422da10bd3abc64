"""The sandbox request log's writer: entries are written many to a transaction, off the request.

Writing each entry in its own transaction cost a sandbox request a second commit (on SQLite a
second turn at the single writer and a second fsync). Entries now wait here and a background
thread writes them every ``FLUSH_INTERVAL_S`` in one transaction. Reading the log (and resetting
the sandbox) flushes first, so a process always sees its own requests. The log is a developer's
aid, not money: entries still pending when a process is killed are lost, and a store that stays
busy drops a batch with a warning, as a failed single write did before (ADR 0009).

Adding an entry never waits for the store, so requests log on the event loop: past
``MAX_PENDING`` waiting entries it only wakes the background writer early.
"""

from __future__ import annotations

import logging
import threading

from payintents.domain.intent import Scope
from payintents.service.ports import RequestLogEntry, StoreBusyError, UnitOfWorkFactory

log = logging.getLogger("payintents.request_log")
FLUSH_INTERVAL_S = 0.05
# Past this many waiting entries the background writer writes at once, not at its next interval.
MAX_PENDING = 500


class RequestLogBuffer:
    def __init__(self, uow: UnitOfWorkFactory, interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._uow = uow
        self._interval_s = interval_s
        self._pending: list[tuple[Scope, RequestLogEntry]] = []
        self._pending_lock = threading.Lock()
        # One batch at a time, so entries reach the store in the order they were added.
        self._flush_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        self._full = threading.Event()

    def add(self, scope: Scope, entry: RequestLogEntry) -> None:
        """Queue the entry; never waits for the store (safe on the event loop)."""
        with self._pending_lock:
            self._pending.append((scope, entry))
            if len(self._pending) >= MAX_PENDING:
                self._full.set()
            if self._writer is None:
                self._start_writer()

    def flush(self) -> int:
        """Write every waiting entry now, in one transaction; how many were written."""
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
                self._full.clear()
            return self._write(batch) if batch else 0

    def _write(self, batch: list[tuple[Scope, RequestLogEntry]]) -> int:
        """``batch`` in one unit of work; how many were written (a failure drops it, logged)."""
        try:
            with self._uow() as uow:
                uow.sandbox.add_requests(batch)
                uow.commit()
        except StoreBusyError:
            log.warning("sandbox request log: %d entries dropped, the store is busy", len(batch))
            return 0
        except Exception:
            log.exception("sandbox request log: %d entries could not be written", len(batch))
            return 0
        return len(batch)

    def close(self) -> None:
        """Stop the background writer and write what is left (the app's shutdown calls this)."""
        with self._pending_lock:
            writer, self._writer = self._writer, None
            stop, self._stop = self._stop, threading.Event()
        stop.set()
        self._full.set()
        if writer is not None:
            writer.join()
        self.flush()

    def _start_writer(self) -> None:
        # Started by the first entry, so each server worker process runs its own writer.
        self._writer = threading.Thread(
            target=self._write_until, args=(self._stop,), name="request-log", daemon=True
        )
        self._writer.start()

    def _write_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._full.wait(self._interval_s)
            self.flush()
