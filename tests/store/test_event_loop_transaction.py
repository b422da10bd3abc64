"""PostgreSQL: what a write on the event loop runs in (ADR 0011, ADR 0014).

A loop write runs on the runner's engine (psycopg's asynchronous driver) with the same settings as
the engine for threads: READ COMMITTED whatever the server's default, the configured lock timeout,
the caller's own connection options kept. It commits and rolls back for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.schema import accounts
from payintents.adapters.sql.store import SqlUnitOfWork
from payintents.adapters.sql.suspending import runner_for
from payintents.service.waiting import without_waiting
from tests.support import backend_database_url

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 26, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture
def engine(tmp_path: object) -> Iterator[Engine]:
    """A migrated schema on a server whose sessions default to SERIALIZABLE."""
    with backend_database_url("postgres", tmp_path) as url:  # type: ignore[arg-type]
        parsed = make_url(url)
        options = f"{parsed.query.get('options', '')} -c default_transaction_isolation=serializable"
        made = make_engine(
            parsed.update_query_dict({"options": options.strip()}).render_as_string(False), pool_size=1
        )
        upgrade(made)
        yield made
        made.dispose()


def on_the_loop(engine: Engine, work: Callable[[Engine], T]) -> T:
    """``work`` run as an event-loop request runs: in the runner, on the runner's engine."""
    runner = runner_for(engine)
    assert runner is not None

    def request() -> T:
        with without_waiting():
            return work(runner.engine)

    async def main() -> T:
        try:
            return await runner.run(request)
        finally:
            await runner.close()

    return asyncio.run(main())


def settings_inside(uow: SqlUnitOfWork) -> tuple[str, str, bool]:
    conn = uow.accounts._conn  # the unit of work's own connection
    isolation = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
    lock_timeout = conn.exec_driver_sql("SHOW lock_timeout").scalar_one()
    return str(isolation), str(lock_timeout), conn.dialect.is_async


def test_a_loop_write_has_the_settings_of_a_thread_write_and_commits(engine: Engine) -> None:
    def write(loop_engine: Engine) -> tuple[str, str, bool]:
        with SqlUnitOfWork(loop_engine) as uow:
            found = settings_inside(uow)
            uow.accounts.add("acc_loop", "loop", [], NOW)
            uow.commit()
        return found

    assert on_the_loop(engine, write) == ("read committed", "5s", True)
    with SqlUnitOfWork(engine) as uow:
        assert settings_inside(uow) == ("read committed", "5s", False)
    with engine.connect() as conn:
        # The same schema: the URL's own options (its search_path) reached the runner's engine.
        assert conn.execute(select(accounts.c.id)).scalars().all() == ["acc_loop"]


def test_a_failed_loop_write_rolls_back(engine: Engine) -> None:
    def fail(loop_engine: Engine) -> None:
        with SqlUnitOfWork(loop_engine) as uow:
            uow.accounts.add("acc_gone", "gone", [], NOW)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        on_the_loop(engine, fail)
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.id)).scalars().all() == []
