"""The ports the service layer talks through; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self, TypeVar

from payintents.domain.customer import PaymentMethod
from payintents.domain.events import OutboxEvent
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.money_operation import (
    MoneyOperation,
    OperationStatus,
    ProcessorAnswer,
    ProcessorOutcome,
)
from payintents.domain.receipts import Receipt
from payintents.domain.refund import Refund
from payintents.domain.sandbox import FailOperation, InjectedFailure
from payintents.domain.webhooks import Subscription
from payintents.service.customer_ports import (
    CustomerRepository,
    PaymentMethodRepository,
    SetupIntentRepository,
)
from payintents.service.dashboard_ports import DashboardRepository
from payintents.service.terminal_ports import TerminalRepository
from payintents.service.upstream_ports import UpstreamRepository
from payintents.service.upstream_sync_ports import MirrorCheckRepository, UpstreamWebhookRepository

_T = TypeVar("_T")


class StoreBusyError(Exception):
    """The store could not get a lock in time; the caller may retry later."""


class ConcurrentUpdateError(Exception):
    """Another transaction changed the object first; the use case may retry."""


@dataclass(frozen=True, slots=True)
class IntentPage:
    intents: list[PaymentIntent]
    has_more: bool


@dataclass(frozen=True, slots=True)
class IntentQuery:
    statuses: frozenset[Status]
    start_at: datetime | None
    end_at: datetime | None
    limit: int
    # Position (createdAt, id) to page from; newest first.
    after: tuple[datetime, str] | None = None
    before: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class RefundApplied:
    refunded_amount: int
    refundable_amount: int
    status: Status
    capture_mode: CaptureMode
    reference: str


class IntentRepository(Protocol):
    def add(self, intent: PaymentIntent) -> None: ...
    def get(self, scope: Scope, intent_id: str) -> PaymentIntent | None: ...
    def find(self, intent_id: str) -> PaymentIntent | None:
        """Look up by id alone: only for the customer-facing checkout, where the id is the capability."""

    def save(self, intent: PaymentIntent, finishing: str | None = None) -> None:
        """Write changes; raise ConcurrentUpdateError if the stored version moved on or an
        operation is in flight, unless it is ``finishing``, the one whose outcome this records."""

    def search(self, scope: Scope, query: IntentQuery) -> IntentPage: ...
    def reserve_refund(self, scope: Scope, intent_id: str, amount: int) -> str | None:
        """Hold ``amount`` as pending if the intent is Captured, no capture or reversal is in flight
        and refunded + pending + amount stays within the captured total: the intent's reference;
        else None and nothing changed."""

    def confirm_refund(self, scope: Scope, intent_id: str, amount: int, now: datetime) -> RefundApplied:
        """Move a reserved ``amount`` from pending to refunded (Refunded once it reaches the cap)."""

    def release_refund(self, scope: Scope, intent_id: str, amount: int) -> None:
        """Give a reserved ``amount`` back: the refund failed."""

    def reserve_operation(self, intent: PaymentIntent, operation_id: str) -> bool:
        """Mark a capture or reversal of ``intent`` in flight if the stored intent is still the
        loaded version and nothing else is in flight (no refund reserved either); else False."""

    def release_operation(self, scope: Scope, intent_id: str, operation_id: str) -> None:
        """The capture or reversal ``operation_id`` failed: nothing is in flight any more."""

    def due_for_expiry(
        self, now: datetime, limit: int, scope: Scope | None = None
    ) -> list[tuple[Scope, str]]:
        """Intents whose expiry time has come (of one scope only, when given)."""


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...
    def get(self, scope: Scope, refund_id: str) -> Refund | None: ...
    def list_for_intent(self, scope: Scope, intent_id: str) -> list[Refund]: ...


class IdempotencyRepository(Protocol):
    def claim(
        self, scope: Scope, target: str, key: str, fingerprint: str, now: datetime
    ) -> IdempotencyRecord | None:
        """Insert the key; return None if it was new, else the record stored earlier."""

    def complete(self, scope: Scope, target: str, key: str, response: StoredResponse) -> None: ...
    def release(self, scope: Scope, target: str, key: str) -> None:
        """Forget the claim: a rejected request leaves its key unspent."""

    def reap(self, older_than: datetime, scope: Scope | None = None) -> int: ...


class MoneyOperationRepository(Protocol):
    def add(self, operation: MoneyOperation) -> None: ...
    def get(self, operation_id: str) -> MoneyOperation | None: ...
    def for_key(self, scope: Scope, target: str, key: str) -> MoneyOperation | None:
        """The pending or succeeded operation a caller's idempotency key started, if any."""

    def finish(self, operation_id: str, status: OperationStatus, now: datetime) -> bool:
        """Set a pending operation's final status; False if it was not pending any more."""

    def name_object(self, operation: MoneyOperation) -> None:
        """Store ``operation``'s object id and answer (the processor named what it created)."""

    def overdue(self, now: datetime, limit: int) -> list[MoneyOperation]:
        """Pending operations whose deadline has passed, oldest first."""

    def any_pending(self, scope: Scope) -> bool:
        """Whether an operation of the scope is still pending."""

    def pending_on(self, scope: Scope, intent_id: str) -> list[MoneyOperation]: ...


