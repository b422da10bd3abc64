"""Working fakes of the service ports: an in-memory store, a settable clock, sequential ids.

The in-memory store keeps deep copies, so a use case that forgets to save loses its change here
just as it would against a database; a unit of work that does not commit changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from payintents.domain import lifecycle
from payintents.domain.card import mask_card_number
from payintents.domain.customer import PaymentMethod
from payintents.domain.errors import StateConflictError
from payintents.domain.events import OutboxEvent
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse
from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.domain.money_operation import (
    CallerKey,
    MoneyOperation,
    OperationKind,
    OperationStatus,
    ProcessorAnswer,
    ProcessorOutcome,
)
from payintents.domain.refund import Refund
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.domain.terminal import SessionType, Terminal, TerminalSession
from payintents.domain.webhooks import Subscription
from payintents.service.dependencies import Dependencies
from payintents.service.ports import (
    ApiKeyRecord,
    AttemptRecord,
    CardResult,
    ConcurrentUpdateError,
    DeliveryJob,
    DeliveryView,
    IntentPage,
    IntentQuery,
    NewApiKey,
    ProcessorDeclinedError,
    ProcessorUnavailableError,
    RefundApplied,
    SubscriptionRoom,
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
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], MemoryDelivery] = field(default_factory=dict)
    failures: dict[tuple[str, str], InjectedFailure] = field(default_factory=dict)
    # What the SQL store keeps in payment_intents' pending columns: refunds reserved, operation held.
    reserved_refunds: Counter[str] = field(default_factory=Counter)
    held_by: dict[str, str] = field(default_factory=dict)
    operations: dict[str, MoneyOperation] = field(default_factory=dict)
    terminals: dict[str, Terminal] = field(default_factory=dict)
    terminal_sessions: dict[str, TerminalSession] = field(default_factory=dict)


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

    def save(self, intent: PaymentIntent, finishing: str | None = None) -> None:
        lifecycle.check_invariants(intent)
        stored = self._s.intents[intent.id]
        if stored.version != intent.version or self._s.held_by.get(intent.id) != finishing:
            raise ConcurrentUpdateError(intent.id)
        self._s.held_by.pop(intent.id, None)
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

    def reserve_refund(self, scope: Scope, intent_id: str, amount: int) -> str | None:
        intent = self.get(scope, intent_id)
        if intent is None or intent.status is not Status.CAPTURED or intent_id in self._s.held_by:
            return None
        if intent.refunded_amount + self._s.reserved_refunds[intent_id] + amount > intent.refundable_amount:
            return None
        self._s.reserved_refunds[intent_id] += amount
        return intent.reference

    def confirm_refund(self, scope: Scope, intent_id: str, amount: int, now: datetime) -> RefundApplied:
        intent = self.get(scope, intent_id)
        assert intent is not None and self._s.reserved_refunds[intent_id] >= amount
        self._s.reserved_refunds[intent_id] -= amount
        lifecycle.apply_refund(intent, amount, now)
        self.save(intent)
        return RefundApplied(
            intent.refunded_amount,
            intent.refundable_amount,
            intent.status,
            intent.capture_mode,
            intent.reference,
        )

    def release_refund(self, scope: Scope, intent_id: str, amount: int) -> None:
        assert self._s.reserved_refunds[intent_id] >= amount
        self._s.reserved_refunds[intent_id] -= amount

    def reserve_operation(self, intent: PaymentIntent, operation_id: str) -> bool:
        stored = self._s.intents[intent.id]
        if stored.version != intent.version or intent.id in self._s.held_by:
            return False
        if self._s.reserved_refunds[intent.id]:
            return False
        self._s.held_by[intent.id] = operation_id
        return True

    def release_operation(self, scope: Scope, intent_id: str, operation_id: str) -> None:
        assert self._s.held_by.pop(intent_id) == operation_id

    def due_for_expiry(
        self, now: datetime, limit: int, scope: Scope | None = None
    ) -> list[tuple[Scope, str]]:
        due = [
            (i.scope, i.id)
            for i in self._s.intents.values()
            if (scope is None or i.scope == scope)
            and (
                (i.status is Status.CREATED and i.expire_at <= now)
                or (i.status is Status.AUTHORIZED and i.auto_expire_at and i.auto_expire_at <= now)
            )
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

    def release(self, scope: Scope, target: str, key: str) -> None:
        del self._s.keys[(scope.account_id, scope.environment.value, target, key)]

    def reap(self, older_than: datetime, scope: Scope | None = None) -> int:
        old = [
            k
            for k, (_, _, created_at) in self._s.keys.items()
            if created_at < older_than
            and (scope is None or k[:2] == (scope.account_id, scope.environment.value))
        ]
        for k in old:
            del self._s.keys[k]
        return len(old)


class MemoryOutbox:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, event: OutboxEvent, deliver_from: datetime | None = None) -> None:
        self._s.outbox.append(event)
        due = deliver_from or event.created_at
        for sub in self._s.subscriptions.values():
            if sub.scope == event.scope and event.name.value in sub.events and sub.disabled_at is None:
                self._s.deliveries[(event.id, sub.id)] = MemoryDelivery(event, sub.id, due)


class MemoryAccounts:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, account_id: str, name: str, keys: Sequence[NewApiKey], now: datetime) -> None:
        self._s.accounts[account_id] = name
        for key in keys:
            self.add_key(key, now)

    def add_key(self, key: NewApiKey, now: datetime) -> None:
        self._s.api_keys[key.key_hash] = ApiKeyRecord(
            key.key_hash, key.account_id, key.environment, key_id=key.key_id
        )

    def find_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self._s.api_keys.get(key_hash)

    def count(self) -> int:
        return len(self._s.accounts)


@dataclass
class MemoryDelivery:
    event: OutboxEvent
    subscription_id: str
    next_attempt_at: datetime | None
    status: str = "pending"
    attempts: list[AttemptRecord] = field(default_factory=list)
    lease_owner: str | None = None
    leased_until: datetime | None = None


class MemoryWebhooks:
    """Subscriptions with the store's rule: one subscription per (scope, event), listeners aside."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, subscription: Subscription) -> None:
        self.save(subscription)

    def get(self, scope: Scope, subscription_id: str) -> Subscription | None:
        sub = self._s.subscriptions.get(subscription_id)
        return copy.deepcopy(sub) if sub and sub.scope == scope else None

    def list(self, scope: Scope) -> list[Subscription]:
        subs = [s for s in self._s.subscriptions.values() if s.scope == scope]
        return [copy.deepcopy(s) for s in sorted(subs, key=lambda s: (s.created_at, s.id))]

    def save(self, subscription: Subscription) -> None:
        for other in self._s.subscriptions.values():
            clash = set(other.events) & set(subscription.events)
            listening = other.is_listener or subscription.is_listener
            if other.id != subscription.id and other.scope == subscription.scope and clash and not listening:
                raise StateConflictError("Another subscription already receives that event.")
        self._s.subscriptions[subscription.id] = copy.deepcopy(subscription)

    def delete(self, scope: Scope, subscription_id: str) -> bool:
        if self.get(scope, subscription_id) is None:
            return False
        self._delete(subscription_id)
        return True

    def delete_expired_listeners(self, now: datetime) -> int:
        expired = [
            s.id
            for s in self._s.subscriptions.values()
            if s.listener_expires_at is not None and s.listener_expires_at < now
        ]
        for subscription_id in expired:
            self._delete(subscription_id)
        return len(expired)

    def _delete(self, subscription_id: str) -> None:
        del self._s.subscriptions[subscription_id]
        for d in self._s.deliveries.values():
            if d.subscription_id == subscription_id and d.status == "pending":
                d.status, d.next_attempt_at = "disabled", None


