"""The one place that wires adapters into the service layer and the web app."""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.applications import Starlette

from payintents.adapters.clock import SystemClock
from payintents.adapters.dojo_admin import DojoAdmins
from payintents.adapters.ids import RandomIds
from payintents.adapters.sandbox_processor import SandboxProcessor, StoredLedger
from payintents.adapters.secret_box import MIN_SECRET_KEY_CHARACTERS, AesGcmSecretBox
from payintents.adapters.smtp_mailer import SmtpReceiptMailer, SmtpSettings, parse_smtp_url
from payintents.adapters.sql.account_store import find_api_key
from payintents.adapters.sql.audit import AuditReport, audit
from payintents.adapters.sql.engine import (
    BUSY_TIMEOUT_MS,
    DEFAULT_DATABASE_URL,
    STATEMENT_TIMEOUT_MS,
    Timeouts,
    make_engine,
    make_write_gate,
)
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.sqlite_writer import SqliteTransactions
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.adapters.sql.write_gate import WriteGate
from payintents.adapters.upstream_directory import READ_TIMEOUT_MARGIN_S, UpstreamDirectory
from payintents.adapters.webhook_sender import HttpWebhookSender
from payintents.domain.webhook_urls import SANDBOX_LOCAL_HOSTS, parse_sandbox_hosts
from payintents.service.dependencies import Dependencies
from payintents.service.key_usage import KeyUsageRecorder
from payintents.service.ports import Clock, TransactionRunner, UnitOfWorkFactory, WebhookSender
from payintents.service.request_log_buffer import RequestLogBuffer
from payintents.service.transactions import ThreadedTransactions
from payintents.service.upstream_ports import SecretKeyMissingError
from payintents.service.upstreams import refuse_upstreams_without_secret_key
from payintents.web.app import build_app
from payintents.web.dashboard.sign_in_guard import SignInGuard, SignInLimits
from payintents.web.http_protocol import HttpLimits
from payintents.web.metrics import DEFAULT_METRICS_ADDRESS, parse_metrics_address
from payintents.web.public_url import parse_public_url
from payintents.web.rate_limit import RateLimit, RateLimiter, parse_rate_limit

T = TypeVar("T")
MIN_RETENTION_HOURS = 24


