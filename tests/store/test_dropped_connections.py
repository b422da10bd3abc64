"""A pooled PostgreSQL connection the database closed is replaced at checkout (engine.py,
``replace_dropped_connections``; ADR 0016), on the engine for threads and on the event loop's.

Against a real PostgreSQL: the backend of an idle pooled connection is ended with
``pg_terminate_backend`` (as a restart or an administrator would), and the next checkout still
answers. The negative control is an engine with neither this check nor SQLAlchemy's pre-ping: there
the same checkout fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from payintents.adapters.sql.engine import make_engine, normalise_url
from payintents.adapters.sql.suspending import SuspendingRunner, runner_for
from tests.support import backend_database_url

pytestmark = pytest.mark.postgres

GONE_WITHIN_S = 5.0


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with backend_database_url("postgres", tmp_path) as url:
        yield url


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    """End the backend ``pid`` and wait until PostgreSQL no longer lists it (its socket is closed
    by then)."""
    # Autocommit: inside one transaction PostgreSQL keeps showing the activity it first read.
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + GONE_WITHIN_S
        while time.monotonic() < deadline:
            listed = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            if conn.execute(listed, {"pid": pid}).scalar_one() == 0:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} still listed after {GONE_WITHIN_S} s")


def test_a_connection_the_database_closed_is_replaced_at_checkout(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    admin = make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)
        assert _backend_pid(engine) != first  # answered, on a new connection
    finally:
        engine.dispose()
        admin.dispose()


def test_the_event_loop_engine_replaces_a_closed_connection_too(postgres_url: str) -> None:
    admin = make_engine(postgres_url, pool_size=1)
    runner = runner_for(admin)
    assert isinstance(runner, SuspendingRunner)

    async def two_checkouts() -> tuple[int, int]:
        first = await runner.run(_backend_pid, runner.engine)
        await asyncio.to_thread(_terminate, admin, first)
        second = await runner.run(_backend_pid, runner.engine)
        await runner.close()
        return first, second

    try:
        first, second = asyncio.run(two_checkouts())
        assert second != first
    finally:
        admin.dispose()


def test_negative_control_without_the_check_the_checkout_hands_out_a_dead_connection(
    postgres_url: str,
) -> None:
    bare = create_engine(normalise_url(postgres_url), pool_size=1, max_overflow=0)
    admin = make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(bare)
        _terminate(admin, first)
        with pytest.raises(OperationalError):
            _backend_pid(bare)
    finally:
        bare.dispose()
        admin.dispose()
