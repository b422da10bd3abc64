"""How fast could refunds over HTTP be here, whatever the write path? Bounds beside the real server.

    python -m tests.harness.refund_bounds [--backend sqlite|postgres] [--workers 1 [2]]
        [--refunds 8000] [--postgres-url URL]

Runs the benchmark's load (32 clients, many intents, distinct keys) at three servers in turn, each
on a fresh scratch database, and measures the ceiling once, as ``payintents bench`` does:

- **real**: ``payintents serve``, every guarantee on;
- **no write**: the same server with the refund's transaction taken out (``bounded_app``, write
  ``none``): HTTP, authentication, validation, the answer and the request log only;
- **one statement** (PostgreSQL): the refund written as the ceiling's single statement, in
  autocommit, by the same server.

For each it prints refunds/s, the ratio to the ceiling, p50/p99, the workers' CPU, PostgreSQL's
CPU and the machine's idle share. If "no write" is already below half the ceiling, no write path
can meet the issue's ratio on this machine. The bounded servers skip the product's rules (see
``bounded_app``), so their databases are not audited.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from payintents.benchmark.databases import scratch_database
from payintents.benchmark.load import LoadPlan
from payintents.benchmark.machine import sample_machine, usage_between
from payintents.benchmark.report import latency_summary, rate_per_s
from payintents.benchmark.run import (
    WARM_UP_REFUNDS,
    BenchConfig,
    captured_intents,
    drive_load,
    measure_ceiling,
    new_account,
)
from payintents.benchmark.server import BenchServer, running_server
from tests.harness.bounded_app import WRITE_ENV

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
INTENTS = 500
# Room for every refund of a run on each intent (partial amounts of 1-100).
CAPACITY = 10**6


@contextmanager
def _server(variant: str, url: str, workers: int, folder: Path) -> Iterator[BenchServer]:
    log_path = folder / f"{variant}-{workers}.log"
    if variant == "real":
        with running_server(url, workers, log_path) as server:
            yield server
        return
    os.environ[WRITE_ENV] = variant  # read by every worker the server spawns
    try:
        with running_server(url, workers, log_path, app_module="tests.harness.bounded_app") as server:
            yield server
    finally:
        del os.environ[WRITE_ENV]


def _measure(variant: str, config: BenchConfig, workers: int, folder: Path) -> dict[str, float]:
    with scratch_database(config.postgres_url, folder, f"bound_{variant.replace('-', '_')}_{workers}") as url:
        key = new_account(url)
        with _server(variant, url, workers, folder) as server:
            ids = captured_intents(server.base_url, key, INTENTS, CAPACITY)
            # Its own label, so its idempotency keys differ from the measured refunds' keys.
            warm_up = LoadPlan("127.0.0.1", server.port, key, ids, WARM_UP_REFUNDS, 32, 100, label="warm-up")
            drive_load(warm_up, False)
            plan = LoadPlan("127.0.0.1", server.port, key, ids, config.refunds, config.concurrency, 100)
            postgres = config.postgres_url is not None
            workers_before, machine_before = server.sample_workers(), sample_machine(postgres=postgres)
            result = drive_load(plan, False)
            workers_after, machine_after = server.sample_workers(), sample_machine(postgres=postgres)
    elapsed_s = result.refunds.elapsed_s
    usage = usage_between(machine_before, machine_after)
    latency = latency_summary(result.refunds)
    worker_cpu_s = sum(a.cpu_s - b.cpu_s for a, b in zip(workers_after, workers_before, strict=True))
    if set(result.refunds.statuses) != {"200"}:
        raise RuntimeError(f"{variant}: not every refund answered 200: {result.refunds.statuses}")
    return {
        "per_s": rate_per_s(result.refunds),
        "p50": latency["p50"],
        "p99": latency["p99"],
        "workers_cpu": 100 * worker_cpu_s / elapsed_s,
        "db_cpu": 100 * (usage.database_cpu_s or 0.0) / elapsed_s,
        "idle": 100 * usage.idle_share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.refund_bounds", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--refunds", type=int, default=8_000)
    args = parser.parse_args()
    postgres_url = args.postgres_url if args.backend == "postgres" else None
    config = BenchConfig(postgres_url=postgres_url, refunds=args.refunds, progress=False)
    variants = ["real", "none", "one-statement"] if postgres_url else ["real", "none"]
    with tempfile.TemporaryDirectory(prefix="payintents-bounds-") as folder:
        ceiling = measure_ceiling(config, "many", Path(folder)).per_s
        print(f"{args.backend}, many intents, concurrency {config.concurrency}: ceiling {ceiling:,.0f}/s")
        print(f"{'server':<14} {'workers':>7} {'refunds/s':>9} {'ratio':>6} {'p50':>6} {'p99':>6} "
              f"{'workers cpu %':>13} {'db cpu %':>8} {'idle %':>6}")  # fmt: skip
        for workers in args.workers or [1, 2]:
            for variant in variants:
                f = _measure(variant, config, workers, Path(folder))
                name = {"none": "no write", "one-statement": "one statement"}.get(variant, variant)
                print(f"{name:<14} {workers:>7} {f['per_s']:>9,.0f} {f['per_s'] / ceiling:>6.2f} "
                      f"{f['p50']:>6.1f} {f['p99']:>6.1f} {f['workers_cpu']:>13.0f} {f['db_cpu']:>8.0f} "
                      f"{f['idle']:>6.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
