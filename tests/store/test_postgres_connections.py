"""PostgreSQL connections: what a write on the event loop runs in, and pooled connections pinged
only after they idled (ADR 0013).

A loop write runs READ COMMITTED whatever the server's default, with the short lock timeout only
inside its own transaction (its SET LOCAL goes to the driver directly), commits and rolls back for
real, and hands its pooled connection back as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from payintents.adapters.sql import engine as engine_module
from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.schema import accounts
from payintents.adapters.sql.store import SqlUnitOfWork
from payintents.service.waiting import without_waiting
from tests.support import backend_database_url

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: object) -> Iterator[Engine]:
    """A migrated schema on a server whose sessions default to SERIALIZABLE."""
    with backend_database_url("postgres", tmp_path) as url:  # type: ignore[arg-type]
        parsed = make_url(url)
        options = f"{parsed.query.get('options', '')} -c default_transaction_isolation=serializable"
        made = make_engine(parsed.update_query_dict({"options": options.strip()}).render_as_string(False))
        upgrade(made)
        yield made
        made.dispose()


def settings_inside(uow: SqlUnitOfWork) -> tuple[str, str]:
    conn = uow.accounts._conn  # the unit of work's own connection
    isolation = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
    lock_timeout = conn.exec_driver_sql("SHOW lock_timeout").scalar_one()
    return str(isolation), str(lock_timeout)


def test_a_loop_write_is_read_committed_with_a_short_lock_timeout_and_commits(engine: Engine) -> None:
    with without_waiting(), SqlUnitOfWork(engine) as uow:
        assert settings_inside(uow) == ("read committed", "10ms")
        uow.accounts.add("acc_loop", "loop", [], NOW)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        # On a thread the configured timeout applies again, on a connection that may be the same.
        assert settings_inside(uow) == ("read committed", "5s")
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.id)).scalars().all() == ["acc_loop"]


def test_a_failed_loop_write_rolls_back_and_returns_an_idle_connection(engine: Engine) -> None:
    with pytest.raises(RuntimeError), without_waiting(), SqlUnitOfWork(engine) as uow:
        uow.accounts.add("acc_gone", "gone", [], NOW)
        raise RuntimeError("the request failed")
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None and driver.autocommit is False  # type: ignore[attr-defined]
        assert conn.execute(select(accounts.c.id)).scalars().all() == []


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        conn.commit()


@pytest.fixture
def one_connection_engine(tmp_path: object) -> Iterator[Engine]:
    with backend_database_url("postgres", tmp_path) as url:  # type: ignore[arg-type]
        made = make_engine(url, pool_size=1)
        yield made
        made.dispose()


def test_a_pooled_connection_that_idled_is_pinged_and_replaced_if_the_server_dropped_it(
    one_connection_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = one_connection_engine
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    dropped = backend_pid(engine)
    killer = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1)
    terminate(killer, dropped)
    killer.dispose()
    assert backend_pid(engine) != dropped  # no error: the dead connection never reached us


def test_without_the_ping_the_dropped_connection_fails_its_next_user(
    one_connection_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The negative control: proves the test above would see a dropped connection."""
    engine = one_connection_engine
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)
    dropped = backend_pid(engine)
    killer = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1)
    terminate(killer, dropped)
    killer.dispose()
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != dropped  # and the pool replaced it after that one failure
