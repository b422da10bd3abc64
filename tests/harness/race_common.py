"""What both race harnesses share: a migrated database on either backend, a real server (the real
``payintents serve`` or the naive variant), requests released together from a barrier, and checks
of the server's log.

Concurrency is real: one OS thread and one fresh HTTP connection per request, every thread parked
on a ``threading.Barrier`` until all are ready, against a server with several worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from tests.support import POSTGRES_ENV, VERSION, Api, RunningServer, postgres_schema_url, running_server

NAIVE_APP_MODULE = "tests.harness.naive_app"
REQUEST_TIMEOUT_S = 30.0
MAX_503_RETRIES = 5


@dataclass(frozen=True)
class Reply:
    """One HTTP answer as the client saw it (after any 503 retries with the same key)."""

    status: int
    body: bytes
    headers: dict[str, str]
    retried_503: int = 0
    sent_at: float = 0.0
    answered_at: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Harness:
    """A running server, an account on it, and a pool of threads to fire requests together."""

    server: RunningServer
    api: Api
    concurrency: int
    pool: ThreadPoolExecutor
    naive: bool
    backend: str

    def captured_intent(self, value: int) -> str:
        return self.api.captured_intent(value)

    def fire_refunds_together(self, intent_id: str, requests: list[tuple[int, str]]) -> list[Reply]:
        """POST one refund per (amount, key), all released at once; one connection each."""
        barrier = threading.Barrier(len(requests))
        futures = [
            self.pool.submit(self._refund_after_barrier, barrier, intent_id, amount, key)
            for amount, key in requests
        ]
        return [future.result() for future in futures]

    def _refund_after_barrier(
        self, barrier: threading.Barrier, intent_id: str, amount: int, key: str
    ) -> Reply:
        body = json.dumps({"amount": amount, "refundReason": "race"}).encode()
        headers = {
            "Authorization": f"Basic {self.api.key}",
            "Version": VERSION,
            "Content-Type": "application/json",
            "idempotencyKey": key,
        }
        url = f"{self.server.base_url}/payment-intents/{intent_id}/refunds"
        # Plain HTTP on loopback: verify=False only skips loading a CA bundle (~30 ms per client).
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, verify=False) as client:
            request = client.build_request("POST", url, content=body, headers=headers)
            barrier.wait(timeout=REQUEST_TIMEOUT_S)
            sent_at = time.monotonic()
            retried = 0
            while True:
                response = client.send(request)
                if response.status_code != 503 or retried >= MAX_503_RETRIES:
                    break
                # A 503 may be retried with the same key (docs/api.md, "Errors"): do exactly that.
                retried += 1
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 2.0))
            answered_at = time.monotonic()
        return Reply(
            response.status_code, response.content, dict(response.headers), retried, sent_at, answered_at
        )

    def refunds_listed(self, intent_id: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/payment-intents/{intent_id}/refunds")
        if response.status_code != 200:
            raise RuntimeError(f"refund list answered {response.status_code}: {response.text}")
        return list(response.json()["data"])

    def intent(self, intent_id: str) -> dict[str, Any]:
        return self.api.intent(intent_id)

    def log_problems(self) -> list[str]:
        return self.server.log_problems()


@dataclass
class RaceFigures:
    """What every refund race counts; its harnesses add their own counters."""

    trials: int = 0
    over_refunded: int = 0
    acknowledged_mismatch: int = 0
    status_mismatch: int = 0
    errors_5xx: int = 0
    other_status: int = 0
    rejected_400: int = 0
    max_refunded: int = 0
    log_problems: int = 0

    @property
    def safe(self) -> bool:
        unsafe = (self.over_refunded, self.acknowledged_mismatch, self.status_mismatch)
        return not any(unsafe) and not any((self.errors_5xx, self.other_status, self.log_problems))


def all_in_flight_together(replies: list[Reply]) -> bool:
    """True when the last request was sent before the first answer came back: a real overlap."""
    return max(r.sent_at for r in replies) < min(r.answered_at for r in replies)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (>= 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests racing per trial")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--naive", action="store_true", help="run against the naive negative control")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the server log here")


@contextmanager
def migrated_database(backend: str, work_dir: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file in ``work_dir`` or a throwaway PostgreSQL schema."""
    if backend == "sqlite":
        url = f"sqlite:///{work_dir / 'race.db'}"
        _migrate(url)
        yield url
        return
    if not os.environ.get(POSTGRES_ENV):
        raise SystemExit(f"--backend postgres needs {POSTGRES_ENV}")
    with postgres_schema_url() as url:
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def harness(
    *, backend: str, workers: int, concurrency: int, naive: bool, log_dir: Path | None = None
) -> Iterator[Harness]:
    """Start the server on a fresh database and yield a harness bound to a new account."""
    if workers < 2:
        raise SystemExit("--workers must be at least 2: the races must cross processes")
    with ExitStack() as stack:
        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="payintents-race-")))
        logs = log_dir or work_dir
        logs.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(migrated_database(backend, work_dir))
        server = stack.enter_context(
            running_server(url, logs, workers=workers, app_module=NAIVE_APP_MODULE if naive else None)
        )
        client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S))
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=concurrency))
        api = Api(client, server.new_account()["sandboxKey"])
        yield Harness(server, api, concurrency, pool, naive, backend)


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = run()
    return result, time.monotonic() - started


def format_figures(figures: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in figures.items())


def run_trials(args: argparse.Namespace, trial: Callable[[Harness], None]) -> tuple[float, list[str]]:
    """Run ``trial`` ``args.trials`` times on one server; the seconds taken and server-log problems."""
    with harness(
        backend=args.backend,
        workers=args.workers,
        concurrency=args.concurrency,
        naive=args.naive,
        log_dir=args.log_dir,
    ) as h:
        _, elapsed = timed(lambda: [trial(h) for _ in range(args.trials)])
        problems = h.log_problems()
    return elapsed, problems


def report(
    header: str, figures: Any, elapsed: float, problems: list[str], *, naive: bool, caught: bool, what: str
) -> int:
    """Print the figures; the exit code: the safe run must be safe, the naive run must be caught."""
    print(header)
    print(format_figures(asdict(figures)) + f" seconds={elapsed:.1f}")
    for line in problems[:20]:
        print(f"server log: {line}")
    if naive:
        print("negative control: " + (f"caught {what}" if caught else f"FAILED to catch {what}"))
        return 0 if caught else 1
    return 0 if figures.safe else 1
