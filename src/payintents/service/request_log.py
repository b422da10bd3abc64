"""The sandbox request log's writer: entries are written many to a transaction, off the request.

Writing each entry in its own transaction cost a sandbox request a second commit (on SQLite a
second turn at the single writer and a second fsync). Entries now wait here and a background
thread writes them every ``FLUSH_INTERVAL_S`` in one transaction. Reading the log (and resetting
the sandbox) flushes first, so a process always sees its own requests. The log is a developer's
aid, not money: entries still pending when a process is killed are lost, and a store that stays
busy drops a batch with a warning, as a failed single write did before (ADR 0009).

On a store whose event-loop writes share one commit per loop turn (SQLite's commit groups, ADR
0012), a request on the event loop that finds ``EVENT_LOOP_BATCH`` entries waiting writes them
itself, as a savepoint of that turn's group: under load the turn has other writes, so the batch
shares their transaction and fsync. It never waits: if another writer holds the database, the
batch stays for the background writer. While the loop writes batches, the background writer
leaves the entries to it (its write would make the loop's requests give way) and writes only
what a quiet moment leaves.
"""

from __future__ import annotations

import logging
import threading
import time

from payintents.domain.intent import Scope
from payintents.service.ports import RequestLogEntry, StoreBusyError, UnitOfWorkFactory
from payintents.service.waiting import WouldWaitError, may_wait, without_waiting

log = logging.getLogger("payintents.request_log")
FLUSH_INTERVAL_S = 0.05
# Past this many waiting entries the request that adds one writes the batch itself.
MAX_PENDING = 500
# With commit groups: this many waiting entries are written by the event-loop request adding one.
EVENT_LOOP_BATCH = 16


class RequestLogBuffer:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        interval_s: float = FLUSH_INTERVAL_S,
        *,
        joins_commit_groups: bool = False,
    ) -> None:
        self._uow = uow
        self._interval_s = interval_s
        self._joins_commit_groups = joins_commit_groups
        self._pending: list[tuple[Scope, RequestLogEntry]] = []
        self._pending_lock = threading.Lock()
        # One batch at a time, so entries reach the store in the order they were added.
        self._flush_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        # When the event loop last wrote a batch into a commit group (monotonic seconds).
        self._loop_wrote_at = float("-inf")

    def add(self, scope: Scope, entry: RequestLogEntry) -> None:
        with self._pending_lock:
            self._pending.append((scope, entry))
            waiting = len(self._pending)
            if self._writer is None:
                self._start_writer()
        if may_wait():
            if waiting >= MAX_PENDING:
                self.flush()
        # On the event loop a request must not queue for the writer (waiting.py): without commit
        # groups the background writer takes the batch within FLUSH_INTERVAL_S.
        elif self._joins_commit_groups and waiting >= EVENT_LOOP_BATCH:
            self._flush_into_commit_group()

    def flush(self) -> int:
        """Write every waiting entry now, in one transaction; how many were written."""
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            return self._write(batch) if batch else 0

    def _flush_into_commit_group(self) -> None:
        # Never wait for the lock: the background writer may hold it while it waits for the write
        # lock, which this loop turn's group may hold.
        if not self._flush_lock.acquire(blocking=False):
            return
        try:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            try:
                with without_waiting():
                    self._write(batch)
                self._loop_wrote_at = time.monotonic()
            except WouldWaitError:
                with self._pending_lock:
                    self._pending[:0] = batch  # ahead of anything added since, for order
        finally:
            self._flush_lock.release()

    def _write(self, batch: list[tuple[Scope, RequestLogEntry]]) -> int:
        """``batch`` in one unit of work; how many were written (a failure drops it, logged).
        WouldWaitError passes through: on the event loop nothing was written yet."""
        try:
            with self._uow() as uow:
                uow.sandbox.add_requests(batch)
                uow.commit()
        except WouldWaitError:
            raise
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
        while not stop.wait(self._interval_s):
            self.write_if_quiet(self._interval_s)

    def write_if_quiet(self, quiet_s: float) -> int:
        """The background writer's step: write what waits, unless the event loop wrote a batch
        into a commit group within ``quiet_s``. Then the loop will take these entries too, and a
        write from this thread would only make the loop's requests give way to it (measured under
        load: one refund in seven paused a millisecond or more, p99 40 ms instead of 26-36)."""
        if time.monotonic() - self._loop_wrote_at <= quiet_s:
            return 0
        return self.flush()