class MemoryDeliveries:
    """The delivery queue with the SQL store's lease semantics."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def any_due(self, now: datetime, passing_over: Sequence[str] = ()) -> bool:
        return any(
            self._due(d, now) and d.subscription_id not in passing_over for d in self._s.deliveries.values()
        )

    def claim_due(
        self,
        now: datetime,
        owner: str,
        lease_until: datetime,
        limit: int,
        room: SubscriptionRoom | None = None,
    ) -> list[DeliveryJob]:
        passing_over = room.full() if room else []
        due = [
            d
            for d in self._s.deliveries.values()
            if self._due(d, now) and d.subscription_id not in passing_over
        ]
        jobs: list[DeliveryJob] = []
        taken: Counter[str] = Counter()
        for d in sorted(due, key=lambda d: d.next_attempt_at or now)[:limit]:
            if room is not None and taken[d.subscription_id] >= room.of(d.subscription_id):
                continue
            taken[d.subscription_id] += 1
            d.lease_owner, d.leased_until = owner, lease_until
            sub = self._s.subscriptions[d.subscription_id]
            secret = sub.active_secret
            jobs.append(DeliveryJob(d.event, sub.id, sub.url, secret.id, secret.value, len(d.attempts)))
        return jobs

    @staticmethod
    def _due(d: MemoryDelivery, now: datetime) -> bool:
        return (
            d.status == "pending"
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and (d.leased_until is None or d.leased_until < now)
        )

    def record_attempt(
        self, job: DeliveryJob, owner: str, record: AttemptRecord, outcome: str, now: datetime
    ) -> bool:
        d = self._s.deliveries[(job.event.id, job.subscription_id)]
        if d.lease_owner != owner or d.status != "pending":
            return False
        d.attempts.append(record)
        d.status = {"delivered": "delivered", "retry": "pending", "failed": "failed"}.get(outcome, "disabled")
        d.next_attempt_at = record.next_attempt_at if outcome == "retry" else None
        d.lease_owner = d.leased_until = None
        sub = self._s.subscriptions.get(job.subscription_id)
        if sub is not None and outcome == "delivered" and (secret := sub.find_secret(job.secret_id)):
            secret.last_used_at = now
        if sub is not None and outcome == "disabled":
            sub.disabled_at = sub.updated_at = now
            for other in self._s.deliveries.values():
                if other.subscription_id == sub.id and other.status == "pending":
                    other.status, other.next_attempt_at = "disabled", None
        return True

    def list_for_subscription(self, scope: Scope, subscription_id: str, limit: int) -> list[DeliveryView]:
        mine = [d for d in self._s.deliveries.values() if d.subscription_id == subscription_id]
        mine = [d for d in mine if d.event.scope == scope]
        mine.sort(key=lambda d: (d.event.created_at, d.event.id), reverse=True)
        return [
            DeliveryView(d.event.id, d.event.name.value, d.status, d.next_attempt_at, list(d.attempts))
            for d in mine[:limit]
        ]

    def retry_event(self, scope: Scope, event_id: str, now: datetime) -> int:
        count = 0
        for (ev_id, sub_id), d in self._s.deliveries.items():
            sub = self._s.subscriptions.get(sub_id)
            if ev_id == event_id and d.event.scope == scope and sub is not None and sub.disabled_at is None:
                d.status, d.next_attempt_at, d.lease_owner, d.leased_until = "pending", now, None, None
                count += 1
        return count

    def count_pending(self) -> int:
        return sum(1 for d in self._s.deliveries.values() if d.status == "pending")


class MemorySandbox:
    """Failure injection in memory; the clock, request log and reset are tested on real stores."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def clock_offset(self, account_id: str) -> timedelta:
        return timedelta(0)

    def put_failure(self, scope: Scope, intent_id: str, failure: InjectedFailure) -> None:
        self._s.failures[(intent_id, failure.operation.value)] = failure

    def find_failure(self, scope: Scope, intent_id: str, operation: FailOperation) -> InjectedFailure | None:
        return self._s.failures.get((intent_id, operation.value))

    def delete_failure(self, scope: Scope, intent_id: str, operation: FailOperation) -> None:
        self._s.failures.pop((intent_id, operation.value), None)


