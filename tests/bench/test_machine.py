"""The machine's CPU figures the benchmark prints, read from this machine's real /proc."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import psycopg
import pytest

from payintents.benchmark.machine import sample_machine, usage_between
from payintents.testbed.processes import all_processes, process_stat
from tests.support import postgres_admin_url, skip_without_postgres


def _spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def test_a_process_stat_counts_the_cpu_this_process_spent() -> None:
    before = process_stat(os.getpid())
    _spin(0.3)
    after = process_stat(os.getpid())
    assert after.name.startswith(("python", "pytest"))
    assert after.parent_pid == os.getppid()
    assert 0.2 <= after.cpu_s - before.cpu_s <= 2.0
    assert os.getpid() in {process.pid for process in all_processes()}


def test_machine_samples_count_every_cpu_and_an_idle_share_between_none_and_all() -> None:
    before = sample_machine(postgres=False)
    time.sleep(0.5)
    after = sample_machine(postgres=False)
    usage = usage_between(before, after)
    cpus = sum(1 for line in Path("/proc/stat").read_text().splitlines() if re.match(r"cpu\d", line))
    # Every CPU's time advances with the wall clock (ticks are coarse, so the bounds are wide).
    assert 0.25 * cpus <= after.total_s - before.total_s <= 2 * cpus
    assert usage.database_cpu_s is None and 0 <= usage.idle_share <= 1


def test_postgresql_cpu_counts_its_processes_and_the_backends_that_ended() -> None:
    skip_without_postgres()
    processes = [p for p in all_processes() if p.name == "postgres"]
    if not processes:
        pytest.skip("PostgreSQL does not run on this machine: its CPU cannot be read from /proc")
    before = sample_machine(postgres=True)
    # A backend that does some work and ends: its time must still be in the next sample.
    with psycopg.connect(postgres_admin_url() or "", autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
    assert backend is not None
    deadline = time.monotonic() + 10
    while Path(f"/proc/{backend[0]}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the postmaster has reaped it
    assert not Path(f"/proc/{backend[0]}").exists()
    after = sample_machine(postgres=True)
    assert before.database_s is not None and after.database_s is not None
    assert after.database_s - before.database_s >= 0.05
