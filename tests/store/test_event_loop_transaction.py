"""PostgreSQL: what a write on the event loop runs in (ADR 0011, ADR 0013).

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
        # One pooled connection, so every unit of work below gets the same one back.
        made = make_engine(
            parsed.update_query_dict({"options": options.strip()}).render_as_string(False), pool_size=1
        )
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
        # On a thread, on the same connection, the configured timeout applies again.
        assert settings_inside(uow) == ("read committed", "5s")
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.id)).scalars().all() == ["acc_loop"]


def test_a_failed_loop_write_rolls_back_and_returns_its_connection_as_it_found_it(engine: Engine) -> None:
    with pytest.raises(RuntimeError), without_waiting(), SqlUnitOfWork(engine) as uow:
        uow.accounts.add("acc_gone", "gone", [], NOW)
        raise RuntimeError("the request failed")
    with engine.connect() as conn:  # the same pooled connection
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar_one() == "5s"
        assert conn.execute(select(accounts.c.id)).scalars().all() == []
