"""What PostgreSQL's refund write path costs the client, without HTTP: refunds through the service
and its transaction runner, ``--concurrency`` at a time, in one process.

    python -m tests.harness.write_path [--refunds 2000] [--rounds 4] [--concurrency 8] \\
        [--alternate-pre-ping] [--postgres-url URL]

The intents are made through a real ``payintents serve`` (then stopped); the refunds call
``create_refund`` directly, with authentication done once. Each round prints the process's CPU per
refund and refunds per second. ``--alternate-pre-ping`` runs every round twice, with SQLAlchemy's
pool pre-ping switched on and then off on the engine's pool (ADR 0016's figures). To compare two
trees, run it with ``PYTHONPATH=<tree>/src`` for each, in alternation: the whole bench over HTTP
varies too much on a 2-core machine to show a change of 10-20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import uvloop
from sqlalchemy.pool import Pool

from payintents.adapters.sql.engine import make_engine
from payintents.benchmark.run import captured_intents, new_account
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import Scope
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service.accounts import hash_key
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import IdempotentRequest
from payintents.service.ports import RequestContext
from payintents.service.refunds import create_refund
from payintents.testbed.databases import scratch_database
from payintents.testbed.processes import running_server


def render(outcome: RefundOutcome) -> StoredResponse:
    return StoredResponse(200, f'{{"refundId":"{outcome.refund.id}"}}'.encode())


async def refund_many(
    deps: Dependencies, scope: Scope, ids: list[str], count: int, concurrency: int, tag: str
) -> None:
    admitted = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        intent_id = ids[i % len(ids)]
        request = IdempotentRequest(f"{tag}-{i}", f"refund:{intent_id}", "fingerprint")
        wanted = RefundRequest(amount=1 + i % 50)
        async with admitted:
            await create_refund(deps, RequestContext(), scope, intent_id, wanted, request, render)

    await asyncio.gather(*(one(i) for i in range(count)))


async def rounds(
    deps: Dependencies, pool: Pool, scope: Scope, ids: list[str], args: argparse.Namespace
) -> None:
    await refund_many(deps, scope, ids, args.refunds, args.concurrency, "warm-up")
    variants = (True, False) if args.alternate_pre_ping else (None,)
    for round_number in range(args.rounds):
        for pre_ping in variants:
            if pre_ping is not None:
                # A measurement switch only: SQLAlchemy reads this attribute at every checkout.
                pool._pre_ping = pre_ping
            cpu_s, wall_s = time.process_time(), time.perf_counter()
            await refund_many(deps, scope, ids, args.refunds, args.concurrency, f"r{round_number}-{pre_ping}")
            cpu_us = 1e6 * (time.process_time() - cpu_s) / args.refunds
            rate = args.refunds / (time.perf_counter() - wall_s)
            label = "" if pre_ping is None else f" pre-ping {'on ' if pre_ping else 'off'}"
            print(f"round {round_number}{label}: {cpu_us:6.0f} µs of CPU per refund, {rate:5.0f} refunds/s")
    deps.runner().close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--refunds", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--alternate-pre-ping", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        scratch_database(args.postgres_url, Path(folder), "writes") as url,
    ):
        key = new_account(url)
        with running_server(url, 1, Path(folder) / "server.log") as server:
            ids = captured_intents(server.base_url, key, 200, 10**9)
        engine = make_engine(url)
        deps = build_dependencies(Settings(database_url=url), engine=engine)
        record = deps.key_lookup(hash_key(key))
        assert record is not None
        uvloop.run(rounds(deps, engine.pool, Scope(record.account_id, record.environment), ids, args))


if __name__ == "__main__":
    main()
