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

For each it prints refunds/s, the ratio to the ceiling, p50/p99, the workers' CPU, PostgreSQL's CPU
and the machine's idle share, measured by the benchmark's own code (``measure_http``, no GETs). If
"no write" is already below half the ceiling, no server that writes can get there on this
machine (docs/performance.md, "The bounds"). Every database is audited as the benchmark does; the
bounded servers skip the product's rules (see ``bounded_app``), so only the real server's audit
means anything, and none is judged.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from payintents.benchmark.config import MANY, BenchConfig
from payintents.benchmark.report import run_figures
from payintents.benchmark.run import measure_ceiling, measure_http
from tests.harness.bounded_app import WRITE_ENV

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BOUNDED_APP = "tests.harness.bounded_app"


@contextmanager
def _write_for_workers(variant: str) -> Iterator[None]:
    """The bounded write every worker the next server spawns reads from its environment."""
    os.environ[WRITE_ENV] = variant
    try:
        yield
    finally:
        del os.environ[WRITE_ENV]


def _measure(
    variant: str, config: BenchConfig, workers: int, folder: Path, ceiling_per_s: float
) -> dict[str, Any]:
    # A folder per server: each gets a database of its own (a SQLite file is named by mode and workers).
    folder = folder / variant
    folder.mkdir(exist_ok=True)
    if variant == "real":
        run = measure_http(config, MANY, workers, folder)
    else:
        with _write_for_workers(variant):
            run = measure_http(config, MANY, workers, folder, app_module=BOUNDED_APP)
    if not run.answered_ok:
        raise RuntimeError(f"{variant}: not every refund answered 200: {run.refunds.statuses}")
    return run_figures(run, ceiling_per_s)


def _row(variant: str, workers: int, f: dict[str, Any]) -> str:
    name = {"none": "no write", "one-statement": "one statement"}.get(variant, variant)
    ms, cpu, db = f["refundLatencyMs"], sum(f["serverCpuPercentPerWorker"]), f["databaseCpuPercent"]
    return (
        f"{name:<14} {workers:>7} {f['refundsPerS']:>9,.0f} {f['ratioToCeiling']:>6.2f} {ms['p50']:>6.1f} "
        f"{ms['p99']:>6.1f} {cpu:>13.0f} {db or 0:>8.0f} {f['machineIdlePercent']:>6.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.refund_bounds", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--refunds", type=int, default=8_000)
    args = parser.parse_args()
    postgres_url = args.postgres_url if args.backend == "postgres" else None
    config = BenchConfig(postgres_url=postgres_url, refunds=args.refunds, gets=0, progress=False)
    variants = ["real", "none", "one-statement"] if postgres_url else ["real", "none"]
    with tempfile.TemporaryDirectory(prefix="payintents-bounds-") as folder:
        ceiling = measure_ceiling(config, MANY, Path(folder)).per_s
        print(f"{args.backend}, many intents, concurrency {config.concurrency}: ceiling {ceiling:,.0f}/s")
        print(f"{'server':<14} {'workers':>7} {'refunds/s':>9} {'ratio':>6} {'p50':>6} {'p99':>6} "
              f"{'workers cpu %':>13} {'db cpu %':>8} {'idle %':>6}")  # fmt: skip
        for workers in args.workers or [1, 2]:
            for variant in variants:
                f = _measure(variant, config, workers, Path(folder), ceiling)
                print(_row(variant, workers, f), flush=True)


if __name__ == "__main__":
    main()