class ProcessorLedgerRepository(Protocol):
    """The sandbox processor's own record of what it did, by the caller's processor key."""

    def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome, now: datetime
    ) -> ProcessorOutcome:
        """Write ``outcome`` for ``key`` unless the key is known: the outcome that stands."""

    def find(self, key: str) -> ProcessorOutcome | None: ...


class OutboxRepository(Protocol):
    def add(self, event: OutboxEvent, deliver_from: datetime | None = None) -> None:
        """Store the event and, in the same transaction, one delivery per interested subscription,
        due at ``deliver_from`` (real time; the event's own time when not given)."""


class WebhookRepository(Protocol):
    def add(self, subscription: Subscription) -> None:
        """Raise StateConflictError if another subscription of the scope has one of its events."""

    def get(self, scope: Scope, subscription_id: str) -> Subscription | None: ...
    def list(self, scope: Scope) -> list[Subscription]: ...
    def save(self, subscription: Subscription) -> None:
        """Write url, description, events, secrets and the disabled mark (same 409 rule as add)."""

    def delete(self, scope: Scope, subscription_id: str) -> bool: ...
    def delete_expired_listeners(self, now: datetime) -> int:
        """Delete every listener subscription (any scope) whose expiry is before ``now``."""


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One claimed delivery: what to send where, signed with which secret."""

    event: OutboxEvent
    subscription_id: str
    subscription_url: str
    secret_id: str
    secret_value: str
    attempts_made: int


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryView:
    event_id: str
    event_name: str
    status: str
    next_attempt_at: datetime | None
    attempts: list[AttemptRecord]


@dataclass(frozen=True, slots=True)
class SubscriptionRoom:
    """How many deliveries of one subscription a claim may take: ``usual`` for most, ``left`` for
    the subscriptions that differ (sends already in flight, or a receiver that lately failed)."""

    usual: int
    left: Mapping[str, int] = field(default_factory=dict)

    def of(self, subscription_id: str) -> int:
        return self.left.get(subscription_id, self.usual)

    def full(self) -> list[str]:
        """The subscriptions a claim must pass over."""
        return [subscription_id for subscription_id, room in self.left.items() if room <= 0]


class DeliveryRepository(Protocol):
    def any_due(self, now: datetime, passing_over: Sequence[str] = ()) -> bool:
        """Whether ``claim_due`` would find anything (outside the subscriptions ``passing_over``),
        read without taking a write lock."""

    def claim_due(
        self,
        now: datetime,
        owner: str,
        lease_until: datetime,
        limit: int,
        room: SubscriptionRoom | None = None,
    ) -> list[DeliveryJob]:
        """Lease up to ``limit`` due deliveries to ``owner``, oldest first, and no more of one
        subscription than ``room`` gives it (None: no such limit); no two owners hold one at once."""

    def record_attempt(
        self, job: DeliveryJob, owner: str, record: AttemptRecord, outcome: str, now: datetime
    ) -> bool:
        """Store an attempt and the delivery's new status if ``owner`` still holds the lease.

        ``outcome``: "delivered", "retry", "failed" (out of attempts) or "disabled" (410).
        """

    def list_for_subscription(self, scope: Scope, subscription_id: str, limit: int) -> list[DeliveryView]: ...
    def retry_event(self, scope: Scope, event_id: str, now: datetime) -> int:
        """Make the event's deliveries due now again; the number of deliveries rescheduled."""

    def count_pending(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What authentication reads for a key that is not revoked, in one query."""

    key_hash: str
    account_id: str
    environment: Environment
    # The account's sandbox clock offset (time travel), read with the key in one query.
    clock_offset: timedelta = timedelta(0)
    # Whether the key's account and environment had any sandbox failure armed when the key was
    # read (same query). True when not known: a capture or refund then looks for one.
    failures_armed: bool = True
    # The key's public id (``key_…``): a dashboard session remembers it, so revoking ends it.
    key_id: str = ""


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key to store: only its hash, with its public id and the prefix people recognise it by."""

    key_id: str
    key_hash: str
    prefix: str
    account_id: str
    environment: Environment


@dataclass(frozen=True, slots=True)
class ApiKeySummary:
    """A key as ``payintents keys list`` shows it: never the key itself."""

    key_id: str
    prefix: str
    account_id: str
    environment: Environment
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AccountRepository(Protocol):
    def add(self, account_id: str, name: str, keys: Sequence[NewApiKey], now: datetime) -> None: ...
    def add_key(self, key: NewApiKey, now: datetime) -> None: ...
    def find_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash unless it is revoked."""

    def count(self) -> int: ...
    def exists(self, account_id: str) -> bool: ...
    def list_keys(self, account_id: str) -> list[ApiKeySummary]:
        """The account's keys, revoked ones too, oldest first."""

    def find_summary(self, key_id: str | None, key_hash: str | None) -> ApiKeySummary | None:
        """The key with this id, or with this hash."""

    def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Revoke the key; False if it was already revoked."""

    def record_key_use(self, used_at: Mapping[str, datetime], precision: timedelta) -> None:
        """Set each key hash's last use, unless the stored one is less than ``precision`` older."""


class ReceiptRepository(Protocol):
    """The sandbox's receipt outbox: receipts recorded instead of mailed."""

    def add(self, receipt: Receipt) -> None: ...
    def list(self, scope: Scope, intent_id: str | None, limit: int) -> list[Receipt]:
        """Newest first; only ``intent_id``'s when given."""


class ReceiptMailer(Protocol):
    """Sends a receipt by email (production keys; the sandbox records receipts instead)."""

    def send(self, receipt: Receipt) -> None:
        """Raises MailUnavailableError when the mail server refused or did not answer."""


class MailUnavailableError(Exception):
    """The mail server refused the receipt or did not answer; the request may be retried."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit`` rolls everything back."""

    @property
    def intents(self) -> IntentRepository: ...
    @property
    def refunds(self) -> RefundRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def operations(self) -> MoneyOperationRepository: ...
    @property
    def processor_ledger(self) -> ProcessorLedgerRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def deliveries(self) -> DeliveryRepository: ...
    @property
    def sandbox(self) -> SandboxRepository: ...
    @property
    def dashboard(self) -> DashboardRepository: ...
    @property
    def receipts(self) -> ReceiptRepository: ...
    @property
    def terminals(self) -> TerminalRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def payment_methods(self) -> PaymentMethodRepository: ...
    @property
    def setup_intents(self) -> SetupIntentRepository: ...
    @property
    def upstreams(self) -> UpstreamRepository: ...
    @property
    def upstream_webhooks(self) -> UpstreamWebhookRepository: ...
    @property
    def mirror_checks(self) -> MirrorCheckRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self, durable: bool = True) -> None:
        """Commit; ``durable=False`` asks for no flush to disk of its own (TransactionRunner.write)."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
# Authentication's one read, by key hash, outside any unit of work (it runs on every request).
KeyLookup = Callable[[str], ApiKeyRecord | None]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What one API request brings to its use case besides its arguments, passed explicitly:
    its sandbox account's clock offset (``POST /sandbox/clock/advance``) and whether a sandbox
    failure may be armed for its account (False saves the lookup). Background work uses the
    default: real time, and failures looked up."""

    clock_offset: timedelta = timedelta(0)
    failures_armed: bool = True

    def now(self, clock: Clock) -> datetime:
        """The request's time: the real time plus its account's offset."""
        return clock.now() + self.clock_offset