class ConfigurationError(ValueError):
    """A setting has a value the server refuses to start with."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration, from the environment (the CLI sets the same variables from its flags)."""

    database_url: str = DEFAULT_DATABASE_URL
    idempotency_retention: timedelta = timedelta(hours=72)
    pool_size: int = 5
    expiry_interval_s: float = 30.0
    # Run the webhook dispatcher inside `serve` (off when separate `dispatch` processes do it).
    dispatcher_in_serve: bool = True
    webhook_timeout_s: float = 15.0
    webhook_retry_scale: float = 1.0
    # Hosts sandbox webhooks may reach besides public ones (loopback: a developer's own machine).
    sandbox_webhook_hosts: frozenset[str] = SANDBOX_LOCAL_HOSTS
    request_log_retention: timedelta = timedelta(hours=24)
    # How long the sandbox's timeout test card makes the processor wait.
    sandbox_timeout_s: float = 5.0
    # How long a refund, capture or reversal waits for the processor before answering 504.
    processor_timeout_s: float = 40.0
    # The test-card checkout pays production intents too (tests of production behaviour only).
    production_checkout: bool = field(
        default_factory=lambda: os.environ.get("PAYINTENTS_PRODUCTION_CHECKOUT", "off").lower() == "on"
    )
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Per-key request limits of each worker process (ADR 0008); None is unlimited.
    rate_limit: RateLimit | None = None
    sandbox_rate_limit: RateLimit | None = None
    # Dashboard sign-in throttling and password-check slots, per worker process (ADR 0023).
    sign_in_limits: SignInLimits = field(default_factory=SignInLimits)
    dashboard_idle_timeout: timedelta = timedelta(minutes=30)
    # Read timeouts and the connection limit of each worker's HTTP protocol (http_protocol.py).
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    # Where `serve` answers Prometheus scrapes (ADR 0024); None serves no metrics.
    metrics_address: tuple[str, int] | None = DEFAULT_METRICS_ADDRESS
    # Where clients reach the server (https://pay.example.com): links and redirects start with it.
    public_url: str | None = None
    # The mail server production keys' receipts go through (PAYINTENTS_SMTP_URL); None: refused.
    smtp: SmtpSettings | None = None
    # PAYINTENTS_SECRET_KEY first, then PAYINTENTS_SECRET_KEY_PREVIOUS (comma-separated): the keys
    # upstream accounts' Dojo keys are sealed with (ADR 0031). Never shown.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    # Gateway mirrors (ADR 0033): a read refreshes one compared with Dojo longer ago than this;
    # the housekeeping polls an open one at most once per the interval.
    upstream_max_age_s: float = 5.0
    upstream_poll_interval_s: float = 60.0

    @classmethod
    def from_environment(cls) -> Settings:
        hours = int(os.environ.get("PAYINTENTS_IDEMPOTENCY_RETENTION_HOURS", "72"))
        if hours < MIN_RETENTION_HOURS:
            raise ConfigurationError(
                f"PAYINTENTS_IDEMPOTENCY_RETENTION_HOURS must be at least {MIN_RETENTION_HOURS}"
            )
        return cls(
            database_url=os.environ.get("PAYINTENTS_DATABASE_URL", DEFAULT_DATABASE_URL),
            idempotency_retention=timedelta(hours=hours),
            pool_size=int(os.environ.get("PAYINTENTS_DB_POOL_SIZE", "5")),
            expiry_interval_s=float(os.environ.get("PAYINTENTS_EXPIRY_INTERVAL_S", "30")),
            dispatcher_in_serve=os.environ.get("PAYINTENTS_DISPATCHER", "on").lower()
            not in ("off", "0", "false"),
            webhook_timeout_s=float(os.environ.get("PAYINTENTS_WEBHOOK_TIMEOUT_S", "15")),
            webhook_retry_scale=float(os.environ.get("PAYINTENTS_WEBHOOK_RETRY_SCALE", "1")),
            sandbox_webhook_hosts=_parsed_setting(
                "PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", parse_sandbox_hosts, ",".join(sorted(SANDBOX_LOCAL_HOSTS))
            ),
            sandbox_timeout_s=float(os.environ.get("PAYINTENTS_SANDBOX_TIMEOUT_S", "5")),
            processor_timeout_s=_parsed_setting("PAYINTENTS_PROCESSOR_TIMEOUT_S", _positive_seconds, "40"),
            request_log_retention=timedelta(
                hours=float(os.environ.get("PAYINTENTS_REQUEST_LOG_RETENTION_HOURS", "24"))
            ),
            timeouts=Timeouts(
                lock_ms=int(os.environ.get("PAYINTENTS_DB_LOCK_TIMEOUT_MS", BUSY_TIMEOUT_MS)),
                statement_ms=int(os.environ.get("PAYINTENTS_DB_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS)),
            ),
            rate_limit=_parsed_setting("PAYINTENTS_RATE_LIMIT", parse_rate_limit, "off"),
            sandbox_rate_limit=_parsed_setting("PAYINTENTS_SANDBOX_RATE_LIMIT", parse_rate_limit, "off"),
            sign_in_limits=SignInLimits(
                failures_per_user=_count_setting("PAYINTENTS_SIGN_IN_FAILURES_PER_USER", 5),
                failures_per_address=_count_setting("PAYINTENTS_SIGN_IN_FAILURES_PER_ADDRESS", 30),
                concurrent_checks=_count_setting("PAYINTENTS_SIGN_IN_CONCURRENT_CHECKS", 1),
            ),
            dashboard_idle_timeout=timedelta(
                minutes=_count_setting("PAYINTENTS_DASHBOARD_IDLE_TIMEOUT_MIN", 30)
            ),
            http_limits=_http_limits_setting(),
            metrics_address=_parsed_setting(
                "PAYINTENTS_METRICS_ADDRESS",
                parse_metrics_address,
                ":".join(map(str, DEFAULT_METRICS_ADDRESS)),
            ),
            public_url=_parsed_setting("PAYINTENTS_PUBLIC_URL", parse_public_url, ""),
            smtp=_parsed_setting("PAYINTENTS_SMTP_URL", parse_smtp_url, "off"),
            secret_keys=_secret_keys(),
            upstream_max_age_s=_parsed_setting("PAYINTENTS_UPSTREAM_MAX_AGE_S", _positive_seconds, "5"),
            upstream_poll_interval_s=_parsed_setting(
                "PAYINTENTS_UPSTREAM_POLL_INTERVAL_S", _positive_seconds, "60"
            ),
        )


def _secret_keys() -> tuple[str, ...]:
    """The current secret key and the previous ones; none when PAYINTENTS_SECRET_KEY is unset."""
    current = os.environ.get("PAYINTENTS_SECRET_KEY", "")
    previous = [key for key in os.environ.get("PAYINTENTS_SECRET_KEY_PREVIOUS", "").split(",") if key]
    if not current:
        if previous:
            raise ConfigurationError("PAYINTENTS_SECRET_KEY_PREVIOUS is set without PAYINTENTS_SECRET_KEY")
        return ()
    keys = (current, *previous)
    if any(len(key) < MIN_SECRET_KEY_CHARACTERS for key in keys):
        raise ConfigurationError(
            "PAYINTENTS_SECRET_KEY (and each previous key) must be at least "
            f"{MIN_SECRET_KEY_CHARACTERS} characters"
        )
    return keys


def _http_limits_setting() -> HttpLimits:
    defaults = HttpLimits()
    refused = ConfigurationError(
        "PAYINTENTS_HEADER_TIMEOUT_S and PAYINTENTS_BODY_TIMEOUT_S must be numbers above 0, "
        "PAYINTENTS_MAX_CONNECTIONS a whole number of at least 1"
    )
    try:
        limits = HttpLimits(
            header_timeout_s=float(os.environ.get("PAYINTENTS_HEADER_TIMEOUT_S", defaults.header_timeout_s)),
            body_timeout_s=float(os.environ.get("PAYINTENTS_BODY_TIMEOUT_S", defaults.body_timeout_s)),
            max_connections=int(os.environ.get("PAYINTENTS_MAX_CONNECTIONS", defaults.max_connections)),
        )
    except ValueError:
        raise refused from None
    timeouts_s = (limits.header_timeout_s, limits.body_timeout_s)
    if not all(0 < timeout_s < math.inf for timeout_s in timeouts_s) or limits.max_connections < 1:
        raise refused
    return limits


def _parsed_setting(name: str, parse: Callable[[str], T], default: str) -> T:
    """The environment's ``name`` (else ``default``) read by ``parse``; what ``parse`` refuses
    stops the command at start, naming the setting."""
    try:
        return parse(os.environ.get(name, default))
    except ValueError as malformed:
        raise ConfigurationError(f"{name} {malformed}") from None


def _positive_seconds(text: str) -> float:
    seconds = float(text)
    if not 0 < seconds < math.inf:
        raise ValueError(f"{text} is not a number of seconds above 0")
    return seconds


def _count_setting(name: str, default: int) -> int:
    """A whole number of at least 1 from the environment."""
    text = os.environ.get(name, str(default)).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)


def build_dependencies(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> Dependencies:
    engine = engine or make_engine(
        settings.database_url, pool_size=settings.pool_size, timeouts=settings.timeouts
    )
    # SQLite: every writer of this process takes turns at this one gate (write_gate.py).
    gate = make_write_gate(engine, settings.timeouts)

    def writer() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, gate=gate)

    def reader() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, read_only=True)

    clock = clock or SystemClock()
    # PostgreSQL engines keep pool_size connections and open as many more (engine.py).
    transactions = transaction_runner(engine, gate, writer, reader, connections=2 * settings.pool_size)
    sandbox = SandboxProcessor(timeout_s=settings.sandbox_timeout_s, ledger=StoredLedger(transactions, clock))
    secret_box = AesGcmSecretBox(settings.secret_keys)
    upstreams = UpstreamDirectory(
        transactions, secret_box, clock, processor_timeout_s=settings.processor_timeout_s
    )
    return Dependencies(
        uow=writer,
        key_usage=KeyUsageRecorder(writer, clock),
        dashboard_idle_timeout=settings.dashboard_idle_timeout,
        request_log=RequestLogBuffer(writer),
        reader=reader,
        key_lookup=lambda key_hash: find_api_key(engine, key_hash),
        transactions=transactions,
        clock=clock,
        ids=RandomIds(),
        processor=sandbox,
        upstreams=upstreams,
        secret_box=secret_box,
        upstream_admins=DojoAdmins(
            transactions, secret_box, read_timeout_s=settings.processor_timeout_s + READ_TIMEOUT_MARGIN_S
        ),
        upstream_max_age_s=settings.upstream_max_age_s,
        upstream_poll_interval_s=settings.upstream_poll_interval_s,
        processor_timeout_s=settings.processor_timeout_s,
        idempotency_retention=settings.idempotency_retention,
        webhook_retry_scale=settings.webhook_retry_scale,
        webhook_timeout_s=settings.webhook_timeout_s,
        sandbox_webhook_hosts=settings.sandbox_webhook_hosts,
        request_log_retention=settings.request_log_retention,
        production_checkout=settings.production_checkout,
        receipt_mailer=SmtpReceiptMailer(settings.smtp) if settings.smtp is not None else None,
    )


