"""PostgreSQL work on the event loop through the suspending runner (ADR 0014).

Against a real PostgreSQL: a query that waits suspends only its own work, where the synchronous
engine holds up the whole loop (the negative control); a request whose refund waits for a row
another transaction holds is suspended while the same worker's loop answers other requests, and
the refund then applies once. The runner's admission, on a real event loop: at most
``pool_size`` pieces of work at once, started in order of arrival, and work on one key one at a
time (with a negative control for the key check).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.util.concurrency import await_
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.adapters.sql.suspending import SuspendingRunner, runner_for
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.service.ports import StoreBusyError
from payintents.web import endpoint
from payintents.web.app import build_app
from tests.support import Api

HOLD_S = 0.5


# The admission tests never connect: the runner's engine opens connections only when used.
UNUSED_URL = "postgresql://nobody@127.0.0.1:1/unused"


@pytest.mark.postgres
def test_only_postgres_engines_get_a_runner(tmp_path: Path, postgres_url: str) -> None:
    sqlite = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    postgres = make_engine(postgres_url, pool_size=1)
    assert runner_for(sqlite) is None
    runner = runner_for(postgres)
    assert isinstance(runner, SuspendingRunner)
    assert runner.engine.dialect.is_async
    sqlite.dispose()
    postgres.dispose()


def _finished_in_order(postgres_url: str, *, suspending: bool) -> list[str]:
    """A 0.3 s query and a quick one started together on one event loop: which ended first."""
    engine = make_engine(postgres_url, pool_size=2)
    runner = runner_for(engine)
    assert runner is not None
    finished: list[str] = []

    def query(name: str, sleep_s: float) -> None:
        with (runner.engine if suspending else engine).connect() as conn:
            conn.execute(text("SELECT pg_sleep(:s)"), {"s": sleep_s})
        finished.append(name)

    async def run(name: str, sleep_s: float) -> None:
        if suspending:
            await runner.run(query, name, sleep_s)
        else:
            query(name, sleep_s)  # the synchronous engine, straight on the loop

    async def both() -> None:
        await asyncio.gather(run("slow", 0.3), run("quick", 0))
        await runner.close()

    asyncio.run(both())
    engine.dispose()
    return finished


@pytest.mark.postgres
def test_a_database_wait_suspends_only_its_own_work(postgres_url: str) -> None:
    assert _finished_in_order(postgres_url, suspending=True) == ["quick", "slow"]


@pytest.mark.postgres
def test_negative_control_on_the_synchronous_engine_the_wait_holds_up_the_loop(postgres_url: str) -> None:
    assert _finished_in_order(postgres_url, suspending=False) == ["slow", "quick"]


@contextlib.contextmanager
def app_on(postgres_url: str, pool_size: int) -> Iterator[tuple[Engine, Api]]:
    """The app on one event loop (its runner's), and a sandbox-key client of a new account. Its
    sessions carry an application name of their own, so ``lock_waiters`` counts only them, not
    those of tests running beside it on the same database."""
    postgres_url = make_url(postgres_url).update_query_dict(
        {"application_name": f"app_on_{secrets.token_hex(4)}"}
    )
    postgres_url = postgres_url.render_as_string(hide_password=False)
    engine = make_engine(postgres_url, pool_size=pool_size)
    deps = build_dependencies(Settings(database_url=postgres_url), engine=engine)
    try:
        with TestClient(build_app(deps), base_url="http://testserver") as client:
            yield engine, Api(client, create_account(deps, "merchant").sandbox_key)
    finally:
        engine.dispose()


@contextlib.contextmanager
def row_held(engine: Engine, intent_id: str) -> Iterator[None]:
    """Another session holds the intent's row until the block ends."""
    with engine.begin() as conn:
        conn.execute(text("SELECT 1 FROM payment_intents WHERE id = :id FOR UPDATE"), {"id": intent_id})
        yield


@pytest.mark.postgres
def test_a_refund_waiting_for_a_locked_row_leaves_the_loop_serving(postgres_url: str) -> None:
    with app_on(postgres_url, pool_size=2) as (engine, api):
        held, other = api.captured_intent(1000), api.captured_intent(1000)
        answered: list[int] = []
        with row_held(engine, held):
            waiting = threading.Thread(target=lambda: answered.append(api.refund(held, 300).status_code))
            waiting.start()
            wait_for_a_lock_wait(engine)  # the refund is now queued on the row
            started = time.monotonic()
            # The same worker, the same loop: another intent's refund and a read answer at once.
            assert api.refund(other, 100).status_code == 200
            assert api.intent(other)["refundedAmount"] == 100
            served_in_s = time.monotonic() - started
            assert answered == []  # still waiting for the row
            time.sleep(HOLD_S)
        waiting.join(10)
        assert answered == [200]
        assert served_in_s < HOLD_S
        assert api.intent(held)["refundedAmount"] == 300


def wait_for_a_lock_wait(engine: Engine) -> None:
    """Until another session of this database waits for a lock."""
    for _ in range(500):
        if lock_waiters(engine):
            return
        time.sleep(0.01)
    raise AssertionError("the refund never waited for the row")


async def _run_all(runner: SuspendingRunner, keys: list[str | None], *, keyed: bool = True) -> dict[str, Any]:
    """Start one piece of work per key, in order; what ran at once, and in which order."""
    running: list[str | None] = []
    seen: dict[str, Any] = {"most": 0, "started": [], "one_key_twice": False}

    def work(index: int, key: str | None) -> None:
        seen["one_key_twice"] |= key is not None and key in running
        running.append(key)
        seen["most"] = max(seen["most"], len(running))
        seen["started"].append(index)
        await_(asyncio.sleep(0.01))  # as a database wait does: suspends only this piece
        running.remove(key)

    async def one(index: int, key: str | None) -> None:
        if key is None or not keyed:
            await runner.run(work, index, key)
            return
        async with runner.in_turn(key):
            await runner.run(work, index, key)

    tasks = []
    for index, key in enumerate(keys):
        tasks.append(asyncio.create_task(one(index, key)))
        await asyncio.sleep(0)  # arrivals in index order
    await asyncio.gather(*tasks)
    return seen


def test_at_most_pool_size_pieces_of_work_run_at_once_in_order_of_arrival() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=3, timeouts=Timeouts())
    seen = asyncio.run(_run_all(runner, [None] * 10))
    assert seen["most"] == 3
    assert seen["started"] == list(range(10))


