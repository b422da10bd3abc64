"""Working fakes of the service ports: an in-memory store, a settable clock, sequential ids.

The in-memory store keeps deep copies, so a use case that forgets to save loses its change here
just as it would against a database; a unit of work that does not commit changes nothing.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from payintents.domain import lifecycle
from payintents.domain.errors import RuleBrokenError
from payintents.domain.events import OutboxEvent
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse
from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.domain.refund import Refund
from payintents.service.dependencies import Dependencies
from payintents.service.ports import (
    ApiKeyRecord,
    CardResult,
    ConcurrentUpdateError,
    IntentPage,
    IntentQuery,
    RefundApplied,
)


@dataclass
class MemoryState:
    intents: dict[str, PaymentIntent] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    keys: dict[tuple[str, str, str, str], tuple[str, StoredResponse | None, datetime]] = field(
        default_factory=dict
    )
    outbox: list[OutboxEvent] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)
    api_keys: dict[str, ApiKeyRecord] = field(default_factory=dict)


class MemoryIntents:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, intent: PaymentIntent) -> None:
        lifecycle.check_invariants(intent)
        self._s.intents[intent.id] = copy.deepcopy(intent)

    def get(self, scope: Scope, intent_id: str) -> PaymentIntent | None:
        intent = self._s.intents.get(intent_id)
        return copy.deepcopy(intent) if intent and intent.scope == scope else None

    def find(self, intent_id: str) -> PaymentIntent | None:
        return copy.deepcopy(self._s.intents.get(intent_id))

    def save(self, intent: PaymentIntent) -> None:
        lifecycle.check_invariants(intent)
        stored = self._s.intents[intent.id]
        if stored.version != intent.version:
            raise ConcurrentUpdateError(intent.id)
        intent.version += 1
        self._s.intents[intent.id] = copy.deepcopy(intent)

    def search(self, scope: Scope, query: IntentQuery) -> IntentPage:
        found = [
            i
            for i in self._s.intents.values()
            if i.scope == scope and (not query.statuses or i.status in query.statuses)
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        if query.after is not None:
            found = [i for i in found if (i.created_at, i.id) < query.after]
        return IntentPage([copy.deepcopy(i) for i in found[: query.limit]], len(found) > query.limit)

    def apply_refund(self, scope: Scope, intent_id: str, amount: int, now: datetime) -> RefundApplied | None:
        intent = self.get(scope, intent_id)
        if intent is None:
            return None
        try:
            lifecycle.apply_refund(intent, amount, now)
        except RuleBrokenError:
            return None
        self.save(intent)
        return RefundApplied(
            intent.refunded_amount,
            intent.refundable_amount,
            intent.status,
            intent.capture_mode,
            intent.reference,
        )

    def due_for_expiry(self, now: datetime, limit: int) -> list[tuple[Scope, str]]:
        due = [
            (i.scope, i.id)
            for i in self._s.intents.values()
            if (i.status is Status.CREATED and i.expire_at <= now)
            or (i.status is Status.AUTHORIZED and i.auto_expire_at and i.auto_expire_at <= now)
        ]
        return due[:limit]


class MemoryRefunds:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, refund: Refund) -> None:
        self._s.refunds[refund.id] = refund

    def get(self, scope: Scope, refund_id: str) -> Refund | None:
        refund = self._s.refunds.get(refund_id)
        return refund if refund and refund.scope == scope else None

    def list_for_intent(self, scope: Scope, intent_id: str) -> list[Refund]:
        return [r for r in self._s.refunds.values() if r.scope == scope and r.payment_intent_id == intent_id]

    def totals_by_currency(self) -> list[tuple[str, int, int]]:
        totals: dict[str, tuple[int, int]] = {}
        for refund in self._s.refunds.values():
            currency = self._s.intents[refund.payment_intent_id].currency.value
            count, amount = totals.get(currency, (0, 0))
            totals[currency] = (count + 1, amount + refund.amount)
        return [(c, n, a) for c, (n, a) in sorted(totals.items())]


class MemoryIdempotency:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def claim(
        self, scope: Scope, target: str, key: str, fingerprint: str, now: datetime
    ) -> IdempotencyRecord | None:
        full_key = (scope.account_id, scope.environment.value, target, key)
        if full_key in self._s.keys:
            stored_fingerprint, response, _ = self._s.keys[full_key]
            return IdempotencyRecord(stored_fingerprint, response)
        self._s.keys[full_key] = (fingerprint, None, now)
        return None

    def complete(self, scope: Scope, target: str, key: str, response: StoredResponse) -> None:
        full_key = (scope.account_id, scope.environment.value, target, key)
        fingerprint, _, created_at = self._s.keys[full_key]
        self._s.keys[full_key] = (fingerprint, response, created_at)

    def reap(self, older_than: datetime) -> int:
        old = [k for k, (_, _, created_at) in self._s.keys.items() if created_at < older_than]
        for k in old:
            del self._s.keys[k]
        return len(old)


class MemoryOutbox:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, event: OutboxEvent) -> None:
        self._s.outbox.append(event)

    def count_pending(self) -> int:
        return len(self._s.outbox)


class MemoryAccounts:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, account_id: str, name: str, keys: Sequence[ApiKeyRecord], now: datetime) -> None:
        self._s.accounts[account_id] = name
        for key in keys:
            self._s.api_keys[key.key_hash] = key

    def find_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self._s.api_keys.get(key_hash)

    def count(self) -> int:
        return len(self._s.accounts)


class MemoryUnitOfWork:
    """A transaction over a working copy of the state, swapped in on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self._store.state)
        self.intents = MemoryIntents(self._work)
        self.refunds = MemoryRefunds(self._work)
        self.idempotency = MemoryIdempotency(self._work)
        self.outbox = MemoryOutbox(self._work)
        self.accounts = MemoryAccounts(self._work)
        return self

    def commit(self) -> None:
        self._store.state = self._work
        self._store.commits += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class MemoryStore:
    def __init__(self) -> None:
        self.state = MemoryState()
        self.commits = 0

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: Any) -> None:
        self.current += timedelta(**kwargs)


class SequentialIds:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_id(self, prefix: str, environment: Environment | None) -> str:
        infix = "sandbox_" if environment is Environment.SANDBOX else ""
        return f"{prefix}_{infix}{next(self._counter):022d}"

    def new_secret(self) -> str:
        return f"secret{next(self._counter):080d}"

    def new_uuid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._counter):012d}"


class ApprovingProcessor:
    """Approves 5200 0000 0000 1005, challenges ...1096, declines anything else."""

    def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        card = {"cardNumber": f"{card_number[:8]}****{card_number[-4:]}", "expiryDate": expiry}
        if card_number.endswith("1005"):
            return CardResult("approved", card)
        if card_number.endswith("1096"):
            return CardResult("challenge", card)
        return CardResult("declined", card)

    def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult:
        return CardResult("approved" if passed else "declined", {})

    def capture(self, intent: PaymentIntent, amount: int) -> None:
        return None

    def refund(self, scope: Scope, intent_id: str, amount: int) -> None:
        return None


@dataclass
class FakeWorld:
    """Everything a service-level unit test touches."""

    store: MemoryStore
    clock: FakeClock
    deps: Dependencies


def fake_world() -> FakeWorld:
    store = MemoryStore()
    clock = FakeClock()
    deps = Dependencies(
        uow=store.unit_of_work, clock=clock, ids=SequentialIds(), processor=ApprovingProcessor()
    )
    return FakeWorld(store, clock, deps)