def build_checked_dependencies(settings: Settings, *, engine: Engine | None = None) -> Dependencies:
    """``build_dependencies``, refused (ConfigurationError) when upstream accounts are stored and
    no secret key opens their keys: ``serve``, its workers and every command stop at start."""
    deps = build_dependencies(settings, engine=engine)
    try:
        refuse_upstreams_without_secret_key(deps)
    except SecretKeyMissingError as missing:
        raise ConfigurationError(str(missing)) from None
    return deps


def transaction_runner(
    engine: Engine,
    gate: WriteGate | None,
    writer: UnitOfWorkFactory,
    reader: UnitOfWorkFactory,
    *,
    connections: int,
) -> TransactionRunner:
    """The strategy for the store's units of work: SQLite's one batching writer; PostgreSQL's
    pooled connections, each used by one worker thread at a time (as many threads as the pool
    has connections, so none waits for one); threads for anything else."""
    if gate is not None:
        return SqliteTransactions(engine, gate, reader)
    if engine.dialect.name == "postgresql":
        return ThreadedTransactions(writer, reader, threads=connections)
    return ThreadedTransactions(writer, reader)


def build_sender(settings: Settings) -> WebhookSender:
    return HttpWebhookSender(
        timeout_s=settings.webhook_timeout_s, sandbox_hosts=settings.sandbox_webhook_hosts
    )


