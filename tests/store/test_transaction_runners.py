"""The transaction runners bootstrap chooses (service/ports.py TransactionRunner), on real stores.

SQLite (adapters/sql/sqlite_writer.py): units waiting together share one transaction and one
commit, a unit that raises is rolled back alone, a batch whose commit fails fails every unit of it,
and batches take turns with the process's other writers (threads through ``deps.uow``) and with
other processes (the write gate's lock file) while the event loop keeps answering, up to the lock
timeout. PostgreSQL
(ThreadedTransactions on a pool-sized executor): a unit that raises rolls back, and a unit waiting
for a row lock holds up neither the loop nor other units.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from payintents.adapters.sql import sqlite_writer
from payintents.adapters.sql.engine import Timeouts, make_engine, make_write_gate
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.sqlite_writer import SqliteTransactions
from payintents.adapters.sql.unit_of_work import POSTGRES_COMMIT_NOT_FLUSHED, SqlUnitOfWork
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.errors import RuleBrokenError
from payintents.service.dependencies import Dependencies
from payintents.service.ports import StoreBusyError, UnitOfWork
from payintents.service.transactions import ThreadedTransactions
from tests.support import backend_database_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite(sqlite_url: str) -> Iterator[tuple[Dependencies, Engine]]:
    engine = make_engine(sqlite_url)
    deps = build_dependencies(Settings(database_url=sqlite_url), engine=engine)
    yield deps, engine
    deps.runner().close()
    engine.dispose()


def add_account(account_id: str, *, then_refuse: bool = False) -> Callable[[UnitOfWork], str]:
    def unit(uow: UnitOfWork) -> str:
        uow.accounts.add(account_id, account_id, [], datetime.now(UTC))
        if then_refuse:
            raise RuleBrokenError("refused after writing")
        return account_id

    return unit


def accounts_of(deps: Dependencies) -> set[str]:
    with deps.read() as uow:
        return {name for name in ("a0", "a1", "a2", "a3", "a4") if uow.accounts.exists(name)}


def held_by_a_thread(deps: Dependencies, release: threading.Event) -> threading.Thread:
    """A thread of this process writing through ``deps.uow`` (as the CLI or the request log would)
    and holding the database until ``release``; returns once it holds it."""
    holding = threading.Event()

    def hold() -> None:
        with deps.uow() as uow:
            holding.set()
            release.wait(10)
            uow.commit()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    return thread


def test_bootstrap_chooses_the_runner_by_database(sqlite: tuple[Dependencies, Engine]) -> None:
    deps, _ = sqlite
    assert isinstance(deps.runner(), SqliteTransactions)
    postgres = build_dependencies(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    assert isinstance(postgres.runner(), ThreadedTransactions)


def test_sqlite_units_waiting_together_share_a_commit_and_a_failing_one_rolls_back_alone(
    sqlite: tuple[Dependencies, Engine],
) -> None:
    deps, engine = sqlite
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: begins.append(sql))
    release = threading.Event()
    holder = held_by_a_thread(deps, release)

    async def five_writes() -> list[Any]:
        units = [add_account(f"a{n}", then_refuse=n == 2) for n in range(5)]
        writes = asyncio.gather(*(deps.runner().write(unit) for unit in units), return_exceptions=True)
        await asyncio.sleep(0.2)  # all five queue behind the thread
        release.set()
        return await writes

    begins.clear()
    results = asyncio.run(five_writes())
    holder.join(10)
    assert results[:2] == ["a0", "a1"] and results[3:] == ["a3", "a4"]
    assert isinstance(results[2], RuleBrokenError)
    assert accounts_of(deps) == {"a0", "a1", "a3", "a4"}
    # The writer had taken at most the first unit before the gate closed; the rest went together.
    assert 1 <= sum(sql.startswith("BEGIN") for sql in begins) <= 2


def test_sqlite_a_batch_whose_commit_fails_fails_every_unit_of_it(
    sqlite: tuple[Dependencies, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    deps, _ = sqlite

    class CommitFails(SqlUnitOfWork):
        def commit(self, durable: bool = True) -> None:
            if self._within is None:  # the batch's own transaction, not a unit's savepoint
                raise StoreBusyError("disk full")
            super().commit(durable)

    monkeypatch.setattr(sqlite_writer, "SqlUnitOfWork", CommitFails)
    release = threading.Event()
    holder = held_by_a_thread(deps, release)

    async def three_writes() -> list[Any]:
        writes = asyncio.gather(
            *(deps.runner().write(add_account(f"a{n}")) for n in range(3)), return_exceptions=True
        )
        await asyncio.sleep(0.2)
        release.set()
        return await writes

    results = asyncio.run(three_writes())
    holder.join(10)
    assert all(isinstance(result, StoreBusyError) for result in results), results
    assert accounts_of(deps) == set()


def statements_of(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: seen.append(sql))
    return seen


def synchronous_setting(engine: Engine) -> list[int]:
    """``PRAGMA synchronous`` on every pooled connection (2 is FULL)."""
    settings = []
    connections = [engine.connect() for _ in range(engine.pool.checkedin())]
    for conn in connections:
        settings.append(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
        conn.close()
    return settings


def test_sqlite_a_batch_of_non_durable_writes_skips_the_sync_and_a_durable_unit_keeps_it(
    sqlite: tuple[Dependencies, Engine],
) -> None:
    """ADR 0030: the batch's commit syncs the log when any of its units asked for a durable write;
    the relaxed setting never outlives its transaction on the pooled connection."""
    deps, engine = sqlite
    seen = statements_of(engine)
    asyncio.run(deps.runner().write(add_account("a0"), durable=False))
    assert seen.count("PRAGMA synchronous=NORMAL") == 1
    assert seen[-1] == "PRAGMA synchronous=FULL"  # taken back once the batch committed
    assert accounts_of(deps) == {"a0"}
    release = threading.Event()
    holder = held_by_a_thread(deps, release)

    async def mixed_batch() -> list[Any]:
        writes = asyncio.gather(
            deps.runner().write(add_account("a1"), durable=False), deps.runner().write(add_account("a2"))
        )
        await asyncio.sleep(0.2)  # both queue behind the thread, into one batch
        release.set()
        return await writes

    seen.clear()
    assert asyncio.run(mixed_batch()) == ["a1", "a2"]
    holder.join(10)
    assert "PRAGMA synchronous=NORMAL" not in seen
    assert accounts_of(deps) == {"a0", "a1", "a2"}
    assert set(synchronous_setting(engine)) == {2}


def test_sqlite_the_loop_keeps_answering_while_another_writer_holds_the_database(
    sqlite: tuple[Dependencies, Engine],
) -> None:
    deps, _ = sqlite
    release = threading.Event()
    holder = held_by_a_thread(deps, release)
    ticks: list[float] = []

    async def write_while_ticking() -> tuple[str, float]:
        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        write = asyncio.create_task(deps.runner().write(add_account("a0")))
        await asyncio.sleep(0.3)
        assert not write.done()  # it waits for the thread's transaction...
        released_at = time.monotonic()
        release.set()
        written = await write
        ticker.cancel()
        return written, released_at

    written, released_at = asyncio.run(write_while_ticking())
    holder.join(10)
    assert written == "a0" and accounts_of(deps) == {"a0"}
    assert len([at for at in ticks if at < released_at]) >= 15  # ...and the loop ran meanwhile


def test_sqlite_the_writer_takes_turns_with_another_process(
    sqlite: tuple[Dependencies, Engine], sqlite_url: str
) -> None:
    # Another engine with a gate of its own: its lock file descriptor is another process's.
    deps, _ = sqlite
    other = make_engine(sqlite_url)
    other_gate = make_write_gate(other)
    release = threading.Event()
    other_process = held_by_a_thread(
        Dependencies(uow=lambda: SqlUnitOfWork(other, gate=other_gate), clock=deps.clock, ids=deps.ids,
                     processor=deps.processor),
        release,
    )  # fmt: skip

    async def write_then_release() -> float:
        write = asyncio.create_task(deps.runner().write(add_account("a0")))
        await asyncio.sleep(0.2)
        assert not write.done()
        released_at = time.monotonic()
        release.set()
        await write
        return released_at

    released_at = asyncio.run(write_then_release())
    other_process.join(10)
    assert time.monotonic() >= released_at and accounts_of(deps) == {"a0"}
    other.dispose()


def test_sqlite_a_write_kept_out_for_the_lock_timeout_answers_busy(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    deps = build_dependencies(
        Settings(database_url=sqlite_url, timeouts=Timeouts(lock_ms=300)), engine=engine
    )
    release = threading.Event()
    holder = held_by_a_thread(deps, release)

    async def write() -> float:
        started = time.monotonic()
        with pytest.raises(StoreBusyError):
            await deps.runner().write(add_account("a0"))
        return time.monotonic() - started

    try:
        assert 0.25 <= asyncio.run(write()) < 2
    finally:
        release.set()
        holder.join(10)
    assert accounts_of(deps) == set()
    engine.dispose()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[tuple[Dependencies, Engine]]:
    with backend_database_url("postgres", tmp_path) as url:
        engine = make_engine(url, pool_size=2)
        upgrade(engine)
        deps = build_dependencies(Settings(database_url=url, pool_size=2), engine=engine)
        yield deps, engine
        deps.runner().close()
        engine.dispose()


@pytest.mark.postgres
def test_postgres_a_non_durable_write_turns_the_commit_flush_off_for_its_own_transaction(
    postgres: tuple[Dependencies, Engine],
) -> None:
    deps, engine = postgres
    seen = statements_of(engine)
    asyncio.run(deps.runner().write(add_account("a0"), durable=False))
    assert seen.count(POSTGRES_COMMIT_NOT_FLUSHED) == 1
    asyncio.run(deps.runner().write(add_account("a1")))
    assert seen.count(POSTGRES_COMMIT_NOT_FLUSHED) == 1
    assert accounts_of(deps) == {"a0", "a1"}
    for _ in range(2):  # SET LOCAL ends with its transaction, on every pooled connection
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"


@pytest.mark.postgres
def test_postgres_a_unit_waiting_for_a_row_holds_up_neither_the_loop_nor_other_units(
    postgres: tuple[Dependencies, Engine],
) -> None:
    deps, engine = postgres
    asyncio.run(deps.runner().write(add_account("a0")))

    def rename(uow: UnitOfWork) -> None:
        conn = uow.accounts._conn  # type: ignore[attr-defined]
        conn.execute(text("UPDATE accounts SET name = 'renamed' WHERE id = 'a0'"))

    async def blocked_rename_then_others() -> list[Any]:
        with engine.connect() as holder:
            holder.execute(text("UPDATE accounts SET name = 'held' WHERE id = 'a0'"))  # row locked
            blocked = asyncio.create_task(deps.runner().write(rename))
            await asyncio.sleep(0.2)
            others = await asyncio.gather(
                deps.runner().write(add_account("a1")),
                deps.runner().write(add_account("a2", then_refuse=True)),
                return_exceptions=True,
            )
            assert not blocked.done()
            holder.rollback()
        await blocked
        return others

    others = asyncio.run(blocked_rename_then_others())
    assert others[0] == "a1" and isinstance(others[1], RuleBrokenError)
    assert accounts_of(deps) == {"a0", "a1"}
