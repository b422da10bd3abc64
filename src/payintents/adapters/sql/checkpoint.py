"""SQLite WAL checkpoints on a thread of their own, off the serving writers' commits.

In WAL mode SQLite copies the log back into the database file (a checkpoint) whenever a commit
leaves the log longer than ``wal_autocheckpoint`` pages, inside that commit. On a serving worker
the committing connection is the SQLite writer's batch commit (ADR 0012), so every few hundred
refunds one group's answer waited for a checkpoint: measured, the refunds' p95 26 → 22–24 ms and
p99 28 → 23–26 ms once checkpoints left the commits. A serving process therefore checkpoints from
a background thread with its own connection (``PASSIVE``: it never waits for, nor blocks, a reader
or the writer), and its pooled connections only fall back to SQLite's own checkpoint if the log
ever grows past ``FALLBACK_AUTOCHECKPOINT_PAGES`` (the thread stopped, say).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("payintents.store")

CHECKPOINT_INTERVAL_S = 0.25
# SQLite's own checkpoint, as a safety net only: 10,000 pages of 4 KiB, 40 MB of log.
FALLBACK_AUTOCHECKPOINT_PAGES = 10_000


def start_checkpointer(database: Path, busy_timeout_s: float) -> threading.Event:
    """Checkpoint ``database`` every CHECKPOINT_INTERVAL_S until the returned event is set or the
    process ends (a daemon thread: a checkpoint cut short by the exit is safe, SQLite finishes or
    redoes it later)."""
    stop = threading.Event()
    threading.Thread(
        target=_checkpoint_until, args=(database, busy_timeout_s, stop), name="sqlite-checkpoint", daemon=True
    ).start()
    return stop


def _checkpoint_until(database: Path, busy_timeout_s: float, stop: threading.Event) -> None:
    connection: sqlite3.Connection | None = None
    failing = False
    while not stop.wait(CHECKPOINT_INTERVAL_S):
        try:
            if connection is None:
                connection = sqlite3.connect(database, timeout=busy_timeout_s, isolation_level=None)
                # The checkpoint's own syncs: as durable as the commits whose frames it moves.
                connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # Busy or I/O: the next round (or SQLite's own fallback) tries again. Said once, not
            # four times a second, and again when it recovers.
            if not failing:
                log.warning("WAL checkpoints are failing (SQLite's own checkpoint still runs): %s", exc)
            failing = True
            continue
        if failing:
            log.warning("WAL checkpoints work again")
            failing = False
    if connection is not None:
        connection.close()
