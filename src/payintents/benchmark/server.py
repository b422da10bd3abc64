"""What the server's workers cost: CPU time and peak RSS of each worker process, from /proc.

The server itself is started by ``payintents.testbed`` (shared with the test suite); this adds
the figures only the benchmark reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from payintents.testbed.processes import ServerProcess, process_stat


@dataclass(frozen=True, slots=True)
class WorkerSample:
    pid: int
    cpu_s: float
    peak_rss_mb: float


def sample_workers(server: ServerProcess) -> list[WorkerSample]:
    return [_sample(pid) for pid in server.worker_pids()]


def _sample(pid: int) -> WorkerSample:
    cpu_s = process_stat(pid).cpu_s
    peak_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return WorkerSample(pid, cpu_s, peak_kb / 1024)
