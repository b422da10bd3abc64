"""The server under test: a real ``payintents serve`` subprocess, and what its workers cost.

CPU time and peak RSS are read from /proc for each worker process (with one worker, uvicorn serves
in the ``serve`` process itself; with more, its spawned children are the workers).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from payintents.benchmark.machine import all_processes, process_stat

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class WorkerSample:
    pid: int
    cpu_s: float
    peak_rss_mb: float


@dataclass
class BenchServer:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    workers: int

    def worker_pids(self) -> list[int]:
        if self.workers == 1:
            return [self.process.pid]
        return [pid for pid in _children(self.process.pid) if b"spawn_main" in _cmdline(pid)]

    def sample_workers(self) -> list[WorkerSample]:
        return [_sample(pid) for pid in self.worker_pids()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(port: int, workers: int) -> list[str]:
    """``payintents serve`` on ``port`` of 127.0.0.1, quiet, as a command line."""
    command = [sys.executable, "-m", "payintents.cli", "serve", "--port", str(port)]
    return [*command, "--workers", str(workers), "--log-level", "warning"]


@contextmanager
def server_process(
    command: list[str], database_url: str, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process on ``database_url``, its output in ``log_path``; on the way out it is
    asked to stop (SIGTERM, a graceful shutdown) and killed only if it does not."""
    env = {**os.environ, "PAYINTENTS_DATABASE_URL": database_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_server(
    database_url: str, workers: int, log_path: Path, *, app_module: str | None = None
) -> Iterator[BenchServer]:
    """``payintents serve``, or ``python -m APP_MODULE --port P --workers N`` (a harness's variant
    of the server), ready on a free loopback port."""
    port = free_port()
    if app_module is None:
        command = serve_command(port, workers)
    else:
        command = [sys.executable, "-m", app_module, "--port", str(port), "--workers", str(workers)]
    with server_process(command, database_url, log_path) as process:
        server = BenchServer(f"http://127.0.0.1:{port}", port, process, workers)
        _wait_until_ready(server, log_path)
        yield server


def _wait_until_ready(server: BenchServer, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log_path.read_text()}")
        try:
            ready = httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and len(server.worker_pids()) == server.workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become ready:\n{log_path.read_text()}")


def _children(parent: int) -> list[int]:
    return [process.pid for process in all_processes() if process.parent_pid == parent]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _sample(pid: int) -> WorkerSample:
    cpu_s = process_stat(pid).cpu_s
    peak_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return WorkerSample(pid, cpu_s, peak_kb / 1024)
