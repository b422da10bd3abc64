"""The machine's CPU figures the benchmark prints, read from this machine's real /proc."""

from __future__ import annotations

import os
import time

from payintents.benchmark.machine import (
    MachineSample,
    all_processes,
    process_stat,
    sample_machine,
    usage_between,
)
from tests.support import skip_without_postgres


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
    cpus = os.cpu_count() or 1
    # Every CPU's time advances with the wall clock (ticks are coarse, so the bounds are wide).
    assert 0.25 * cpus <= after.total_s - before.total_s <= 2 * cpus
    assert usage.database_cpu_s is None and 0 <= usage.idle_share <= 1


def test_postgresql_cpu_is_the_sum_over_its_processes_and_never_negative() -> None:
    skip_without_postgres()
    sample = sample_machine(postgres=True)
    assert sample.database_s is not None and sample.database_s > 0
    # A backend that exits between samples takes its CPU out of the sum: the figure stays >= 0.
    shrunk = MachineSample(sample.total_s + 1, sample.idle_s + 0.5, sample.database_s - 1)
    assert usage_between(sample, shrunk).database_cpu_s == 0.0
    assert usage_between(sample, shrunk).idle_share == 0.5