class MemoryOperations:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add(self, operation: MoneyOperation) -> None:
        self._s.operations[operation.id] = operation

    def get(self, operation_id: str) -> MoneyOperation | None:
        return self._s.operations.get(operation_id)

    def for_key(self, scope: Scope, target: str, key: str) -> MoneyOperation | None:
        wanted = CallerKey(target, key)
        found = [
            o
            for o in self._s.operations.values()
            if o.scope == scope and o.caller_key == wanted and o.status is not OperationStatus.FAILED
        ]
        return found[0] if found else None

    def finish(self, operation_id: str, status: OperationStatus, now: datetime) -> bool:
        operation = self._s.operations[operation_id]
        if operation.status is not OperationStatus.PENDING:
            return False
        self._s.operations[operation_id] = dataclasses.replace(operation, status=status)
        return True

    def name_object(self, operation: MoneyOperation) -> None:
        stored = self._s.operations[operation.id]
        named = dataclasses.replace(stored, object_id=operation.object_id, answer=operation.answer)
        self._s.operations[operation.id] = named

    def overdue(self, now: datetime, limit: int) -> list[MoneyOperation]:
        due = [
            o
            for o in self._s.operations.values()
            if o.status is OperationStatus.PENDING and o.deadline_at <= now
        ]
        return sorted(due, key=lambda o: o.deadline_at)[:limit]

    def any_pending(self, scope: Scope) -> bool:
        return any(
            o.scope == scope and o.status is OperationStatus.PENDING for o in self._s.operations.values()
        )

    def pending_on(self, scope: Scope, intent_id: str) -> list[MoneyOperation]:
        return [
            o
            for o in self._s.operations.values()
            if o.scope == scope and o.intent_id == intent_id and o.status is OperationStatus.PENDING
        ]


