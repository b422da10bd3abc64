"""Waiting until a started server answers, with a deadline that grows with the work it has to do.

A fixed deadline fails on a busy machine: on two cores running a parallel test suite (or two),
a server with two workers starts three Python interpreters that each import the application
while every other core is taken. So the deadline is a base for one worker on an idle machine,
times a factor for the extra workers, times the machine's load per core (read again on every
poll, so a load that rises while we wait extends it). ``PAYINTENTS_TEST_READY_TIMEOUT_S``
replaces the computed deadline outright. When the wait gives up, the error carries the end of
the server's own output (its stderr and stdout share the log), which says why far better than
the timeout does.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_ENV = "PAYINTENTS_TEST_READY_TIMEOUT_S"
# One worker on an idle machine starts in about a second; thirty leaves room for a slow disk.
BASE_READY_TIMEOUT_S = 30.0
# Each worker beyond the first is one more interpreter importing the application at once.
EXTRA_WORKER_SHARE = 0.5
POLL_INTERVAL_S = 0.05
LOG_TAIL_LINES = 60


class ServerNotReadyError(RuntimeError):
    """The server exited, or did not answer in time; the message ends with its own output."""


def ready_timeout_s(workers: int = 1) -> float:
    """How long a server with ``workers`` workers may take to answer, on this machine now."""
    configured = os.environ.get(READY_TIMEOUT_ENV, "").strip()
    if configured:
        try:
            return float(configured)
        except ValueError:
            raise ServerNotReadyError(f"{READY_TIMEOUT_ENV} must be seconds, not {configured!r}") from None
    worker_factor = 1 + EXTRA_WORKER_SHARE * max(workers - 1, 0)
    return BASE_READY_TIMEOUT_S * worker_factor * load_factor()


def load_factor() -> float:
    """The one-minute load per core, never below 1 (an idle machine keeps the base deadline)."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def wait_until_ready(
    base_url: str,
    process: subprocess.Popen[Any],
    log_path: Path | None,
    *,
    workers: int = 1,
    path: str = "/health",
    also_ready: Callable[[], bool] | None = None,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> float:
    """Poll ``base_url + path`` until it answers 200 (and ``also_ready()`` holds, when given);
    the seconds it took. ``log_path`` holds the server's output, quoted if the wait fails; a
    start-up measurement polls more often (``poll_interval_s``)."""
    started = time.monotonic()
    limit_s = ready_timeout_s(workers)
    with httpx.Client(timeout=1) as http:
        while (waited_s := time.monotonic() - started) < limit_s:
            if process.poll() is not None:
                raise ServerNotReadyError(
                    f"the server exited with status {process.returncode} before it answered "
                    f"{path}{_output(log_path)}"
                )
            if _answers(http, base_url + path) and (also_ready is None or also_ready()):
                return waited_s
            time.sleep(poll_interval_s)
            limit_s = max(limit_s, ready_timeout_s(workers))
    raise ServerNotReadyError(
        f"the server at {base_url} did not answer {path} with 200 within {limit_s:.1f} s "
        f"({workers} worker(s), load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"set {READY_TIMEOUT_ENV} to wait longer){_output(log_path)}"
    )


def _answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _output(log_path: Path | None) -> str:
    if log_path is None:
        return " (its output went to the caller)"
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f" (its log {log_path} could not be read: {exc})"
    return f"; the last {LOG_TAIL_LINES} lines of its output ({log_path}):\n" + "\n".join(
        lines[-LOG_TAIL_LINES:]
    )
