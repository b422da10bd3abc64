"""A pooled PostgreSQL connection the database closed is replaced at checkout (liveness.py,
ADR 0016).

Against a real PostgreSQL: the backend of an idle pooled connection is ended with
``pg_terminate_backend`` (as a restart or an administrator would), and the next checkout still
answers, the pool's other connections are renewed too, and a healthy connection is kept. A
connection idle for long is pinged, which finds a dead peer the socket says nothing about. The
negative controls: an engine with neither the check nor SQLAlchemy's pre-ping hands out the dead
connection, and so does the check without its ping when the socket is silent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from payintents.adapters.sql import liveness
from payintents.adapters.sql.engine import make_engine, normalise_url
from tests.support import backend_database_url

pytestmark = pytest.mark.postgres

GONE_WITHIN_S = 5.0


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with backend_database_url("postgres", tmp_path) as url:
        yield url


def _pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return _pid(conn)


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


def _pids_around_termination(engine: Engine, postgres_url: str) -> tuple[int, int]:
    """The backend of one checkout, then of the next after that backend was terminated (the
    second checkout's error passes through). ``engine`` is disposed of afterwards."""
    admin = make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)
        return first, _backend_pid(engine)
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_the_database_closed_is_replaced_at_checkout(postgres_url: str) -> None:
    first, second = _pids_around_termination(make_engine(postgres_url, pool_size=1), postgres_url)
    assert second != first  # answered, on a new connection


def test_negative_control_without_the_check_the_checkout_hands_out_a_dead_connection(
    postgres_url: str,
) -> None:
    bare = create_engine(normalise_url(postgres_url), pool_size=1, max_overflow=0)
    with pytest.raises(OperationalError):
        _pids_around_termination(bare, postgres_url)


def test_a_healthy_pooled_connection_is_kept(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    try:
        assert _backend_pid(engine) == _backend_pid(engine) == _backend_pid(engine)
    finally:
        engine.dispose()


def test_one_closed_connection_renews_the_others_made_before_it(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=2)
    admin = make_engine(postgres_url, pool_size=1)
    try:
        with engine.connect() as kept, engine.connect() as closed:
            before = {_pid(kept), _pid(closed)}
            closed_pid = _pid(closed)
        # The pool is first in, first out, and ``closed`` went back first: the next checkout
        # finds it dead, and the pool renews ``kept`` as well (a restart closes them all).
        _terminate(admin, closed_pid)
        with engine.connect() as first, engine.connect() as second:
            assert not {_pid(first), _pid(second)} & before
    finally:
        engine.dispose()
        admin.dispose()


def test_a_long_idle_connection_is_pinged(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead peer that said nothing on the socket (here: the socket check made blind) is found
    by the ping of a connection idle for longer than PING_AFTER_IDLE_S."""
    monkeypatch.setattr(liveness, "_closed_by_server", lambda _driver: False)
    monkeypatch.setattr(liveness, "PING_AFTER_IDLE_S", 0.0)
    first, second = _pids_around_termination(make_engine(postgres_url, pool_size=1), postgres_url)
    assert second != first


def test_negative_control_a_recently_used_connection_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "_closed_by_server", lambda _driver: False)
    with pytest.raises(OperationalError):
        _pids_around_termination(make_engine(postgres_url, pool_size=1), postgres_url)


def test_connections_keep_tcp_keepalives_unless_the_url_sets_its_own(postgres_url: str) -> None:
    separator = "&" if "?" in postgres_url else "?"
    default = make_engine(postgres_url, pool_size=1)
    own = make_engine(f"{postgres_url}{separator}keepalives_idle=7", pool_size=1)
    try:
        for engine, idle in ((default, "30"), (own, "7")):
            with engine.connect() as conn:
                parameters = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
                assert (parameters["keepalives_idle"], parameters["keepalives_count"]) == (idle, "3")
    finally:
        default.dispose()
        own.dispose()
