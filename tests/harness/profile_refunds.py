"""Where a refund's time goes: py-spy samples one server worker while refunds run at it.

    python -m tests.harness.profile_refunds [--backend sqlite|postgres] [--refunds 4000]
        [--concurrency 32] [--top 40] [--out /tmp/refunds.folded]

Prints the functions with the most samples, inclusive (on the stack) and self (on top), as a
share of all samples; the folded stacks are kept for flame graphs. py-spy comes with the dev
extras; figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from payintents.benchmark.load import LoadPlan
from payintents.benchmark.run import captured_intents, drive_load, new_account
from payintents.testbed.databases import scratch_database
from payintents.testbed.processes import running_server
from tests.harness.bounded_app import WRITE_ENV, WRITES


def summarise(folded: Path, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].split(":")[0] for frame in stack.split(";")
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy (installed with the dev extras) sampling every running thread of ``pid``."""
    py_spy = Path(sys.executable).parent / "py-spy"
    command = [
        str(py_spy),
        "record",
        "-p",
        str(pid),
        "-r",
        "200",
        "-f",
        "raw",
        "-o",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--refunds", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("/tmp/refunds.folded"))
    parser.add_argument(
        "--bounded-write", choices=WRITES, help="profile tests.harness.bounded_app with this write instead"
    )
    args = parser.parse_args()
    app_module = None
    if args.bounded_write:
        os.environ[WRITE_ENV] = args.bounded_write  # read by the server's worker
        app_module = "tests.harness.bounded_app"
    postgres = args.postgres_url if args.backend == "postgres" else None
    with tempfile.TemporaryDirectory() as folder, scratch_database(postgres, Path(folder), "profile") as url:
        key = new_account(url)
        with running_server(url, 1, Path(folder) / "server.log", app_module=app_module) as server:
            ids = captured_intents(server.base_url, key, 200, 10**9)
            plan = LoadPlan("127.0.0.1", server.port, key, ids, args.refunds, args.concurrency, 100)
            spy = start_py_spy(server.process.pid, args.out)
            time.sleep(1)
            started = time.perf_counter()
            result = drive_load(plan, show_progress=False)
            elapsed = time.perf_counter() - started
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=30)
    print(
        f"{len(result.refunds.latencies_ms)} refunds in {elapsed:.1f} s; statuses {result.refunds.statuses}"
    )
    print(summarise(args.out, args.top))


if __name__ == "__main__":
    main()
