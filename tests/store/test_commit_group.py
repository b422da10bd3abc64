"""SQLite group commit (ADR 0012): the writes of one event-loop turn share one commit.

Each member behaves as a transaction of its own (its failure rolls back only its savepoint); none is
visible to other connections, nor answered, before the group's commit is durable; a failed group
commit fails every member and applies nothing; the next turn opens a new group. Outside the event
loop, units of work commit one by one as before.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from payintents.adapters.sql import commit_group
from payintents.adapters.sql.engine import make_engine, write_gate
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.store import SqlUnitOfWork
from payintents.service.ports import StoreBusyError
from payintents.service.waiting import EventLoopWork, without_waiting

NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'group.db'}", pool_size=2)
    upgrade(made)
    return made


def add_account(engine: Engine, account_id: str) -> EventLoopWork:
    """One request's write on the event loop; its work says what its answer waits for."""
    with without_waiting() as work, SqlUnitOfWork(engine) as uow:
        uow.accounts.add(account_id, account_id, [], NOW)
        uow.commit()
    return work


def stored(engine: Engine) -> int:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        return uow.accounts.count()


def test_one_loop_turn_shares_one_commit_and_answers_after_it(engine: Engine) -> None:
    async def turn() -> None:
        first, second = add_account(engine, "acc_1"), add_account(engine, "acc_2")
        assert first.commits and first.commits == second.commits  # one group
        assert stored(engine) == 0  # nothing visible (nor answered) before the commit
        await first.durable()
        await second.durable()
        assert stored(engine) == 2
        third = add_account(engine, "acc_3")  # a later turn: a new group
        assert third.commits != first.commits
        await third.durable()

    asyncio.run(turn())
    assert stored(engine) == 3
    gate = write_gate(engine)
    assert gate is not None and not gate._thread_lock.locked()


def test_a_failed_member_rolls_back_alone(engine: Engine) -> None:
    class RefusedError(Exception):
        pass

    async def turn() -> None:
        kept = add_account(engine, "acc_kept")
        with pytest.raises(RefusedError), without_waiting() as failed, SqlUnitOfWork(engine) as uow:
            uow.accounts.add("acc_failed", "acc_failed", [], NOW)
            raise RefusedError
        await failed.durable()
        await kept.durable()

    asyncio.run(turn())
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.accounts.count() == 1
    assert account_ids(engine) == ["acc_kept"]


def account_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM accounts ORDER BY id"))]


def test_cancelling_one_request_leaves_the_others_their_commit(engine: Engine) -> None:
    async def request(account_id: str) -> None:
        await add_account(engine, account_id).durable()

    async def turn() -> None:
        first = asyncio.ensure_future(request("acc_1"))
        second = asyncio.ensure_future(request("acc_2"))
        await asyncio.sleep(0)  # both joined the group and wait for its commit
        first.cancel()  # e.g. the server cancelling that request's task
        await second  # the shared commit was neither cancelled nor lost
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(turn())
    assert account_ids(engine) == ["acc_1", "acc_2"]  # the cancelled one had committed too


def test_a_failed_group_commit_fails_every_member_and_applies_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: commit_group.CommitGroup) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    async def turn() -> None:
        first, second = add_account(engine, "acc_1"), add_account(engine, "acc_2")
        for work in (first, second):
            with pytest.raises(StoreBusyError):
                await work.durable()

    monkeypatch.setattr(commit_group.CommitGroup, "_commit_transaction", failing_commit)
    asyncio.run(turn())
    monkeypatch.undo()
    assert stored(engine) == 0
    asyncio.run(_one_more(engine))  # the gate was released and the next group commits
    assert stored(engine) == 1


async def _one_more(engine: Engine) -> None:
    await add_account(engine, "acc_after").durable()


def test_off_the_event_loop_each_unit_of_work_commits_itself(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.accounts.add("acc_thread", "acc_thread", [], NOW)
        uow.commit()
    assert stored(engine) == 1