class TransactionRunner(Protocol):
    """Where an async use case runs its units of work; one implementation per strategy, chosen in
    ``bootstrap``. A unit is a plain function of a unit of work: the runner opens the transaction,
    runs it, and commits when it returns (it must not commit itself); an exception rolls back
    that unit alone and propagates. When ``write`` returns, the unit's commit is durable.

    With ``durable=False`` the commit is visible to every later transaction when ``write``
    returns but is not flushed to disk by itself: the database's log keeps its order, so it is on
    disk once any later durable commit is. Only a crash of the database (or the machine) can
    lose it, and then with everything written after it (ADR 0030). It suits a write whose loss
    is harmless as long as nothing that depends on it survives either."""

    async def write(self, work: Callable[[UnitOfWork], _T], *, durable: bool = True) -> _T: ...
    async def read(self, work: Callable[[UnitOfWork], _T]) -> _T:
        """``work`` in a unit of work that only reads (it must not write)."""

    async def look_up(self, work: Callable[[], _T]) -> _T:
        """Blocking work that only reads the store outside any unit of work (authentication's
        key lookup), run where this strategy runs its reads."""

    def close(self) -> None:
        """Finish what was queued and stop (the app's shutdown calls this)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The real time, timezone-aware UTC; a request's own time is ``RequestContext.now``."""


