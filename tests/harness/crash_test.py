"""Crash test: refunds and captures with idempotency keys against a multi-worker server that is
killed with SIGKILL at random moments (and, on PostgreSQL with ``--db-restarts``, a database that
is stopped with ``-m immediate`` and started again). No acknowledged refund may be lost, no
request applied twice, and every refund must have exactly one ``refund.created`` outbox event.

    python -m tests.harness.crash_test --backend sqlite|postgres --cycles 20 --workers 2 \
        [--db-restarts] [--variant safe|ack-before-commit] [--kill-after-ack] [--seed N] \
        [--log-dir DIR]

Each cycle: several client threads drive traffic (Auto intents created and paid, Manual intents
paid and partly captured, refunds of random amounts, some beyond what is left); after 0.3–1.5 s
every server process is killed (with ``--kill-after-ack``, at the first refund acknowledged after
that moment: where an answer that runs ahead of its commit is exposed); the server is restarted
and every request whose answer never arrived (connection error, timeout, 5xx) is retried with the
same key and body until answered. Then the database is read directly and through the API, and one
line of figures is printed.

Exit status: for ``safe``, 0 only if every safety figure is 0; for ``ack-before-commit`` (the
negative control, which answers before its commit), 0 only if lost acknowledged refunds were caught.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from payintents.adapters.sql.engine import make_engine, normalise_url
from payintents.adapters.sql.schema import captures, outbox_events, payment_intents, refunds
from payintents.testbed.processes import free_port
from payintents.testbed.readiness import wait_until_ready
from tests.support import (
    POSTGRES_ENV,
    SUCCESS_CARD,
    VERSION,
    migrate_database,
    new_account,
    postgres_admin_url,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
RETRY_PHASE_S = 60.0
RECOVERY_TIMEOUT_S = 30.0
# How long the servers under test wait for the processor (PAYINTENTS_PROCESSOR_TIMEOUT_S).
PROCESSOR_TIMEOUT_S = "5"
# Crash recovery fsyncs the whole data directory first: slow when the test database holds many schemas.
PG_READY_TIMEOUT_S = 300.0
REPLAY_SAMPLE = 100
DB_RESTART_EVERY = 3
JOIN_TIMEOUT_S = 15.0
# --kill-after-ack: how long a cycle waits for a refund to be acknowledged before it kills anyway.
ACK_WAIT_S = 30.0
# Figures that must all be 0 for the safe server.
SAFETY_FIGURES = (
    "lost_acknowledged",
    "applied_twice",
    "refused_but_applied",
    "wrong_row",
    "other_lost",
    "amount_mismatch",
    "over_cap",
    "refund_without_event",
    "event_without_refund",
    "api_mismatch",
    "replay_mismatch",
    "unexpected_answers",
    "unresolved",
    "server_500s",
    "not_recovered",
    "leftover_processes",
)


@dataclass
class Call:
    """One logical request: its key and body never change, however often it is sent."""

    kind: str  # create | pay | capture | refund
    path: str
    body: dict[str, Any]
    key: str | None
    intent_id: str | None = None
    status: int | None = None  # the final answer; None while unanswered
    answer: Any = None
    sends: int = 0


@dataclass
class Intent:
    id: str
    mode: str
    value: int
    refundable: int = 0
    refusals: int = 0


@dataclass
class Figures:
    cycles: int = 0
    requests: int = 0
    retries: int = 0
    acknowledged_refunds: int = 0
    refund_rows: int = 0
    lost_acknowledged: int = 0
    applied_twice: int = 0
    refused_but_applied: int = 0
    wrong_row: int = 0
    other_lost: int = 0  # acknowledged creates or captures missing from the tables
    amount_mismatch: int = 0
    over_cap: int = 0
    refund_without_event: int = 0
    event_without_refund: int = 0
    api_mismatch: int = 0
    replay_mismatch: int = 0
    unexpected_answers: int = 0
    unresolved: int = 0
    server_500s: int = 0
    log_tracebacks: int = 0
    kills: int = 0
    kills_after_ack: int = 0
    db_restarts: int = 0
    not_recovered: int = 0
    max_recovery_s: float = 0.0
    leftover_processes: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def safety_failures(self) -> list[str]:
        return [name for name in SAFETY_FIGURES if getattr(self, name)]


def new_key() -> str:
    return f"crash-{secrets.token_hex(12)}"


class Traffic:
    """Client threads and what they learnt: every logical request and its final answer."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.base_url = ""
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.unanswered: list[Call] = []
        self.intents: dict[str, Intent] = {}
        self.pool: list[Intent] = []
        self.retries = 0
        self.problems: list[str] = []
        self.server_500s = 0
        # Refunds the clients were told succeeded, counted as the answers arrive (--kill-after-ack).
        self.refund_acks = 0
        self.refund_acked = threading.Condition(self.lock)

    # -- sending -------------------------------------------------------------------------------
    def attempt(self, http: httpx.Client, call: Call) -> bool:
        """Send once; True if an answer (not 5xx) arrived and was recorded on the call."""
        call.sends += 1
        headers = {"Version": VERSION, "Content-Type": "application/json"}
        if call.kind != "pay":
            headers["Authorization"] = f"Basic {self.api_key}"
        if call.key is not None:
            headers["idempotencyKey"] = call.key
        try:
            response = http.post(self.base_url + call.path, content=json.dumps(call.body), headers=headers)
        except httpx.HTTPError:
            return False
        if response.status_code >= 500:
            if response.status_code != 503:
                with self.lock:
                    self.server_500s += 1
                    self.problems.append(f"{response.status_code} on {call.path}: {response.text[:300]}")
            return False
        try:
            call.answer = response.json()
        except ValueError:
            call.answer = None
        call.status = response.status_code
        return True

    def issue(self, http: httpx.Client, call: Call, stop: threading.Event) -> int | None:
        """Send a new logical request; None if it is not answered (remembered for retry)."""
        if stop.is_set():
            return None  # never sent: not a request at all
        with self.lock:
            self.calls.append(call)
        if self.attempt(http, call):
            self.learn(call)
            return call.status
        with self.lock:
            self.unanswered.append(call)
        return None

    def wait_for_next_refund_ack(self, timeout_s: float) -> bool:
        """Block until a refund is acknowledged after this call began; False after ``timeout_s``."""
        with self.refund_acked:
            seen = self.refund_acks
            return self.refund_acked.wait_for(lambda: self.refund_acks > seen, timeout=timeout_s)

    def learn(self, call: Call) -> None:
        """Keep track of intents created and paid, so refunds have something to refund."""
        if call.status != 200 or not isinstance(call.answer, dict):
            return
        with self.lock:
            if call.kind == "refund":
                self.refund_acks += 1
                self.refund_acked.notify_all()
            elif call.kind == "create":
                mode = call.body.get("captureMode", "Auto")
                self.intents.setdefault(
                    call.answer["id"], Intent(call.answer["id"], mode, call.body["amount"]["value"])
                )
            elif call.kind == "pay" and call.answer.get("status") == "Captured":
                intent = self.intents.get(str(call.intent_id))
                if intent is not None and intent.mode == "Auto" and intent not in self.pool:
                    intent.refundable = intent.value
                    self.pool.append(intent)

    # -- client flows --------------------------------------------------------------------------
    def client_loop(self, rng: random.Random, stop: threading.Event) -> None:
        failures = 0
        with httpx.Client(timeout=TIMEOUT) as http:
            while not stop.is_set():
                roll = rng.random()
                if len(self.pool) < 4 or roll < 0.2:
                    ok = self.auto_flow(http, rng, stop)
                elif roll < 0.35:
                    ok = self.manual_flow(http, rng, stop)
                else:
                    ok = self.refund_once(http, rng, stop)
                failures = 0 if ok else failures + 1
                if failures:
                    time.sleep(min(0.1 * 2**failures, 1.0))  # the server is gone or busy: back off

    def create(self, http: httpx.Client, rng: random.Random, stop: threading.Event, mode: str) -> Call | None:
        value = rng.randint(500, 20_000)
        body: dict[str, Any] = {
            "amount": {"value": value, "currencyCode": "GBP"},
            "reference": f"crash {rng.randint(1, 10**6)}",
        }
        if mode == "Manual":
            body["captureMode"] = "Manual"
        call = Call("create", "/payment-intents", body, new_key())
        return call if self.issue(http, call, stop) == 200 else None

    def pay(self, http: httpx.Client, intent_id: str, stop: threading.Event) -> Call | None:
        call = Call("pay", f"/checkout/{intent_id}/pay", dict(SUCCESS_CARD), None, intent_id)
        return call if self.issue(http, call, stop) == 200 else None

    def auto_flow(self, http: httpx.Client, rng: random.Random, stop: threading.Event) -> bool:
        created = self.create(http, rng, stop, "Auto")
        return created is not None and self.pay(http, created.answer["id"], stop) is not None

    def manual_flow(self, http: httpx.Client, rng: random.Random, stop: threading.Event) -> bool:
        created = self.create(http, rng, stop, "Manual")
        if created is None:
            return False
        intent = self.intents[created.answer["id"]]
        if self.pay(http, intent.id, stop) is None:
            return False
        captured = 0
        for number in range(rng.choice((1, 2, 3))):
            remaining = intent.value - captured
            if number == 0:
                amount = max(1, int(intent.value * rng.uniform(0.2, 0.6)))
            elif rng.random() < 0.15:
                amount = remaining + rng.randint(1, 100)  # beyond what is authorised: a 400
            else:
                amount = rng.randint(1, max(1, remaining))
            body: dict[str, Any] = {"amount": amount}
            tips = rng.choice((None, 0, rng.randint(1, 50)))
            if tips is not None:
                body["tipsAmount"] = tips
            call = Call("capture", f"/payment-intents/{intent.id}/captures", body, new_key(), intent.id)
            status = self.issue(http, call, stop)
            if status is None:
                return False
            if status == 200:
                captured += amount + (tips or 0)
        if captured:
            with self.lock:
                intent.refundable = captured
                self.pool.append(intent)
        return True

    def refund_once(self, http: httpx.Client, rng: random.Random, stop: threading.Event) -> bool:
        with self.lock:
            if not self.pool:
                return True
            intent = rng.choice(self.pool)
        if rng.random() < 0.25:
            amount = rng.randint(max(1, intent.refundable // 2), intent.refundable + 200)
        else:
            amount = rng.randint(1, max(1, intent.refundable // 4))
        key = new_key()
        body = {"amount": amount, "refundReason": "crash test", "notes": key}
        call = Call("refund", f"/payment-intents/{intent.id}/refunds", body, key, intent.id)
        status = self.issue(http, call, stop)
        if status == 400:
            with self.lock:
                intent.refusals += 1
                if intent.refusals >= 3 and intent in self.pool:
                    self.pool.remove(intent)
        return status is not None

    def retry_unanswered(self, deadline: float) -> None:
        """Send every unanswered request again, same key and body, until it is answered."""
        with httpx.Client(timeout=TIMEOUT) as http:
            pending, self.unanswered = self.unanswered, []
            for call in pending:
                while True:
                    self.retries += 1
                    if self.attempt(http, call):
                        self.learn(call)
                        break
                    if time.monotonic() > deadline:
                        self.unanswered.append(call)
                        break
                    time.sleep(0.2)


# -- processes: the server and the database ---------------------------------------------------
class Server:
    """``payintents serve`` (or a broken variant) in its own process group, killed as a group."""

    def __init__(self, database_url: str, workers: int, variant: str, log_dir: Path) -> None:
        self.database_url = database_url
        self.workers = workers
        self.variant = variant
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.starts = 0
        self.pgids: list[int] = []

    def start(self) -> None:
        port = free_port()
        if self.variant == "safe":
            command = [sys.executable, "-m", "payintents.cli", "serve", "--log-level", "warning"]
        else:
            command = [sys.executable, "-m", "tests.harness.crash_variants", "--variant", self.variant]
        command += ["--port", str(port), "--workers", str(self.workers)]
        env = {
            **os.environ,
            "PAYINTENTS_DATABASE_URL": self.database_url,
            # The sandbox processor answers at once: a short deadline lets a retry of a refund
            # whose processor call a kill prevented be settled within the retry phase.
            "PAYINTENTS_PROCESSOR_TIMEOUT_S": PROCESSOR_TIMEOUT_S,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.starts += 1
        log_path = self.log_dir / f"server-{self.starts:03d}.log"
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT, start_new_session=True
            )
        self.pgids.append(self.process.pid)
        self.base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(self.base_url, self.process, log_path, workers=self.workers)

    def kill(self) -> None:
        """SIGKILL every process of the server at once (master and workers share the group)."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def leftovers(self) -> int:
        """Processes (not zombies) still alive in any group this server ever had, after a grace."""
        deadline = time.monotonic() + 5.0
        while (alive := self._alive_members()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return alive

    def _alive_members(self) -> int:
        groups = set(self.pgids)
        alive = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parts = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(parts[2]) in groups and parts[0] != "Z":
                alive += 1
        return alive


class Postgres:
    """The machine's PostgreSQL cluster, stopped hard and started again."""

    def __init__(self) -> None:
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]

    def ctl(self, *action: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", *action]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @staticmethod
    def ready() -> bool:
        done = subprocess.run(
            ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], check=False, capture_output=True, timeout=30
        )
        return done.returncode == 0

    def wait_ready(self) -> None:
        deadline = time.monotonic() + PG_READY_TIMEOUT_S
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not come back")
            time.sleep(0.1)

    def crash(self) -> None:
        self.ctl("stop", "-m", "immediate")

    def start(self) -> None:
        # pg_ctl gives up waiting after 60 s while recovery goes on; wait for readiness ourselves.
        with suppress(subprocess.CalledProcessError):
            self.ctl("start")
        self.wait_ready()

    def ensure_running(self) -> None:
        if not self.ready():
            self.start()


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Config:
    backend: str = "sqlite"
    cycles: int = 20
    workers: int = 2
    clients: int = 8
    db_restarts: bool = False
    variant: str = "safe"
    kill_after_ack: bool = False
    seed: int = 1
    log_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


@contextmanager
def database(config: Config, scratch: Path) -> Iterator[str]:
    if config.backend == "sqlite":
        yield f"sqlite:///{scratch / 'crash.db'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        raise SystemExit(f"{POSTGRES_ENV} must point at PostgreSQL for --backend postgres")
    # Like tests.support.postgres_schema_url, but without a pooled admin connection: one kept
    # across a database restart would be dead by the time the schema is dropped.
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    schema = f"t_crash_{secrets.token_hex(6)}"
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{admin}{'&' if '?' in admin else '?'}options=-csearch_path%3D{schema}"
    finally:
        try:
            with engine.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        except Exception as exc:
            print(f"could not drop schema {schema}: {exc}", file=sys.stderr)
        engine.dispose()


def run(config: Config) -> Figures:
    figures = Figures()
    began = time.monotonic()
    rng = random.Random(config.seed)
    postgres = Postgres() if config.backend == "postgres" and config.db_restarts else None
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crash-")))
        log_dir = config.log_dir or scratch
        log_dir.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(database(config, scratch))
        migrate_database(url)
        account = new_account(url, "crash")
        traffic = Traffic(account["sandboxKey"])
        server = Server(url, config.workers, config.variant, log_dir)
        stack.callback(server.kill)
        if postgres is not None:
            # Runs first on the way out: the database is always left running (and the schema dropped).
            stack.callback(postgres.ensure_running)
        server.start()
        traffic.base_url = server.base_url
        for cycle in range(config.cycles):
            db_mode = None
            if postgres is not None and cycle % DB_RESTART_EVERY == DB_RESTART_EVERY - 1:
                db_mode = "under-live-server" if (cycle // DB_RESTART_EVERY) % 2 == 0 else "with-server"
            run_cycle(config, rng, cycle, traffic, server, postgres, db_mode, figures)
        time.sleep(1.0)  # let a broken variant's deferred commits land before counting
        engine = make_engine(url)
        try:
            db_view = verify_database(engine, account["accountId"], traffic, figures)
        finally:
            engine.dispose()
        verify_api(traffic, db_view, figures)
        server.kill()
        figures.leftover_processes = server.leftovers()
        figures.log_tracebacks = report_log_problems(log_dir)
    figures.requests = len(traffic.calls)
    figures.retries = traffic.retries
    figures.unresolved = len(traffic.unanswered)
    figures.server_500s = traffic.server_500s
    for problem in traffic.problems[:10]:
        print(f"server answered: {problem}", file=sys.stderr)
    figures.elapsed_s = round(time.monotonic() - began, 1)
    return figures


def run_cycle(
    config: Config,
    rng: random.Random,
    cycle: int,
    traffic: Traffic,
    server: Server,
    postgres: Postgres | None,
    db_mode: str | None,
    figures: Figures,
) -> None:
    cycle_began = time.monotonic()
    sent_before = len(traffic.calls)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=traffic.client_loop,
            args=(random.Random(config.seed * 100_003 + cycle * 101 + n), stop),
            daemon=True,
        )
        for n in range(config.clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.3, 1.5))
    if db_mode == "under-live-server" and postgres is not None:
        # The database dies under a live server; the server must recover without a restart.
        postgres.crash()
        figures.db_restarts += 1
        time.sleep(rng.uniform(0.2, 1.0))
        postgres.start()
        recovery = wait_for_recovery(traffic)
        if recovery is None:
            figures.not_recovered += 1
            print(f"cycle {cycle}: server did not recover after the database restart", file=sys.stderr)
        else:
            figures.max_recovery_s = max(figures.max_recovery_s, round(recovery, 2))
        time.sleep(rng.uniform(0.3, 1.0))  # traffic on the recovered server, then kill it
    if config.kill_after_ack:
        figures.kills_after_ack += traffic.wait_for_next_refund_ack(ACK_WAIT_S)
    stop.set()
    server.kill()
    figures.kills += 1
    if db_mode == "with-server" and postgres is not None:
        postgres.crash()
        figures.db_restarts += 1
        postgres.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    killed_at = time.monotonic()
    unanswered = len(traffic.unanswered)
    server.start()
    restarted_at = time.monotonic()
    traffic.base_url = server.base_url
    traffic.retry_unanswered(time.monotonic() + RETRY_PHASE_S)
    figures.cycles += 1
    print(
        f"cycle {cycle + 1}: {len(traffic.calls) - sent_before} requests in "
        f"{killed_at - cycle_began:.1f}s{f' (database {db_mode})' if db_mode else ''}, killed; "
        f"{unanswered} unanswered; restart {restarted_at - killed_at:.1f}s; "
        f"retries answered in {time.monotonic() - restarted_at:.1f}s ({len(traffic.unanswered)} left)",
        file=sys.stderr,
        flush=True,
    )


def wait_for_recovery(traffic: Traffic) -> float | None:
    """Seconds until an authenticated request (which reads the database) is answered again."""
    began = time.monotonic()
    headers = {"Authorization": f"Basic {traffic.api_key}", "Version": VERSION}
    while time.monotonic() - began < RECOVERY_TIMEOUT_S:
        try:
            response = httpx.get(
                f"{traffic.base_url}/payment-intents/pi_probe", headers=headers, timeout=TIMEOUT
            )
            if response.status_code == 404:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return None


# -- verification ------------------------------------------------------------------------------
def verify_database(
    engine: Any, account_id: str, traffic: Traffic, figures: Figures
) -> dict[str, tuple[int, set[str]]]:
    """Compare the tables with every answer the clients received; returns each intent's refunds."""
    with engine.connect() as conn:
        refund_rows = conn.execute(
            select(refunds.c.id, refunds.c.payment_intent_id, refunds.c.amount, refunds.c.notes).where(
                refunds.c.account_id == account_id
            )
        ).all()
        intent_rows = conn.execute(
            select(
                payment_intents.c.id,
                payment_intents.c.capture_mode,
                payment_intents.c.refunded_amount,
                payment_intents.c.refundable_amount,
            ).where(payment_intents.c.account_id == account_id)
        ).all()
        capture_rows = conn.execute(
            select(captures.c.id, captures.c.payment_intent_id, captures.c.amount, captures.c.tips_amount)
            .join(payment_intents, payment_intents.c.id == captures.c.payment_intent_id)
            .where(payment_intents.c.account_id == account_id)
        ).all()
        event_payloads = conn.execute(
            select(outbox_events.c.payload).where(
                outbox_events.c.account_id == account_id, outbox_events.c.name == "refund.created"
            )
        ).scalars()
        event_refund_ids = Counter(json.loads(payload).get("refundId") for payload in event_payloads)

    figures.refund_rows = len(refund_rows)
    rows_by_id = {row.id: row for row in refund_rows}
    rows_by_key: dict[str | None, list[Any]] = defaultdict(list)
    refunds_by_intent: dict[str, list[Any]] = defaultdict(list)
    for row in refund_rows:
        rows_by_key[row.notes].append(row)
        refunds_by_intent[row.payment_intent_id].append(row)
    final_by_key = {c.key: c for c in traffic.calls if c.kind == "refund"}
    for call in final_by_key.values():
        if call.status == 200:
            figures.acknowledged_refunds += 1
            row = rows_by_id.get(call.answer.get("refundId"))
            if row is None:
                figures.lost_acknowledged += 1
            elif (
                row.notes != call.key
                or row.amount != call.body["amount"]
                or row.payment_intent_id != call.intent_id
            ):
                figures.wrong_row += 1
        elif call.status not in (400, None):
            figures.unexpected_answers += 1
    for key, rows in rows_by_key.items():
        figures.applied_twice += len(rows) - 1
        final = final_by_key.get(key) if key is not None else None
        if final is None or final.status != 200:
            figures.refused_but_applied += len(rows)

    # Creates: one intent per acknowledged create key, none we never asked for.
    created_ids = {c.answer["id"] for c in traffic.calls if c.kind == "create" and c.status == 200}
    figures.unexpected_answers += sum(
        1 for c in traffic.calls if c.kind == "create" and c.status not in (200, None)
    )
    figures.applied_twice += sum(1 for row in intent_rows if row.id not in created_ids)
    figures.other_lost += len(created_ids - {row.id for row in intent_rows})

    # Captures: the rows of each Manual intent are exactly the captures acknowledged on it.
    capture_ids_by_intent: dict[str, set[str]] = defaultdict(set)
    captured_by_intent: Counter[str] = Counter()
    for row in capture_rows:
        capture_ids_by_intent[row.payment_intent_id].add(row.id)
        captured_by_intent[row.payment_intent_id] += row.amount + (row.tips_amount or 0)
    acked_captures: dict[str, set[str]] = defaultdict(set)
    for call in traffic.calls:
        if call.kind == "capture":
            if call.status == 200:
                acked_captures[str(call.intent_id)].add(call.answer["captureId"])
            elif call.status not in (400, 409, None):
                figures.unexpected_answers += 1
    for row in intent_rows:
        stored = capture_ids_by_intent.get(row.id, set())
        if row.capture_mode == "Manual":
            figures.applied_twice += len(stored - acked_captures[row.id])
            figures.other_lost += len(acked_captures[row.id] - stored)
        elif len(stored) > 1:
            figures.applied_twice += len(stored) - 1
        if row.refunded_amount != sum(r.amount for r in refunds_by_intent[row.id]):
            figures.amount_mismatch += 1
        if row.refunded_amount > row.refundable_amount or row.refundable_amount != captured_by_intent[row.id]:
            figures.over_cap += 1

    figures.refund_without_event = sum(1 for row in refund_rows if event_refund_ids[row.id] != 1)
    figures.event_without_refund = sum(n for rid, n in event_refund_ids.items() if rid not in rows_by_id)
    return {row.id: (row.refunded_amount, {r.id for r in refunds_by_intent[row.id]}) for row in intent_rows}


def verify_api(traffic: Traffic, db_view: dict[str, tuple[int, set[str]]], figures: Figures) -> None:
    """The API tells the same story as the tables, and acknowledged refunds replay unchanged."""
    headers = {"Authorization": f"Basic {traffic.api_key}", "Version": VERSION}

    def check_intent(http: httpx.Client, intent_id: str) -> int:
        refunded, refund_ids = db_view[intent_id]
        shown = http.get(
            f"{traffic.base_url}/payment-intents/{intent_id}?returnCanceled=true", headers=headers
        )
        listed = http.get(f"{traffic.base_url}/payment-intents/{intent_id}/refunds", headers=headers)
        if shown.status_code != 200 or listed.status_code != 200:
            return 1
        same_amount = shown.json().get("refundedAmount") == refunded
        same_refunds = {r["refundId"] for r in listed.json()["data"]} == refund_ids
        return 0 if same_amount and same_refunds else 1

    def replay(http: httpx.Client, call: Call) -> int:
        hdrs = {**headers, "Content-Type": "application/json", "idempotencyKey": str(call.key)}
        try:
            again = http.post(traffic.base_url + call.path, content=json.dumps(call.body), headers=hdrs)
        except httpx.TransportError:
            # No answer in time is a replay that failed, counted as one (a negative-control
            # server may keep its lock for a long while); it must not end the run unreported.
            return 1
        same = again.status_code == 200 and again.json().get("refundId") == call.answer.get("refundId")
        return 0 if same and again.headers.get("idempotent-replayed") == "true" else 1

    acknowledged = [c for c in traffic.calls if c.kind == "refund" and c.status == 200]
    sample = random.Random(0).sample(acknowledged, min(REPLAY_SAMPLE, len(acknowledged)))
    with httpx.Client(timeout=TIMEOUT) as http, ThreadPoolExecutor(8) as pool:
        figures.api_mismatch = sum(pool.map(lambda i: check_intent(http, i), list(db_view)))
        figures.replay_mismatch = sum(pool.map(lambda c: replay(http, c), sample))


def report_log_problems(log_dir: Path) -> int:
    tracebacks = 0
    for log in sorted(log_dir.glob("server-*.log")):
        text = log.read_text(errors="replace")
        count = sum(1 for line in text.splitlines() if "Traceback" in line)
        if count:
            tracebacks += count
            print(f"{log.name}: {count} traceback(s); first:\n{_first_traceback(text)}", file=sys.stderr)
    return tracebacks


def _first_traceback(text: str) -> str:
    """The first traceback's message and last lines (server logs are JSON lines, or plain text)."""
    lines = text.splitlines()
    first = next(n for n, line in enumerate(lines) if "Traceback" in line)
    try:
        record = json.loads(lines[first])
        tail = str(record.get("exception", "")).splitlines()[-8:]
        return "\n".join([str(record.get("message", "")), *tail])
    except ValueError:
        return "\n".join(lines[first : first + 40])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--db-restarts", action="store_true", help="PostgreSQL only: also crash the database")
    parser.add_argument("--variant", choices=["safe", "ack-before-commit"], default="safe")
    parser.add_argument(
        "--kill-after-ack",
        action="store_true",
        help="kill each cycle right after a refund is acknowledged (the negative control's timing)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the server logs here")
    args = parser.parse_args(argv)
    if args.db_restarts and args.backend != "postgres":
        parser.error("--db-restarts needs --backend postgres")
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    config = Config(
        backend=args.backend,
        cycles=args.cycles,
        workers=args.workers,
        clients=args.clients,
        db_restarts=args.db_restarts,
        variant=args.variant,
        kill_after_ack=args.kill_after_ack,
        seed=seed,
        log_dir=args.log_dir,
    )
    figures = run(config)
    print(f"backend={config.backend} variant={config.variant} seed={seed} {figures.line()}", flush=True)
    failures = figures.safety_failures()
    if config.variant == "safe":
        if failures:
            print(f"FAILED: {', '.join(failures)} not 0", file=sys.stderr)
            return 1
        return 0
    if figures.lost_acknowledged > 0:
        print("negative control caught: acknowledged refunds were lost", file=sys.stderr)
        return 0
    print("negative control NOT caught: no acknowledged refund was lost", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
