"""When each API key was last used: noted in memory by authentication, written off the request path.

A write on every request would put a second statement, and on SQLite a turn at the single writer,
on the API's hottest path (authentication is one read). Instead authentication notes the use
here: a key this process noted less than ``PRECISION`` ago costs one dictionary read and nothing
else. A background thread writes what was noted every ``FLUSH_INTERVAL_S``, in one transaction,
one UPDATE per key that leaves alone a row another worker process updated within ``PRECISION``.
So each key costs at most one UPDATE a minute per worker process, and "last used" is right to
about a minute. Notes still waiting when a process is killed are lost: the time helps people
tell live keys from forgotten ones; it is not an audit record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from payintents.service.ports import Clock, StoreBusyError, UnitOfWorkFactory

log = logging.getLogger("payintents.keys")

PRECISION = timedelta(minutes=1)
FLUSH_INTERVAL_S = 5.0


class KeyUsageRecorder:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        interval_s: float = FLUSH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._interval_s = interval_s
        self._monotonic = monotonic
        # key hash -> when this process last noted it (monotonic seconds) / the time to write.
        self._noted_s: dict[str, float] = {}
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    def note(self, key_hash: str) -> None:
        """The key opened a request just now. Never waits for the store (safe on the event loop)."""
        now_s = self._monotonic()
        # Read without the lock: a stale answer only notes a key twice, which the UPDATE absorbs.
        if now_s - self._noted_s.get(key_hash, float("-inf")) < PRECISION.total_seconds():
            return
        with self._lock:
            self._noted_s[key_hash] = now_s
            self._pending[key_hash] = self._clock.now()
            if self._writer is None:
                # Started by the first note, so each server worker process runs its own writer.
                self._writer = threading.Thread(target=self._write_until, name="key-usage", daemon=True)
                self._writer.start()

    def flush(self) -> int:
        """Write what was noted, in one transaction; how many keys (0 if the store was busy)."""
        with self._lock:
            batch, self._pending = self._pending, {}
            forget_before_s = self._monotonic() - PRECISION.total_seconds()
            self._noted_s = {key: at for key, at in self._noted_s.items() if at >= forget_before_s}
        if not batch:
            return 0
        try:
            with self._uow() as uow:
                uow.accounts.record_key_use(batch, PRECISION)
                uow.commit()
        except StoreBusyError:
            log.warning("last use of %d API keys not recorded: the store is busy", len(batch))
            return 0
        return len(batch)

    def close(self) -> None:
        """Stop the background writer and write what is left (the app's shutdown calls this)."""
        self._stop.set()
        with self._lock:
            writer = self._writer
        if writer is not None:
            writer.join()
        self.flush()

    def _write_until(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.flush()
            except Exception:
                log.exception("last use of API keys not recorded")
