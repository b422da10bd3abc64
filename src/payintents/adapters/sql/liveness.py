"""Whether a pooled PostgreSQL connection is still alive when a request takes it (ADR 0016).

A connection the database closed while it sat in the pool (a restart, an administrator's
``pg_terminate_backend``, ``idle_session_timeout``) is replaced at checkout, so the request that
takes it never sees the error. SQLAlchemy's ``pool_pre_ping`` does that with a round trip per
checkout, two per refund; on the event loop each ping cost a measured 1-22 % of a refund's CPU
(ADR 0016). Here instead:

- a connection used within ``PING_AFTER_IDLE_S`` is checked by its socket alone: a server that
  ends a session sends its last message and closes the socket, so an idle connection's socket that
  has anything to read, or has hung up, is dead (one ``poll`` with no waiting);
- a connection idle for longer is pinged as before: a peer that vanished without closing (a host
  that lost power, a NAT that forgot the connection) says nothing on the socket;
- TCP keepalives (``KEEPALIVES``, unless the URL sets its own) make the kernel probe an idle
  connection, so a vanished peer turns into an error on the socket that the check sees.

A connection made for this checkout is not checked: if it were refused as well, SQLAlchemy's
single retry would end the checkout in an error.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import InvalidatePoolError

PING_AFTER_IDLE_S = 30.0
# libpq connection parameters: probe after 30 s idle, every 10 s, give up after 3 unanswered.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
_CHECKED_IN_AT = "payintents_checked_in_at"


def replace_dropped_connections(engine: Engine) -> None:
    """Check every connection ``engine``'s pool hands out again; a dead one is replaced."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None:
            return  # made for this checkout
        alive = not _closed_by_server(record.driver_connection)
        if alive and time.monotonic() - checked_in_at > PING_AFTER_IDLE_S:
            alive = _answers_ping(engine, dbapi_connection)
        if not alive:
            # The pool hands out a newly made connection instead, and replaces every other one
            # made before now at its next checkout: what closed one (a restart, a failover)
            # has most likely closed them all.
            raise InvalidatePoolError("the database closed this pooled connection")


def _closed_by_server(driver_connection: Any) -> bool:
    try:
        if driver_connection.closed:
            return True
        poller = select.poll()
        poller.register(driver_connection.fileno(), select.POLLIN | select.POLLPRI)
        # No waiting: between requests a healthy connection has nothing to say (hang-ups and
        # errors are always reported).
        return bool(poller.poll(0))
    except Exception:
        # The driver's error for a closed connection, or a bad descriptor: either way, unusable.
        return True


def _answers_ping(engine: Engine, dbapi_connection: Any) -> bool:
    try:
        return bool(engine.dialect.do_ping(dbapi_connection))
    except engine.dialect.loaded_dbapi.Error:
        return False