class MemoryLedger:
    """The sandbox processor's ledger table, for a processor that would keep it in this store."""

    def __init__(self) -> None:
        self._outcomes: dict[str, ProcessorOutcome] = {}

    def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome, now: datetime
    ) -> ProcessorOutcome:
        return self._outcomes.setdefault(key, outcome)

    def find(self, key: str) -> ProcessorOutcome | None:
        return self._outcomes.get(key)


class MemoryTerminals:
    """Terminals and their sessions, with the SQL store's claim and version guards."""

    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def add_terminal(self, terminal: Terminal) -> None:
        self._s.terminals[terminal.id] = copy.deepcopy(terminal)

    def list_terminals(self, scope: Scope) -> list[Terminal]:
        return [copy.deepcopy(t) for t in self._s.terminals.values() if t.scope == scope]

    def get_terminal(self, scope: Scope, terminal_id: str) -> Terminal | None:
        found = self._s.terminals.get(terminal_id)
        return copy.deepcopy(found) if found is not None and found.scope == scope else None

    def configure_terminal(self, terminal: Terminal) -> None:
        self._s.terminals[terminal.id] = copy.deepcopy(terminal)

    def claim_terminal(self, scope: Scope, terminal_id: str, session_id: str, now: datetime) -> bool:
        found = self._s.terminals.get(terminal_id)
        if found is None or found.scope != scope or found.offline or found.open_session_id:
            return False
        found.open_session_id, found.updated_at = session_id, now
        return True

    def free_terminal(self, terminal_id: str, session_id: str, now: datetime) -> None:
        found = self._s.terminals.get(terminal_id)
        if found is not None and found.open_session_id == session_id:
            found.open_session_id, found.updated_at = None, now

    def add_session(self, session: TerminalSession) -> None:
        self._s.terminal_sessions[session.id] = copy.deepcopy(session)

    def get_session(self, scope: Scope, session_id: str) -> TerminalSession | None:
        found = self._s.terminal_sessions.get(session_id)
        return copy.deepcopy(found) if found is not None and found.scope == scope else None

    def save_session(self, session: TerminalSession) -> None:
        stored = self._s.terminal_sessions.get(session.id)
        if stored is None or stored.version != session.version:
            raise ConcurrentUpdateError(session.id)
        session.version += 1
        self._s.terminal_sessions[session.id] = copy.deepcopy(session)

    def sessions_for_intent(self, scope: Scope, intent_id: str) -> list[TerminalSession]:
        found = self._s.terminal_sessions.values()
        return [copy.deepcopy(s) for s in found if s.scope == scope and s.payment_intent_id == intent_id]

    def latest_on(self, scope: Scope, terminal_id: str) -> TerminalSession | None:
        found = [
            s for s in self._s.terminal_sessions.values() if s.scope == scope and s.terminal_id == terminal_id
        ]
        return copy.deepcopy(max(found, key=lambda s: (s.created_at, s.id))) if found else None

    def held_on(self, scope: Scope, intent_id: str) -> int:
        return sum(s.held_amount for s in self.sessions_for_intent(scope, intent_id))

    def open_sessions(self, limit: int) -> list[TerminalSession]:
        return [copy.deepcopy(s) for s in self._s.terminal_sessions.values() if not s.is_final][:limit]

    def unlinked_refunds(self, scope: Scope, limit: int) -> list[TerminalSession]:
        found = self._s.terminal_sessions.values()
        kind = SessionType.UNLINKED_REFUND
        return [copy.deepcopy(s) for s in found if s.scope == scope and s.session_type is kind][:limit]

    def release_all(self, scope: Scope) -> None:
        for terminal in self._s.terminals.values():
            if terminal.scope == scope:
                terminal.open_session_id = None
        sessions = self._s.terminal_sessions
        self._s.terminal_sessions = {k: v for k, v in sessions.items() if v.scope != scope}


