"""The bundle of ports every use case receives; ``bootstrap`` builds the real one, tests a fake."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from payintents.domain.intent import Scope
from payintents.domain.webhook_urls import SANDBOX_LOCAL_HOSTS
from payintents.service.key_usage import KeyUsageRecorder
from payintents.service.ports import (
    ApiKeyRecord,
    Clock,
    IdGenerator,
    KeyLookup,
    Processor,
    ReceiptMailer,
    TransactionRunner,
    UnitOfWork,
    UnitOfWorkFactory,
)
from payintents.service.request_log_buffer import RequestLogBuffer
from payintents.service.transactions import ThreadedTransactions
from payintents.service.upstream_ports import SecretBox, Upstream, Upstreams
from payintents.service.upstream_sync_ports import UpstreamAdmins


@dataclass(frozen=True, slots=True)
class Dependencies:
    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    processor: Processor
    idempotency_retention: timedelta = timedelta(hours=72)
    # Multiplies the webhook retry schedule; below 1 only for tests and demos.
    webhook_retry_scale: float = 1.0
    # The whole time one webhook send may take; dispatchers size their leases from it.
    webhook_timeout_s: float = 15.0
    # Hosts sandbox subscriptions may use besides public ones (PAYINTENTS_SANDBOX_WEBHOOK_HOSTS).
    sandbox_webhook_hosts: frozenset[str] = SANDBOX_LOCAL_HOSTS
    request_log_retention: timedelta = timedelta(hours=24)
    # Whether the test-card checkout may pay production intents (only for tests of production
    # behaviour: the built-in processor moves no real money).
    production_checkout: bool = False
    # How async use cases await a sandbox pause (fail-next "slow", the timeout test card) on the
    # event loop, holding no thread; tests replace it.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Units of work that only read (on SQLite they take no write lock); ``uow`` when not given.
    reader: UnitOfWorkFactory | None = None
    # How authentication finds a key; None reads it through ``read()``.
    key_lookup: KeyLookup | None = None
    # Where sandbox request-log entries wait to be written in batches; None writes each at once.
    request_log: RequestLogBuffer | None = None
    # Where authentication notes each key's use (written a minute apart at most); None records none.
    key_usage: KeyUsageRecorder | None = None
    # A dashboard session unused this long is over (PAYINTENTS_DASHBOARD_IDLE_TIMEOUT_MIN).
    dashboard_idle_timeout: timedelta = timedelta(minutes=30)
    # How long a money operation waits for the processor's answer (PAYINTENTS_PROCESSOR_TIMEOUT_S);
    # above the sandbox's longest "slow" delay (30 s), so no sandbox answer times out by default.
    processor_timeout_s: float = 40.0
    # Where async use cases run their units of work; None runs each on a thread (transactions.py).
    transactions: TransactionRunner | None = None
    # How production keys' receipts are mailed (PAYINTENTS_SMTP_URL); None: receipts are refused
    # for production keys. Sandbox receipts are never mailed (service/receipts.py).
    receipt_mailer: ReceiptMailer | None = None
    # The accounts whose production money moves at Dojo (ADR 0031); None: ``processor`` for all.
    upstreams: Upstreams | None = None
    # Seals and opens upstream keys at rest (PAYINTENTS_SECRET_KEY); None when no key is set.
    secret_box: SecretBox | None = None
    # Upstream accounts' Dojo for webhook subscriptions and refund counts (ADR 0033).
    upstream_admins: UpstreamAdmins | None = None
    # A read refreshes a mirror compared with Dojo longer ago than this (PAYINTENTS_UPSTREAM_MAX_AGE_S).
    upstream_max_age_s: float = 5.0
    # The housekeeping asks Dojo about an open mirror at most this often
    # (PAYINTENTS_UPSTREAM_POLL_INTERVAL_S).
    upstream_poll_interval_s: float = 60.0

    def find_key(self, key_hash: str) -> ApiKeyRecord | None:
        if self.key_lookup is not None:
            return self.key_lookup(key_hash)
        with self.read() as uow:
            return uow.accounts.find_key(key_hash)

    async def upstream_for(self, scope: Scope) -> Upstream | None:
        """The scope's upstream, if its money moves elsewhere (a gateway account's production)."""
        return None if self.upstreams is None else await self.upstreams.for_scope(scope)

    async def processor_for(self, scope: Scope) -> Processor:
        """The processor that moves ``scope``'s money: its upstream's, else ``processor``."""
        upstream = await self.upstream_for(scope)
        return self.processor if upstream is None else upstream.processor

    def runner(self) -> TransactionRunner:
        """The transaction runner async use cases go through."""
        return self.transactions or ThreadedTransactions(self.uow, self.read)

    def read(self) -> UnitOfWork:
        """A unit of work for reading only: never commit through it."""
        return (self.reader or self.uow)()
