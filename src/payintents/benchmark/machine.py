"""Where the machine's CPU went while refunds ran: PostgreSQL's own processes, and what was idle.

Read from /proc like the workers' figures (server.py, through ``payintents.testbed``). The
workers and the load generator share the machine with the database; these two figures say
whether a run was bound by the workers' CPU, by the database's, or by neither (idle left over;
time spent waiting for the disk counts as idle). PostgreSQL's figure counts every process named
``postgres`` on this machine (backends and background processes of the whole cluster), plus
what the postmaster's ended children used, so a backend that exits during the run still counts.
It is an upper bound if anything else uses that cluster meanwhile. SQLite runs
inside the workers: it has no figure of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from payintents.testbed.processes import CLOCK_TICKS_PER_S, all_processes

DATABASE_PROCESS_NAME = "postgres"


@dataclass(frozen=True, slots=True)
class MachineSample:
    """Cumulative CPU seconds since boot: every CPU's total and idle time, and PostgreSQL's."""

    total_s: float
    idle_s: float
    database_s: float | None


@dataclass(frozen=True, slots=True)
class MachineUsage:
    """CPU used between two samples, in seconds."""

    database_cpu_s: float | None
    idle_share: float


def sample_machine(*, postgres: bool) -> MachineSample:
    """``postgres``: also add up PostgreSQL's processes (a SQLite run has none of its own)."""
    # /proc/stat's first line: "cpu user nice system idle iowait irq softirq steal ..." in ticks.
    ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    database_s = _database_cpu_s() if postgres else None
    return MachineSample(sum(ticks[:8]) / CLOCK_TICKS_PER_S, idle / CLOCK_TICKS_PER_S, database_s)


def usage_between(before: MachineSample, after: MachineSample) -> MachineUsage:
    total_s = after.total_s - before.total_s
    idle_share = (after.idle_s - before.idle_s) / total_s if total_s > 0 else 0.0
    database_cpu_s = None
    if after.database_s is not None and before.database_s is not None:
        database_cpu_s = after.database_s - before.database_s
    return MachineUsage(database_cpu_s, idle_share)


def _database_cpu_s() -> float:
    processes = [p for p in all_processes() if p.name == DATABASE_PROCESS_NAME]
    pids = {p.pid for p in processes}
    # A backend that ended was reaped by the postmaster (the one whose parent is not postgres):
    # its time moved into the postmaster's children's time, so the sum never goes backwards.
    reaped_s = sum(p.children_cpu_s for p in processes if p.parent_pid not in pids)
    return sum(p.cpu_s for p in processes) + reaped_s
