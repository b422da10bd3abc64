"""The ``payintents bench`` command line: its flags, and the exit status (audit clean or not).

The benchmark itself (HTTP load, servers, SQL ceiling) is imported when the command runs, so
``payintents --help`` does not load it."""

from __future__ import annotations

import argparse
import json
import os
import sys

from payintents.benchmark.config import HOT, MANY, BenchConfig

POSTGRES_URL_ENV = "PAYINTENTS_BENCH_POSTGRES_URL"
DEFAULTS = BenchConfig()
SMOKE = {"refunds": 300, "intents": 20, "gets": 100, "open_loop_refunds": 150, "concurrency": 8}


def add_bench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure refunds/s and latency over HTTP against the bare-SQL ceiling",
        description="Start payintents serve on a scratch database, drive refunds at it from a separate "
        "process, measure the bare SQL of a refund on the same kind of database, then audit.",
    )
    bench.add_argument(
        "--backend", choices=("sqlite", "postgres"), default="sqlite", help="the store (default sqlite)"
    )
    bench.add_argument(
        "--postgres-url",
        metavar="URL",
        default=os.environ.get(POSTGRES_URL_ENV, "postgresql://postgres@127.0.0.1:5432/test"),
        help=f"PostgreSQL database for --backend postgres; scratch schemas are made and dropped "
        f"(default ${POSTGRES_URL_ENV} or the local test database)",
    )
    bench.add_argument(
        "--mode",
        choices=(MANY, HOT, "both"),
        default="both",
        help="refunds spread over many intents, on one hot intent, or both (default both)",
    )
    bench.add_argument(
        "--workers",
        type=int,
        action="append",
        metavar="N",
        help="server workers (repeatable; default 1 and 2)",
    )
    _add_size_options(bench)
    bench.add_argument("--growth", action="store_true", help="also measure after loading a large history")
    bench.add_argument("--smoke", action="store_true", help="a short run that only shows it works")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.set_defaults(handler=cmd_bench)


def _add_size_options(bench: argparse.ArgumentParser) -> None:
    sizes = {
        "--concurrency": (DEFAULTS.concurrency, "clients sending at once"),
        "--refunds": (DEFAULTS.refunds, "refunds per measurement"),
        "--intents": (DEFAULTS.intents, "intents the many mode spreads them over"),
        "--gets": (DEFAULTS.gets, "GET /payment-intents/{id} requests after the refunds"),
        "--open-loop-refunds": (
            DEFAULTS.open_loop_refunds,
            "open-loop refunds at half the rate",
        ),
        "--history-intents": (DEFAULTS.history_intents, "captured intents loaded for --growth"),
        "--history-refunds-per-intent": (DEFAULTS.history_refunds_per_intent, "refunds on each of them"),
    }
    for flag, (default, meaning) in sizes.items():
        bench.add_argument(
            flag, type=int, default=default, metavar="N", help=f"{meaning} (default {default})"
        )


def config_from(args: argparse.Namespace) -> BenchConfig:
    sizes = {
        "concurrency": args.concurrency, "refunds": args.refunds, "intents": args.intents, "gets": args.gets,
        "open_loop_refunds": args.open_loop_refunds,
    }  # fmt: skip
    if args.smoke:
        sizes = SMOKE
    return BenchConfig(
        postgres_url=args.postgres_url if args.backend == "postgres" else None,
        modes=(MANY, HOT) if args.mode == "both" else (args.mode,),
        workers=tuple(args.workers or (1, 2)),
        growth=args.growth,
        history_intents=args.history_intents,
        history_refunds_per_intent=args.history_refunds_per_intent,
        progress=not args.json and sys.stderr.isatty(),
        **sizes,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from payintents.benchmark.report import as_json, as_text
    from payintents.benchmark.run import run_benchmark

    report = run_benchmark(config_from(args))
    print(json.dumps(as_json(report), indent=2) if args.json else as_text(report))
    return 0 if report.ok else 1
