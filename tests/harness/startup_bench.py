"""Start-up figures, best of N runs each (targets, docs/performance.md "Start-up": ``--version`` and
``--help`` within 0.3 s, ``serve`` answering within 1.5 s on an empty SQLite file, the pytest
plugin's session set-up within 1.5 s). Figures, never assertions: docs/performance.md keeps them.

    .venv/bin/python -m tests.harness.startup_bench              # best of 5
    .venv/bin/python -m tests.harness.startup_bench --runs 10 --json

Each figure is a whole process as a person starts it, timed from outside with a wall clock:

- ``version``, ``help``: ``.venv/bin/payintents --version`` / ``--help`` until it exits.
- ``serve``: ``payintents serve`` on a new, empty SQLite file until ``/health/ready`` answers 200
  (polled every 5 ms over a fresh connection), so it includes migrating the empty database and
  creating the demo account.
- ``*_cpu``: the CPU time (user + system) that process used, until it exited or answered. On a
  busy machine the wall times wait for a core; the CPU times say what an idle one would take.
- ``pytest_setup``: a one-test file that uses the ``payintents`` fixture, run by ``.venv/bin/pytest
  -p no:cacheprovider`` in a scratch folder; the figure is the first test's setup as pytest's
  ``--durations`` reports it (the plugin's session: a server on a temporary database, then a
  reset). ``pytest_total`` is that whole pytest process, plugin imports included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from payintents.testbed.processes import free_port, process_stat, stop
from payintents.testbed.readiness import wait_until_ready

BIN = Path(sys.executable).parent
# The target for each figure (docs/performance.md); the CPU figures (what the process itself used: on an idle
# machine its wall time comes close to them) and the whole pytest run have none.
TARGETS_S: dict[str, float | None] = {
    "version": 0.3,
    "version_cpu": None,
    "help": 0.3,
    "help_cpu": None,
    "serve": 1.5,
    "serve_cpu": None,
    "pytest_setup": 1.5,
    "pytest_total": None,
}
# Start-up is what is measured here: poll far more often than a test needs to.
POLL_INTERVAL_S = 0.005
PLUGIN_TEST = """
def test_the_fixture_is_ready(payintents):
    assert payintents is not None
"""


def timed_exit(name: str, command: list[str]) -> dict[str, float]:
    """The command's wall time until it exited, and the CPU time it used."""
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return {name: time.perf_counter() - started, f"{name}_cpu": _children_cpu_s() - cpu_before}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def serve_until_ready(folder: Path) -> dict[str, float]:
    """Seconds from starting ``payintents serve`` on an empty SQLite file to its first 200 on
    ``/health/ready``, and the CPU time the server used until then."""
    port = free_port()
    database = folder / f"empty-{time.monotonic_ns()}.db"
    command = [str(BIN / "payintents"), "serve", "--port", str(port), "--database", f"sqlite:///{database}"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url, process, None, path="/health/ready", poll_interval_s=POLL_INTERVAL_S)
        return {"serve": time.perf_counter() - started, "serve_cpu": process_stat(process.pid).cpu_s}
    finally:
        stop(process)


def pytest_plugin_run(folder: Path) -> dict[str, float]:
    """The first test's setup as pytest reports it, and the whole pytest process, in seconds."""
    test_file = folder / "test_startup_plugin.py"
    test_file.write_text(PLUGIN_TEST)
    command = [str(BIN / "pytest"), "-p", "no:cacheprovider", "-q", "--durations=0", "--durations-min=0"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    done = subprocess.run(
        [*command, test_file.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    total_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the plugin's test failed:\n{done.stdout}\n{done.stderr}")
    setup = re.search(r"^([0-9.]+)s setup\s+test_startup_plugin\.py::", done.stdout, re.MULTILINE)
    if setup is None:
        raise RuntimeError(f"pytest reported no setup duration:\n{done.stdout}")
    return {"pytest_setup": float(setup[1]), "pytest_total": total_s}


def machine() -> dict[str, object]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return {
        "cpu": model[1] if model else platform.processor(),
        "cores": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def measure(runs: int, folder: Path) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in TARGETS_S}
    steps: list[Callable[[], dict[str, float]]] = [
        lambda: timed_exit("version", [str(BIN / "payintents"), "--version"]),
        lambda: timed_exit("help", [str(BIN / "payintents"), "--help"]),
        lambda: serve_until_ready(folder),
        lambda: pytest_plugin_run(folder),
    ]
    for _ in range(runs):
        for step in steps:
            for name, seconds in step().items():
                samples[name].append(seconds)
    return samples


def as_text(samples: dict[str, list[float]], about: dict[str, object]) -> str:
    lines = [
        f"machine: {about['cpu']}, {about['cores']} cores, load {about['load_average_1m_at_start']} "
        f"at start, Python {about['python']}",
        f"{'what':<14}{'best':>8}{'median':>9}{'worst':>8}  target",
    ]
    for name, values in samples.items():
        ordered = sorted(values)
        target = TARGETS_S[name]
        lines.append(
            f"{name:<14}{ordered[0]:>7.3f}s{ordered[len(ordered) // 2]:>8.3f}s{ordered[-1]:>7.3f}s  "
            + (f"≤ {target} s (best {'meets' if ordered[0] <= target else 'MISSES'} it)" if target else "")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--json", action="store_true", help="print the samples as JSON")
    args = parser.parse_args()
    about = machine()
    with tempfile.TemporaryDirectory(prefix="payintents-startup-") as folder:
        samples = measure(args.runs, Path(folder))
    if args.json:
        print(json.dumps({"machine": about, "samples_s": samples}, indent=2))
    else:
        print(as_text(samples, about))


if __name__ == "__main__":
    main()
