"""Ports and read models of the merchant dashboard: payment lists, users, sessions, refund actors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from payintents.domain.intent import CaptureMode, Environment, Scope, Status


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """What the dashboard's payment list is narrowed to; None or empty means "any"."""

    # A payment intent id (exact) or part of a reference (case-insensitive).
    text: str | None = None
    statuses: frozenset[Status] = frozenset()
    created_from: datetime | None = None
    # Exclusive upper bound.
    created_before: datetime | None = None
    # Bounds on the total amount, in minor units.
    amount_min: int | None = None
    amount_max: int | None = None


@dataclass(frozen=True, slots=True)
class PaymentSummary:
    """One row of the payment list: just the columns the list shows."""

    id: str
    status: Status
    capture_mode: CaptureMode
    currency: str
    total_amount: int
    refundable_amount: int
    refunded_amount: int
    reference: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentSummaryPage:
    rows: list[PaymentSummary]
    has_more: bool


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """Totals of the filtered payments in one currency, in minor units."""

    currency: str
    payments: int
    amount: int
    captured: int
    refunded: int


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """One webhook delivery (event × subscription) and where it stands."""

    event_id: str
    event_name: str
    payment_intent_id: str
    subscription_id: str
    status: str
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DashboardUser:
    id: str
    account_id: str
    username: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """A signed-in browser, stored server-side; the cookie holds the token, the store its hash."""

    token_hash: str
    account_id: str
    environment: Environment
    csrf_token: str
    # The dashboard user, or None when signed in with an API key (bound to the key's environment).
    username: str | None
    created_at: datetime
    expires_at: datetime
    # The page before this one, to the minute (service/dashboard.py); past the idle timeout the
    # session is over.
    last_seen_at: datetime
    # The key a key sign-in used: revoking it ends the session.
    api_key_id: str | None = None


class DashboardRepository(Protocol):
    def list_payments(
        self,
        scope: Scope,
        payment_filter: PaymentFilter,
        limit: int,
        after: tuple[datetime, str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> PaymentSummaryPage:
        """Newest first; ``after`` pages towards older payments, ``before`` towards newer ones."""

    def payment_totals(self, scope: Scope, payment_filter: PaymentFilter) -> list[CurrencyTotals]: ...
    def deliveries(self, scope: Scope, intent_id: str | None, limit: int) -> list[DeliverySummary]:
        """The newest deliveries of the scope, or of one payment intent's events."""

    def add_refund_actor(self, scope: Scope, refund_id: str, actor: str, now: datetime) -> None:
        """Remember who asked for a refund of the scope; the first record wins."""

    def refund_actors(self, scope: Scope, intent_id: str) -> dict[str, str]: ...
    def add_user(self, user: DashboardUser) -> bool:
        """Store a new user; False (and nothing stored) if the username is taken."""

    def find_user(self, username: str) -> DashboardUser | None: ...
    def list_users(self, account_id: str | None) -> list[DashboardUser]:
        """Every user (of one account when given), by username."""

    def set_password_hash(self, username: str, password_hash: str) -> bool:
        """False if no such user."""

    def delete_user(self, username: str) -> bool:
        """False if no such user."""

    def has_payments(self, scope: Scope) -> bool: ...
    def add_session(self, session: DashboardSession) -> None: ...
    def find_session(self, token_hash: str, now: datetime) -> DashboardSession | None:
        """The session with this token hash, unless past its absolute expiry."""

    def touch_session(self, token_hash: str, now: datetime) -> None:
        """The session was seen ``now``."""

    def set_session_environment(self, token_hash: str, environment: Environment) -> None: ...
    def delete_session(self, token_hash: str) -> None: ...
    def end_user_sessions(self, username: str) -> int:
        """Delete every session of the user; how many there were."""

    def end_key_sessions(self, api_key_id: str) -> int:
        """Delete every session signed in with the key; how many there were."""

    def reap_sessions(self, now: datetime, idle_since: datetime) -> int:
        """Delete sessions past their expiry, or not seen since ``idle_since``."""