def migrate(settings: Settings) -> None:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def audit_database(settings: Settings) -> AuditReport:
    engine = make_engine(settings.database_url, pool_size=1, timeouts=settings.timeouts)
    try:
        return audit(engine)
    finally:
        engine.dispose()


def app_from_environment() -> Starlette:
    """ASGI factory for ``uvicorn --factory``: each worker process builds its own engine."""
    settings = Settings.from_environment()
    engine = make_engine(
        settings.database_url, pool_size=settings.pool_size, timeouts=settings.timeouts, serving=True
    )
    limiter = RateLimiter(settings.rate_limit, settings.sandbox_rate_limit)
    deps = build_checked_dependencies(settings, engine=engine)
    app = build_app(
        deps,
        pool_in_use=_pool_gauge(engine),
        rate_limiter=limiter,
        sign_in_guard=SignInGuard(settings.sign_in_limits),
        public_url=settings.public_url,
    )
    tune_garbage_collector()
    return app


# Allocations between young-generation collections, then young collections per middle one, and
# middle ones per full one (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (10_000, 50, 1_000)


def tune_garbage_collector() -> None:
    """For a serving worker: everything built so far (modules, the app, SQL statements) moves out
    of the collector's sight, and collections come less often. With the defaults a worker paused
    for full collections often enough to double the refunds' p99 (docs/performance.md)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _pool_gauge(engine: Engine) -> Callable[[], int]:
    """Connections checked out of the engine's pool."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return lambda: 0
    return lambda: int(pool.checkedout())
