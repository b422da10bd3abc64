"""One benchmark run: set up, warm up, measure refunds over HTTP and the bare ceilings, audit.

For each mode (many intents, one hot intent) the two ceilings (one transaction per refund, and
the two-phase write's three) are measured once each, then the server is
measured with each worker count: refunds as fast as the clients can send them, reads of the
intents (a request that writes nothing), each with the CPU the server's workers and the
database used meanwhile, then refunds open loop at half the rate the first phase reached. The
growth mode repeats the many-intents measurement after loading a large history into the same
database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import httpx

from payintents.adapters.sandbox_processor import SUCCESS_CARD
from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.benchmark import history
from payintents.benchmark.ceiling import (
    CeilingResult,
    WorkerFactory,
    one_transaction_worker,
    prepare_database,
    run_ceiling,
)
from payintents.benchmark.config import HOT, MANY, BenchConfig
from payintents.benchmark.load import LoadPlan, LoadResult, PhaseResult
from payintents.benchmark.machine import MachineSample, MachineUsage, sample_machine, usage_between
from payintents.benchmark.server import WorkerSample, sample_workers
from payintents.benchmark.two_phase_ceiling import two_phase_worker
from payintents.bootstrap import Settings, audit_database, build_dependencies, migrate
from payintents.service.accounts import create_account
from payintents.testbed.databases import scratch_database
from payintents.testbed.processes import ServerProcess, running_server

SETUP_THREADS = 8
HOT_INTENT_AMOUNT = 2**40
WARM_UP_REFUNDS = 300
BULK_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
# The open-loop phase runs at this share of the closed loop's rate, for at most this long.
OPEN_LOOP_SHARE = 0.5
OPEN_LOOP_MAX_S = 20.0


@dataclass
class HttpMeasurement:
    mode: str
    workers: int
    stored_refunds_before: int
    refunds: PhaseResult
    gets: PhaseResult
    client_cpu_s: float
    server: list[WorkerSample]
    server_cpu_s: list[float]
    audit_ok: bool
    audit: dict[str, object] = field(default_factory=dict)
    # PostgreSQL's CPU and the machine's idle share while the refunds and GETs ran (machine.py).
    machine: MachineUsage | None = None
    # CPU seconds of the server's workers and the database's processes during each phase.
    refund_cpu_s: float | None = None
    get_cpu_s: float | None = None
    # Refunds sent open loop at ``open_loop_rate_per_s`` (None if the closed loop had no rate).
    open_loop: PhaseResult | None = None
    open_loop_rate_per_s: float = 0.0

    @property
    def answered_ok(self) -> bool:
        phases = [self.refunds, self.gets] + ([self.open_loop] if self.open_loop else [])
        return all(set(phase.statuses) <= {"200"} for phase in phases)


@dataclass(frozen=True, slots=True)
class PhaseCost:
    """One load phase, and the CPU counters of the workers and the machine around it."""

    load: LoadResult
    workers_before: list[WorkerSample]
    workers_after: list[WorkerSample]
    machine_before: MachineSample
    machine_after: MachineSample

    @property
    def cpu_s(self) -> float:
        """The workers' CPU plus the database's (SQLite's is inside the workers already)."""
        workers_s = sum(
            a.cpu_s - b.cpu_s for a, b in zip(self.workers_after, self.workers_before, strict=True)
        )
        database_s = usage_between(self.machine_before, self.machine_after).database_cpu_s
        return workers_s + (database_s or 0.0)


@dataclass
class ModeReport:
    mode: str
    ceiling: CeilingResult
    runs: list[HttpMeasurement]
    # The same refund's bare SQL as the two-phase write runs it (None where not measured).
    two_phase_ceiling: CeilingResult | None = None


@dataclass
class BenchReport:
    backend: str
    concurrency: int
    modes: list[ModeReport]
    history_load_s: float | None = None
    history_rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Clean audits and every request answered 200: speed is reported, never judged."""
        return all(run.audit_ok and run.answered_ok for mode in self.modes for run in mode.runs)


def run_benchmark(config: BenchConfig) -> BenchReport:
    report = BenchReport(config.backend, config.concurrency, [])
    with tempfile.TemporaryDirectory(prefix="payintents-bench-") as folder:
        for mode in config.modes:
            ceiling = measure_ceiling(config, mode, Path(folder))
            two_phase = measure_ceiling(config, mode, Path(folder), two_phase_worker)
            runs = [measure_http(config, mode, workers, Path(folder)) for workers in config.workers]
            report.modes.append(ModeReport(mode, ceiling, runs, two_phase))
        if config.growth:
            report.modes.append(measure_growth(config, Path(folder), report))
    return report


def _say(config: BenchConfig, message: str) -> None:
    if config.progress:
        print(message, file=sys.stderr, flush=True)


def measure_ceiling(
    config: BenchConfig, mode: str, folder: Path, worker: WorkerFactory = one_transaction_worker
) -> CeilingResult:
    form, name = ("two-phase", "two_phase") if worker is two_phase_worker else ("one transaction", "ceiling")
    _say(config, f"ceiling ({mode}, {form}): bare SQL refunds at concurrency {config.concurrency}")
    with scratch_database(config.postgres_url, folder, f"bench_{name}_{mode}") as url:
        intents, capacity = _intent_shape(config, mode)
        ids = prepare_database(url, intents, capacity)
        warm_up = range(WARM_UP_REFUNDS)
        run_ceiling(url, ids, warm_up, config.concurrency, config.max_amount, worker)
        measured = range(WARM_UP_REFUNDS, WARM_UP_REFUNDS + config.refunds)
        return run_ceiling(url, ids, measured, config.concurrency, config.max_amount, worker)


def _intent_shape(config: BenchConfig, mode: str) -> tuple[int, int]:
    """How many intents the refunds spread over, and how much each can refund."""
    if mode == HOT:
        return 1, HOT_INTENT_AMOUNT
    per_intent = -(-(config.refunds + WARM_UP_REFUNDS + config.open_loop_refunds) // config.intents)
    return config.intents, 2 * per_intent * config.max_amount


def measure_http(
    config: BenchConfig, mode: str, workers: int, folder: Path, *, app_module: str | None = None
) -> HttpMeasurement:
    """One server on a fresh scratch database: ``payintents serve``, or a harness's variant of it
    (``app_module``, see ``running_server``)."""
    with scratch_database(config.postgres_url, folder, f"bench_http_{mode}_{workers}") as url:
        key = new_account(url)
        log_path = folder / f"server-{mode}-{workers}.log"
        with running_server(url, workers, log_path, app_module=app_module) as server:
            return _measure_on(config, mode, server, key, url, stored_before=0)


def new_account(url: str) -> str:
    settings = Settings(database_url=url)
    migrate(settings)
    engine = make_engine(url, pool_size=1)
    try:
        return create_account(build_dependencies(settings, engine=engine), "bench").sandbox_key
    finally:
        engine.dispose()


def _measure_on(
    config: BenchConfig, mode: str, server: ServerProcess, key: str, url: str, stored_before: int
) -> HttpMeasurement:
    label = f"{mode}, {server.workers} worker{'s' if server.workers > 1 else ''}"
    _say(config, f"setting up {label}: paid, captured intents through the API")
    intents, capacity = _intent_shape(config, mode)
    ids = captured_intents(server.base_url, key, intents, capacity)
    plan = LoadPlan("127.0.0.1", server.port, key, ids, config.refunds, config.concurrency,
                    config.max_amount, label=label)  # fmt: skip
    drive_load(replace(plan, count=WARM_UP_REFUNDS, label="warm-up"), False)
    postgres = config.postgres_url is not None
    refunds = _costed(config, server, plan, postgres=postgres)
    gets = _costed(config, server, replace(plan, count=0, gets=config.gets), postgres=postgres)
    closed = refunds.load.refunds
    rate = OPEN_LOOP_SHARE * len(closed.latencies_ms) / closed.elapsed_s if closed.elapsed_s else 0.0
    open_loop = _open_loop(config, replace(plan, label=f"{label}, open loop"), rate)
    report = audit_database(Settings(database_url=url))
    before, after = refunds.workers_before, gets.workers_after
    return HttpMeasurement(
        mode, server.workers, stored_before, closed, gets.load.gets,
        refunds.load.client_cpu_s + gets.load.client_cpu_s, after,
        [a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True)], report.ok, report.as_dict(),
        usage_between(refunds.machine_before, gets.machine_after), refunds.cpu_s, gets.cpu_s,
        open_loop, rate,
    )  # fmt: skip


def _costed(config: BenchConfig, server: ServerProcess, plan: LoadPlan, *, postgres: bool) -> PhaseCost:
    workers_before, machine_before = sample_workers(server), sample_machine(postgres=postgres)
    load = drive_load(plan, config.progress)
    workers_after, machine_after = sample_workers(server), sample_machine(postgres=postgres)
    return PhaseCost(load, workers_before, workers_after, machine_before, machine_after)


def _open_loop(config: BenchConfig, plan: LoadPlan, rate_per_s: float) -> PhaseResult | None:
    """Refunds due at ``rate_per_s``: ``config.open_loop_refunds`` of them, or fewer so that
    the schedule lasts at most ``OPEN_LOOP_MAX_S``."""
    count = min(config.open_loop_refunds, int(rate_per_s * OPEN_LOOP_MAX_S))
    if count < 1:
        return None
    # Idempotency keys carry the label and number, so these never repeat the closed loop's.
    open_plan = replace(plan, count=count, arrival_rate_per_s=rate_per_s)
    return drive_load(open_plan, config.progress).refunds


def measure_growth(config: BenchConfig, folder: Path, report: BenchReport) -> ModeReport:
    """The many-intents run on an empty store, then again after loading a large history."""
    workers = max(config.workers)
    with scratch_database(config.postgres_url, folder, "bench_growth") as url:
        key = new_account(url)
        with running_server(url, workers, folder / "server-growth-empty.log") as server:
            template = template_intent(server.base_url, key, config.history_refunds_per_intent)
            empty = _measure_on(config, MANY, server, key, url, stored_before=0)
        _say(config, f"loading history: {config.history_intents:,} intents, "
             f"{config.history_intents * config.history_refunds_per_intent:,} refunds")  # fmt: skip
        started = time.perf_counter()
        # A bulk load runs far longer than the server's statement timeout allows one statement.
        engine = make_engine(url, pool_size=1, timeouts=Timeouts(statement_ms=BULK_STATEMENT_TIMEOUT_MS))
        try:
            report.history_rows = history.copy_template(engine, template, config.history_intents)
            history.refresh_statistics(engine)
        finally:
            engine.dispose()
        report.history_load_s = time.perf_counter() - started
        stored = report.history_rows.get("refunds", 0)
        with running_server(url, workers, folder / "server-growth-loaded.log") as server:
            loaded = _measure_on(config, MANY, server, key, url, stored_before=stored)
    measured = [m.ceiling for m in report.modes if m.mode == MANY]
    ceiling = measured[0] if measured else measure_ceiling(config, MANY, folder)
    return ModeReport("growth", ceiling, [empty, loaded])


def template_intent(base_url: str, key: str, refunds: int) -> str:
    """One captured intent with ``refunds`` refunds, all through the API: the history's model."""
    (intent_id,) = captured_intents(base_url, key, 1, 1_000_000)
    headers = {"Authorization": f"Basic {key}", "Version": "2024-02-05"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(refunds):
            answer = client.post(
                f"/payment-intents/{intent_id}/refunds",
                json={"amount": 100 + n, "notes": "history"},
                headers={**headers, "IdempotencyKey": f"history-{n}"},
            )
            answer.raise_for_status()
    return intent_id


def captured_intents(base_url: str, key: str, count: int, amount: int) -> list[str]:
    """Create and pay ``count`` Auto-capture intents through the API (the sandbox's test card)."""
    headers = {"Authorization": f"Basic {key}", "Version": "2024-02-05"}
    body = {"amount": {"value": amount, "currencyCode": "GBP"}, "reference": "bench"}
    card = {"cardNumber": SUCCESS_CARD, "expiryDate": "12/39", "cvv": "020"}

    def one(_: int) -> str:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            created = client.post("/payment-intents", json=body, headers=headers)
            created.raise_for_status()
            intent_id = str(created.json()["id"])
            paid = client.post(f"/checkout/{intent_id}/pay", json=card)
            if paid.status_code != 200 or paid.json()["status"] != "Captured":
                raise RuntimeError(f"could not pay {intent_id}: {paid.text}")
            return intent_id

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        return list(pool.map(one, range(count)))


def drive_load(plan: LoadPlan, show_progress: bool) -> LoadResult:
    """Run the load generator in its own process and read its figures back."""
    spec = json.dumps({**asdict(plan), "show_progress": show_progress})
    # Its progress bar goes straight to our stderr; its figures come back on stdout.
    done = subprocess.run(
        [sys.executable, "-m", "payintents.benchmark.load"], input=spec, stdout=subprocess.PIPE,
        stderr=None if show_progress else subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {done.returncode}):\n{done.stderr or ''}")
    raw = json.loads(done.stdout)
    return LoadResult(PhaseResult(**raw["refunds"]), PhaseResult(**raw["gets"]), raw["client_cpu_s"])