def test_work_on_one_key_runs_one_at_a_time() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=4, timeouts=Timeouts())
    seen = asyncio.run(_run_all(runner, ["pi_a", "pi_a", "pi_b", "pi_a", "pi_b"]))
    assert not seen["one_key_twice"]
    assert seen["most"] == 2  # one per key, the two keys at once


def test_negative_control_the_same_work_without_its_keys_does_overlap() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=4, timeouts=Timeouts())
    seen = asyncio.run(_run_all(runner, ["pi_a", "pi_a", "pi_b", "pi_a", "pi_b"], keyed=False))
    assert seen["one_key_twice"]  # so the check above would see a key run twice
    assert seen["most"] == 4


def test_a_newcomer_does_not_take_a_freed_place_ahead_of_one_that_waited() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=1, timeouts=Timeouts())
    started: list[str] = []

    async def main() -> None:
        newcomer: list[asyncio.Task[None]] = []

        def first() -> None:
            started.append("first")
            await_(asyncio.sleep(0.01))
            # Arrives as the place is freed: runs only after the one already waiting.
            newcomer.append(asyncio.get_running_loop().create_task(runner.run(started.append, "newcomer")))

        holder = asyncio.create_task(runner.run(first))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(runner.run(started.append, "waiter"))
        await asyncio.gather(holder, waiter)
        await newcomer[0]

    asyncio.run(main())
    assert started == ["first", "waiter", "newcomer"]


