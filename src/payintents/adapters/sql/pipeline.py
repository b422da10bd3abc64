"""PostgreSQL write transactions in the driver's pipeline mode: fewer round trips, same statements.

A refund's record step is one transaction of eight statements, and most of them return nothing
anyone reads (the refund row, its outbox event, the deliveries, the stored answer). Each waited
for its own round trip to the database: on a 2-core machine, where the server and PostgreSQL share
the cores, those waits and the wake-ups behind them cost more than the statements themselves.

In psycopg's pipeline mode a statement is sent without waiting for its result. The wait happens
only where a result is needed: a statement whose rows are read (``prepared.execute_on_driver``
fetches them, which syncs the pipeline), any statement SQLAlchemy runs itself (the listener below
syncs at once, so its ``rowcount`` and rows are there as before), and the commit. BEGIN goes with
the first statement, the last writes with COMMIT. The transaction is the same and so are its
statements; only when an error shows changes: a failed statement that returns nothing raises at
the next sync, in the same transaction, which the unit of work rolls back as before.

Used for write units of work on PostgreSQL only (``unit_of_work.py``); reads run in autocommit and
need every result anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

log = logging.getLogger("payintents.store")


def sync_statements_sqlalchemy_runs(engine: Engine) -> None:
    """Make every statement SQLAlchemy runs itself wait for its result, as outside a pipeline:
    SQLAlchemy reads a cursor's description and row count right after executing it. Done when
    the engine is made (``engine.py``), before any connection exists to miss it."""
    event.listen(engine, "after_cursor_execute", _results_now)


def can_pipeline(engine: Engine) -> bool:
    """Whether write transactions on ``engine`` may run pipelined: PostgreSQL, with the listener
    above (an engine made elsewhere, by a test say, runs its statements one round trip each)."""
    return engine.dialect.name == "postgresql" and event.contains(
        engine, "after_cursor_execute", _results_now
    )


def _results_now(_conn: Connection, cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
    driver = cursor.connection
    if driver.pgconn.pipeline_status:
        # Leaving a nested pipeline block sends a sync and reads every pending result.
        with driver.pipeline():
            pass


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Pipeline mode on ``conn``'s driver connection for the block (its transaction's life)."""
    driver = conn.connection.driver_connection
    pipeline = driver.pipeline()  # type: ignore[union-attr]
    pipeline.__enter__()
    try:
        yield
    finally:
        _leave(conn, pipeline)


def _leave(conn: Connection, pipeline: Any) -> None:
    """Leave pipeline mode once the transaction has ended. Its commit or rollback already read
    every result, so a failure here means the connection broke since: the transaction's outcome
    stands, and the connection is dropped rather than pooled."""
    try:
        pipeline.__exit__(None, None, None)
    except conn.dialect.loaded_dbapi.Error as broken:
        log.warning("a database connection broke leaving pipeline mode: %s", broken)
        conn.invalidate(broken)