class IdGenerator(Protocol):
    def new_id(self, prefix: str, environment: Environment | None) -> str:
        """``<prefix>_[sandbox_]<22 base64url chars>``; no environment part when None."""

    def new_secret(self) -> str:
        """A url-safe secret of 64 random bytes (86 characters)."""

    def new_uuid(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """A card number a sandbox processor answers in a known way, offered on the checkout page."""

    number: str
    expiry: str
    cvv: str
    result: str  # what paying with it does, in the shopper's words


@dataclass(frozen=True, slots=True)
class CardResult:
    """What the processor said about a card payment attempt."""

    outcome: str  # "approved" | "declined" | "challenge"
    card: dict[str, str]
    # What the processor will charge this card by later, where it may be saved (ADR 0028).
    token: str | None = None


class ProcessorDeclinedError(Exception):
    """The processor refused the operation; no money moved."""


class ProcessorUnavailableError(Exception):
    """The processor failed or did not answer; no money moved, the request may be retried."""


class ProcessorTimeoutError(ProcessorUnavailableError):
    """The processor did not answer in time; no money moved, the request may be retried."""


class ProcessorOutcomeUnknownError(Exception):
    """The processor may or may not have done it (its answer was lost): the operation stays
    pending until reconciliation learns what it did (502; retry with the same key)."""


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One API request of a sandbox account, as the developer's integration sent it."""

    trace_id: str
    at: datetime
    method: str
    path: str
    status: int
    duration_ms: int
    idempotency_key: str | None
    replayed: bool
    payment_intent_id: str | None
    request_body: str
    response_body: str


@dataclass(frozen=True, slots=True)
class RequestQuery:
    path_prefix: str | None = None
    status: int | None = None
    payment_intent_id: str | None = None
    limit: int = 50


class SandboxRepository(Protocol):
    """The sandbox's own state: clock offsets, injected failures, the request log."""

    def clock_offset(self, account_id: str) -> timedelta: ...
    def set_clock_offset(self, account_id: str, offset: timedelta) -> None: ...
    def put_failure(self, scope: Scope, intent_id: str, failure: InjectedFailure) -> None: ...
    def find_failure(
        self, scope: Scope, intent_id: str, operation: FailOperation
    ) -> InjectedFailure | None: ...
    def delete_failure(self, scope: Scope, intent_id: str, operation: FailOperation) -> None: ...
    def add_requests(self, entries: Sequence[tuple[Scope, RequestLogEntry]]) -> None:
        """Append log entries, each to its scope's log, in the order given."""

    def list_requests(self, scope: Scope, query: RequestQuery) -> list[RequestLogEntry]: ...
    def reap_requests(self, older_than: datetime) -> int: ...
    def shift_deliveries(self, scope: Scope, step: timedelta) -> int:
        """Move the scope's pending webhook retries earlier by ``step`` (time travel)."""

    def delete_everything(self, scope: Scope) -> int:
        """Delete every object of the scope; the number of rows removed."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one HTTP delivery attempt."""

    status_code: int | None
    duration_ms: int
    error: str | None = None
    retry_after_s: float | None = None


class WebhookSender(Protocol):
    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        """POST once; never raises for network trouble or refused addresses, reports them instead."""


class Processor(Protocol):
    """Where payments leave the building: the sandbox processor or a real acquirer connector."""

    @property
    def sandbox_cards(self) -> Sequence[SandboxCard]:
        """The cards a shopper may try on the checkout page (none for a real acquirer)."""

    async def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        """The card's answer; may pause (the sandbox's timeout card), holding no thread."""

    async def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult: ...
    async def authorize_saved_card(self, intent: PaymentIntent, method: PaymentMethod) -> CardResult:
        """The answer to a shopper paying with a card saved earlier, by its token (ADR 0028):
        approved or declined, never a 3-D Secure challenge (the card was checked when saved)."""

    async def verify_card(self, card_number: str, expiry: str, cvv: str) -> CardResult:
        """Check a card to save it, charging nothing (a setup intent): its answer and token."""

    async def complete_verification(self, card: dict[str, str], passed: bool) -> CardResult:
        """The 3-D Secure answer for a card ``verify_card`` challenged (``card`` as it answered)."""

    async def perform(self, operation: MoneyOperation) -> str | None:
        """Carry out a refund, capture, reversal or merchant-initiated charge (its saved card's
        token in ``operation.details``) under ``operation.processor_key``: a repeated
        call with the same key applies nothing twice. Raise ProcessorDeclinedError or
        ProcessorUnavailableError when it did not succeed. ``operation.injected`` is a failure a
        sandbox test asked for; a real acquirer connector ignores it. Returns the id the processor
        gave what it created when that id is its own (Dojo's ``refundId``), else None."""

    async def lookup(self, operation: MoneyOperation) -> ProcessorAnswer | None:
        """What became of ``operation`` (sent with its processor key); None if the processor
        cannot tell now (it never received it, or could not be asked)."""

    @property
    def ledger_in_our_store(self) -> bool:
        """True when the processor writes what it did into our own database, after the operation's
        reservation: the reservation then needs no flush of its own, because anything the
        processor did is on disk only after it (ADR 0030). False for a processor elsewhere: a
        reservation must be on disk before it is asked to move money."""