def test_a_write_stuck_on_a_row_holds_up_writes_but_not_reads() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=1, timeouts=Timeouts())
    finished: list[str] = []

    def stuck() -> None:
        await_(asyncio.sleep(0.2))  # as a write waiting for another session's row lock
        finished.append("stuck write")

    async def main() -> None:
        stuck_write = asyncio.create_task(runner.run(stuck))
        await asyncio.sleep(0)
        other_write = asyncio.create_task(runner.run(finished.append, "other write"))
        read = asyncio.create_task(runner.run(finished.append, "read", writes=False))
        await asyncio.gather(stuck_write, other_write, read)

    asyncio.run(main())
    assert finished == ["read", "stuck write", "other write"]


def test_a_runner_refuses_a_second_event_loop() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=1, timeouts=Timeouts())
    asyncio.run(runner.run(int))
    with pytest.raises(RuntimeError, match="one event loop"):
        asyncio.run(runner.run(int))


def test_waiting_for_a_turn_or_a_place_ends_in_busy_after_the_lock_timeout() -> None:
    runner = SuspendingRunner(UNUSED_URL, pool_size=1, timeouts=Timeouts(lock_ms=50))

    def held() -> None:
        await_(asyncio.sleep(0.5))  # as a write waiting for another session's row

    async def main() -> tuple[float, float]:
        async def hold_turn() -> None:
            async with runner.in_turn("pi_held"):
                await runner.run(held)

        holder = asyncio.create_task(hold_turn())
        await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(StoreBusyError):
            async with runner.in_turn("pi_held"):
                pass
        turn_s = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(StoreBusyError):
            await runner.run(int)  # the one write place is taken too
        place_s = time.monotonic() - started
        await holder
        return turn_s, place_s

    turn_s, place_s = asyncio.run(main())
    # Each gives up after the 50 ms lock timeout, not after the holder's 500 ms.
    assert 0.04 < turn_s < 0.3 and 0.04 < place_s < 0.3


@pytest.mark.postgres
def test_a_read_and_a_write_each_find_a_connection_at_once(postgres_url: str) -> None:
    # One place each for reads and writes, and a pool timeout of 50 ms: a pool too small for both
    # would make one of them wait for the other's 300 ms query and fail.
    engine = make_engine(postgres_url, pool_size=1, timeouts=Timeouts(lock_ms=50))
    runner = runner_for(engine)
    assert runner is not None

    def query() -> None:
        with runner.engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.3)"))

    async def main() -> None:
        try:
            await asyncio.gather(runner.run(query), runner.run(query, writes=False))
        finally:
            await runner.close()

    asyncio.run(main())
    engine.dispose()


def refunds_waiting_for_a_row(postgres_url: str, refunds: int) -> int:
    """``refunds`` concurrent refunds of one intent while another session holds its row: how many
    of them queue in PostgreSQL for it (the rest wait for their turn in the worker)."""
    with app_on(postgres_url, pool_size=5) as (engine, api):
        intent_id = api.captured_intent(1000)
        answers: list[int] = []
        with row_held(engine, intent_id):
            threads = [
                threading.Thread(target=lambda: answers.append(api.refund(intent_id, 100).status_code))
                for _ in range(refunds)
            ]
            for thread in threads:
                thread.start()
            wait_for_a_lock_wait(engine)
            time.sleep(0.3)  # time for any other refund to reach the row too
            waiting = lock_waiters(engine)
        for thread in threads:
            thread.join(10)
        assert answers == [200] * refunds
        assert api.intent(intent_id)["refundedAmount"] == 100 * refunds
    return waiting


def lock_waiters(engine: Engine) -> int:
    """Sessions of the app (``app_on``) waiting for a lock now. From a connection of its own:
    inside a transaction PostgreSQL shows the activity it read first, again and again."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = current_setting('application_name') AND wait_event_type = 'Lock'"
        )
        return int(conn.execute(text(query)).scalar_one())


@pytest.mark.postgres
def test_writes_to_one_intent_take_turns_in_the_worker(postgres_url: str) -> None:
    assert refunds_waiting_for_a_row(postgres_url, 3) == 1


@pytest.mark.postgres
def test_negative_control_without_turns_every_write_queues_on_the_row(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint, "_turn_of", lambda *_args: contextlib.nullcontext())
    assert refunds_waiting_for_a_row(postgres_url, 3) == 3
