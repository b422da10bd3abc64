"""``payintents serve`` (or a harness's variant of it) as a real process on a free loopback port.

Started with its output in a log file, ready once it answers health and every worker process
exists (with one worker uvicorn serves in the started process itself; with more, its spawned
children are the workers), stopped with SIGTERM (a graceful shutdown) and killed only if it does
not stop. The processes are read from /proc, which ``payintents bench`` also uses for its CPU
figures.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from payintents.testbed.readiness import wait_until_ready

STOP_TIMEOUT_S = 15.0
# Servers under test listen on ports from here up to the kernel's ephemeral range (free_port).
PORTS_FROM = 20_000
PORT_TRIES = 100
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcessStat:
    pid: int
    name: str
    parent_pid: int
    cpu_s: float
    # CPU of its children that ended and were waited for.
    children_cpu_s: float


def process_stat(pid: int) -> ProcessStat:
    """One process's /proc/PID/stat (OSError if it is gone)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    name, _, rest = stat.partition("(")[2].rpartition(")")
    # After the parenthesised name, field N of stat is at index N - 3: ppid (4) at 1; utime,
    # stime, cutime and cstime (14 to 17) at 11 to 14.
    fields = rest.split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcessStat(
        pid, name, int(fields[1]), (utime + stime) / CLOCK_TICKS_PER_S, (cutime + cstime) / CLOCK_TICKS_PER_S
    )


def all_processes() -> list[ProcessStat]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append(process_stat(int(entry.name)))
            except OSError:
                continue  # the process ended while we looked
    return found


@dataclass
class ServerProcess:
    """A started server: where it answers, its process, its log and how many workers it has."""

    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int

    def worker_pids(self) -> list[int]:
        if self.workers == 1:
            return [self.process.pid]
        children = [p.pid for p in all_processes() if p.parent_pid == self.process.pid]
        return [pid for pid in children if b"spawn_main" in _cmdline(pid)]

    def all_workers_started(self) -> bool:
        return len(self.worker_pids()) == self.workers


def free_port() -> int:
    """A loopback port nobody uses now (the server binds it a moment later), chosen below the
    kernel's ephemeral range: a port from that range can be taken meanwhile as the local end of
    any outgoing connection (a test run opens thousands), and the server then fails to bind."""
    ephemeral_from = _ephemeral_ports_from()
    for _ in range(PORT_TRIES):
        port = random.randrange(PORTS_FROM, ephemeral_from) if ephemeral_from > PORTS_FROM else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: try another
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free loopback port found in {PORT_TRIES} tries")


def _ephemeral_ports_from() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: let the kernel choose


def serve_command(port: int, workers: int) -> list[str]:
    """``payintents serve`` on ``port`` of 127.0.0.1, quiet, as a command line."""
    command = [sys.executable, "-m", "payintents.cli", "serve", "--port", str(port)]
    return [*command, "--workers", str(workers), "--log-level", "warning"]


def variant_command(app_module: str, port: int, workers: int) -> list[str]:
    """``python -m APP_MODULE --port P --workers N``: a harness's variant of the server."""
    return [sys.executable, "-m", app_module, "--port", str(port), "--workers", str(workers)]


@contextmanager
def server_process(
    command: list[str], database_url: str, log_path: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process on ``database_url`` (with ``extra_env`` set too), its output in
    ``log_path``; on the way out it is asked to stop (SIGTERM, a graceful shutdown) and killed
    only if it does not."""
    env = {**os.environ, **(extra_env or {}), "PAYINTENTS_DATABASE_URL": database_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``STOP_TIMEOUT_S``."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    database_url: str,
    workers: int,
    log_path: Path,
    *,
    app_module: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """``payintents serve`` (or ``app_module``'s variant) on ``database_url``, ready on a free
    loopback port with all its workers; stopped on the way out."""
    port = free_port()
    if app_module is None:
        command = serve_command(port, workers)
    else:
        command = variant_command(app_module, port, workers)
    with server_process(command, database_url, log_path, extra_env) as process:
        server = ServerProcess(f"http://127.0.0.1:{port}", port, process, log_path, workers)
        wait_until_ready(
            server.base_url, process, log_path, workers=workers, also_ready=server.all_workers_started
        )
        yield server


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
