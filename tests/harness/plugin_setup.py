"""How long the pytest plugin's session setup takes (``payintents_server``: start ``payintents serve``
on a new SQLite file, wait until ready, know the account's key), beside how long ``serve`` alone
takes to answer ``/health/ready``, so the plugin's own share is visible; and what the per-test
fixture ``payintents`` adds to each test. Prints figures, asserts nothing.

    .venv/bin/python -m tests.harness.plugin_setup [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from payintents_client.pytest_plugin import (
    POLL_INTERVAL_S,
    server_command,
    server_port,
    start_server,
    stop_server,
)

from payintents.testbed.processes import stop
from payintents.testbed.readiness import wait_until_ready


def plugin_setup_s() -> float:
    with tempfile.TemporaryDirectory(prefix="plugin-setup-") as directory:
        started = time.perf_counter()
        server = start_server(Path(directory))
        elapsed = time.perf_counter() - started
        stop_server(server)
    return elapsed


def per_test_fixture_s(tests: int = 20) -> list[float]:
    """What the function fixture ``payintents`` costs each test: a client, and a sandbox reset."""
    with tempfile.TemporaryDirectory(prefix="plugin-per-test-") as directory:
        server = start_server(Path(directory))
        try:
            figures = []
            for _ in range(tests):
                started = time.perf_counter()
                with server.client() as client:
                    client.sandbox.reset()
                figures.append(time.perf_counter() - started)
            return figures
        finally:
            stop_server(server)


def serve_alone_s() -> float:
    """``serve`` on an empty SQLite file until ``/health/ready`` answers 200, nothing else."""
    with tempfile.TemporaryDirectory(prefix="serve-alone-") as directory:
        port = server_port()
        command = [
            *server_command(),
            "serve",
            "--database",
            f"sqlite:///{directory}/p.db",
            "--port",
            str(port),
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}"
            # As often as the plugin polls, so that the two figures compare.
            wait_until_ready(base_url, process, None, path="/health/ready", poll_interval_s=POLL_INTERVAL_S)
            return time.perf_counter() - started
        finally:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    for name, measure in (
        ("plugin session setup", plugin_setup_s),
        ("serve alone until ready", serve_alone_s),
    ):
        figures = [measure() for _ in range(runs)]
        print(
            f"{name}: best {min(figures):.2f} s, median {statistics.median(figures):.2f} s "
            f"of {runs} ({', '.join(f'{f:.2f}' for f in figures)})"
        )
    each = per_test_fixture_s()
    print(
        f"per-test fixture (client + reset): median {statistics.median(each) * 1000:.0f} ms, "
        f"best {min(each) * 1000:.0f} ms of {len(each)}"
    )


if __name__ == "__main__":
    main()