class MemoryUnitOfWork:
    """A transaction over a working copy of the state, swapped in on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self._store.state)
        self.intents = MemoryIntents(self._work)
        self.refunds = MemoryRefunds(self._work)
        self.idempotency = MemoryIdempotency(self._work)
        self.operations = MemoryOperations(self._work)
        self.processor_ledger = MemoryLedger()
        self.outbox = MemoryOutbox(self._work)
        self.accounts = MemoryAccounts(self._work)
        self.webhooks = MemoryWebhooks(self._work)
        self.deliveries = MemoryDeliveries(self._work)
        self.sandbox = MemorySandbox(self._work)
        self.terminals = MemoryTerminals(self._work)
        return self

    def commit(self, durable: bool = True) -> None:
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


class FakeMonotonic:
    """A settable ``time.monotonic`` (seconds), for the rate limiter."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


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

    sandbox_cards = ()
    # Its ledger is in memory, not in the store: reservations are flushed before it is called.
    ledger_in_our_store = False

    async def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        card = {"cardNumber": mask_card_number(card_number), "expiryDate": expiry}
        if card_number.endswith("1005"):
            return CardResult("approved", card)
        if card_number.endswith("1096"):
            return CardResult("challenge", card)
        return CardResult("declined", card)

    async def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult:
        return CardResult("approved" if passed else "declined", {})

    async def authorize_saved_card(self, intent: PaymentIntent, method: PaymentMethod) -> CardResult:
        return CardResult("approved", {"cardNumber": method.card.pan}, method.processor_token)

    def __init__(self) -> None:
        # What it did under each processor key, as the sandbox processor's ledger keeps it.
        self.ledger: dict[str, ProcessorOutcome] = {}

    async def perform(self, operation: MoneyOperation) -> None:
        if operation.processor_key not in self.ledger:
            self.ledger[operation.processor_key] = ProcessorOutcome.SUCCEEDED
        self._obey(operation.injected)

    async def lookup(self, operation: MoneyOperation) -> ProcessorAnswer | None:
        found = self.ledger.get(operation.processor_key)
        return None if found is None else ProcessorAnswer(found)

    @staticmethod
    def _obey(injected: InjectedFailure | None) -> None:
        if injected is not None and injected.outcome is FailOutcome.DECLINED:
            raise ProcessorDeclinedError("declined (fake)")
        if injected is not None and injected.outcome is FailOutcome.PROCESSOR_ERROR:
            raise ProcessorUnavailableError("processor error (fake)")


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


def pending_operation(
    scope: Scope,
    at: datetime,
    *,
    kind: OperationKind = OperationKind.REFUND,
    intent_id: str = "pi_1",
    amount: int = 300,
    object_id: str = "rfnd_ours",
    body: bytes = b'{"refundId":"rfnd_ours"}',
    deadline_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> MoneyOperation:
    """A money operation as its reserve step leaves it: pending, its answer rendered, requested and
    created at ``at``, due 4 s later unless ``deadline_at`` says otherwise."""
    return MoneyOperation(
        id="op_1",
        scope=scope,
        intent_id=intent_id,
        kind=kind,
        amount=amount,
        object_id=object_id,
        answer=StoredResponse(200, body),
        requested_at=at,
        created_at=at,
        deadline_at=deadline_at or at + timedelta(seconds=4),
        details=details,
    )
