"""Engines for the two supported databases, with the settings that keep refunds safe.

SQLite: WAL, foreign keys, ``synchronous=FULL`` (an acknowledged refund survives power loss),
a busy timeout, savepoint journals in memory, and ``BEGIN IMMEDIATE`` so a write transaction holds
the write lock from its start.
PostgreSQL (psycopg 3): READ COMMITTED, with lock and statement timeouts so a stuck lock becomes
a clear "busy" error instead of a hang.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from payintents.adapters.sql.liveness import KEEPALIVES, replace_dropped_connections
from payintents.adapters.sql.write_gate import WriteGate

DEFAULT_DATABASE_URL = "sqlite:///./payintents.db"
# Connection execution option marking a read-only unit of work (SQLite: a deferred BEGIN).
READ_ONLY_OPTION = "payintents_read_only"
BUSY_TIMEOUT_MS = 5_000
STATEMENT_TIMEOUT_MS = 15_000
SQLITE_POOL_SIZE = 40
# Every commit syncs the write-ahead log (an acknowledged refund survives power loss); a
# transaction asked to be non-durable relaxes it for itself only (unit_of_work.py).
SQLITE_SYNCHRONOUS = "FULL"
# SQLite's WAL-reset bug (3.7.0 to 3.51.2; fixed in 3.51.3 and in the 3.44.6 and 3.50.7 patch
# releases): a checkpoint racing another connection's commit can leave the database corrupt.
WAL_RESET_FIXED_IN: tuple[tuple[int, int, int], dict[tuple[int, int], int]] = (
    (3, 51, 3),
    {(3, 44): 6, (3, 50): 7},
)

log = logging.getLogger("payintents.store")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a request waits for a lock (SQLite busy timeout, PostgreSQL lock_timeout) and
    how long one PostgreSQL statement may run, before the store reports itself busy."""

    lock_ms: int = BUSY_TIMEOUT_MS
    statement_ms: int = STATEMENT_TIMEOUT_MS


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str, *, pool_size: int = 5, timeouts: Timeouts | None = None, serving: bool = False
) -> Engine:
    """``serving``: the engine of a server worker (SQLite: it warns when the SQLite library has
    the WAL-reset bug, see ADR 0035)."""
    parsed = make_url(normalise_url(url))
    timeouts = timeouts or Timeouts()
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.render_as_string(hide_password=False), timeouts, serving)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed.render_as_string(hide_password=False), pool_size, timeouts)
    raise ValueError(f"unsupported database URL scheme: {parsed.get_backend_name()}")


def make_write_gate(engine: Engine, timeouts: Timeouts | None = None) -> WriteGate | None:
    """A new write gate for a SQLite engine (None for PostgreSQL, which has row locks). Everyone
    in a process who writes through ``engine`` must share the one gate: make it once (bootstrap)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    lock_path = Path(f"{database}-writer.lock") if _on_disk(database) else None
    gate = WriteGate(lock_path, (timeouts or Timeouts()).lock_ms / 1000)
    # The gate's lock-file descriptor lives as long as the engine (tests make many engines).
    weakref.finalize(engine, gate.close)
    return gate


def _on_disk(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def _sqlite_engine(url: str, timeouts: Timeouts, serving: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": timeouts.lock_ms / 1000},
        pool_timeout=timeouts.lock_ms / 1000,
        # As many kept connections as request threads (Starlette's pool has 40): a connection
        # made for one request and closed after it costs more than the request's own queries.
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=10,
    )
    database = make_url(url).database
    on_disk = _on_disk(database)
    if on_disk:
        _create_private(Path(str(database)))
    pragmas = [
        "journal_mode=WAL",
        "foreign_keys=ON",
        f"synchronous={SQLITE_SYNCHRONOUS}",
        f"busy_timeout={timeouts.lock_ms}",
        # Savepoints (one per unit of work in the writer's batch, sqlite_writer.py) keep their
        # journals in memory, not in temporary files: with a large history those files cost half
        # the throughput.
        "temp_store=MEMORY",
    ]
    # Checkpoints stay SQLite's own, by the committing connection past 1,000 pages of log: a
    # thread checkpointing four times a second made the WAL-reset bug's race likely (ADR 0035).
    if serving and on_disk and has_wal_reset_bug(sqlite3.sqlite_version):
        log.warning(
            "SQLite %s has the WAL-reset corruption bug (fixed in 3.51.3): run several workers "
            "on PostgreSQL, or link Python against a fixed SQLite (docs/operations.md)",
            sqlite3.sqlite_version,
        )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can issue BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Writers take the write lock at once; readers read a WAL snapshot and block nobody.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def has_wal_reset_bug(version: str) -> bool:
    """Whether SQLite ``version`` (``3.40.1``) has the WAL-reset bug."""
    major, minor, patch = (int(part) for part in [*version.split("."), "0", "0"][:3])
    fixed_in, patched = WAL_RESET_FIXED_IN
    if (major, minor, patch) >= fixed_in:
        return False
    patch_fixed = patched.get((major, minor))
    return patch_fixed is None or patch < patch_fixed


def _create_private(path: Path) -> None:
    """Create the database file readable and writable by its owner only (0600): it holds webhook
    secrets and customer data. SQLite itself would make it 0644 less the umask; its -wal and -shm
    files take the database file's mode, so they are 0600 too. An existing file keeps its mode."""
    # It exists, or its folder does not: SQLite says what is wrong when it connects.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _postgres_engine(url: str, pool_size: int, timeouts: Timeouts) -> Engine:
    parsed, options = postgres_engine_options(url, pool_size, timeouts)
    engine = create_engine(parsed, **options)
    # A pooled connection the database closed is replaced at checkout (ADR 0016).
    replace_dropped_connections(engine)
    return engine


def postgres_engine_options(url: str, pool_size: int, timeouts: Timeouts) -> tuple[URL, dict[str, Any]]:
    """The URL and engine settings of a PostgreSQL engine."""
    parsed = make_url(normalise_url(url))
    # Keep any libpq options the caller put in the URL (e.g. a search_path) beside our timeouts.
    caller_options = parsed.query.get("options", "")
    if isinstance(caller_options, tuple):
        caller_options = " ".join(caller_options)
    options = f"-c lock_timeout={timeouts.lock_ms} -c statement_timeout={timeouts.statement_ms}"
    return parsed.difference_update_query(["options"]), {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        # Waiting for a free connection is waiting for a lock: same limit, then a clear 503.
        "pool_timeout": timeouts.lock_ms / 1000,
        # The refund write path relies on READ COMMITTED semantics: say so, whatever the server default.
        "isolation_level": "READ COMMITTED",
        # TCP keepalives a URL does not set itself (liveness.py): the kernel then finds an idle
        # connection whose peer vanished without closing it, and the checkout sees that.
        "connect_args": {
            **{name: value for name, value in KEEPALIVES.items() if name not in parsed.query},
            "options": f"{options} {caller_options}".strip(),
        },
    }


def read_only_options(conn: Connection) -> dict[str, object]:
    """SQLite: a deferred BEGIN (no write lock). PostgreSQL: autocommit, which saves the BEGIN and
    ROLLBACK round trips and loses nothing: under READ COMMITTED each statement of a read-only
    transaction takes its own snapshot anyway."""
    if conn.dialect.name == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY_OPTION: True}
