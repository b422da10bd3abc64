"""Merchant dashboard use cases: signing in and out, the payment list with totals, a payment's full
story, the refund pre-check, and the developer view of webhook deliveries.

Refunds themselves go through ``service.refunds.create_refund``, exactly as the API's do; this
module only checks a refund before the confirmation step and records who asked for it.

Sessions live in the store: the browser's cookie holds 32 random bytes, the store their SHA-256,
with the account, the environment, the CSRF token and an absolute expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain import lifecycle
from payintents.domain.errors import NotAllowedError
from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.domain.refund import Refund
from payintents.service import users
from payintents.service.accounts import authenticate
from payintents.service.dashboard_ports import (
    CurrencyTotals,
    DashboardSession,
    DeliverySummary,
    PaymentFilter,
    PaymentSummaryPage,
)
from payintents.service.dependencies import Dependencies

SESSION_LIFETIME = timedelta(hours=8)
PAGE_SIZE = 25
DELIVERY_LIMIT = 100
MAX_TOKEN_LENGTH = 100
# Who asked for a refund: refunds made through the API have no dashboard log row.
API_ACTOR = "API"
API_KEY_SIGN_IN = "API key"
SWITCH_REFUSED = "An API key opens its own environment only; sign in as a dashboard user to switch."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: ``token`` goes into the cookie and is never stored."""

    token: str
    session: DashboardSession


@dataclass(frozen=True, slots=True)
class PaymentList:
    page: PaymentSummaryPage
    totals: list[CurrencyTotals]


@dataclass(frozen=True, slots=True)
class RefundLine:
    refund: Refund
    actor: str


@dataclass(frozen=True, slots=True)
class PaymentDetail:
    intent: PaymentIntent
    refunds: list[RefundLine]
    deliveries: list[DeliverySummary]


def scope_of(session: DashboardSession) -> Scope:
    return Scope(session.account_id, session.environment)


def actor_of(session: DashboardSession) -> str:
    """How a refund made in this session is attributed."""
    return f"dashboard: {session.username or API_KEY_SIGN_IN}"


def sign_in_with_key(deps: Dependencies, raw_key: str) -> SignedIn | None:
    """A session in the key's own account and environment, or None for any key that opens nothing."""
    scope = authenticate(deps, raw_key.strip())
    return None if scope is None else _open_session(deps, scope, None)


def sign_in_with_password(deps: Dependencies, username: str, password: str) -> SignedIn | None:
    """A user's session starts in production; users may switch to their account's sandbox."""
    user = users.verify_user(deps, username.strip(), password)
    if user is None:
        return None
    return _open_session(deps, Scope(user.account_id, Environment.PRODUCTION), user.username)


def _open_session(deps: Dependencies, scope: Scope, username: str | None) -> SignedIn:
    token = secrets.token_urlsafe(32)
    now = deps.clock.now()
    session = DashboardSession(
        token_hash=_hash(token),
        account_id=scope.account_id,
        environment=scope.environment,
        csrf_token=secrets.token_urlsafe(32),
        username=username,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    with deps.uow() as uow:
        uow.dashboard.reap_sessions(now)
        uow.dashboard.add_session(session)
        uow.commit()
    return SignedIn(token, session)


def find_session(deps: Dependencies, token: str | None) -> DashboardSession | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    with deps.read() as uow:
        return uow.dashboard.find_session(_hash(token), deps.clock.now())


def sign_out(deps: Dependencies, session: DashboardSession) -> None:
    with deps.uow() as uow:
        uow.dashboard.delete_session(session.token_hash)
        uow.commit()


def switch_environment(deps: Dependencies, session: DashboardSession, environment: Environment) -> None:
    if session.username is None:
        raise NotAllowedError(SWITCH_REFUSED)
    with deps.uow() as uow:
        uow.dashboard.set_session_environment(session.token_hash, environment)
        uow.commit()


def list_payments(
    deps: Dependencies,
    scope: Scope,
    payment_filter: PaymentFilter,
    after: tuple[datetime, str] | None = None,
    before: tuple[datetime, str] | None = None,
) -> PaymentList:
    """One page of payments, newest first, and the totals of every payment the filter keeps."""
    with deps.read() as uow:
        page = uow.dashboard.list_payments(scope, payment_filter, PAGE_SIZE, after=after, before=before)
        return PaymentList(page, uow.dashboard.payment_totals(scope, payment_filter))


def payment_detail(deps: Dependencies, scope: Scope, intent_id: str) -> PaymentDetail:
    """A payment with its refunds (and who asked for each) and its webhook deliveries."""
    with deps.read() as uow:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id), return_canceled=True)
        actors = uow.dashboard.refund_actors(scope, intent_id)
        refunds = [
            RefundLine(r, actors.get(r.id, API_ACTOR)) for r in uow.refunds.list_for_intent(scope, intent_id)
        ]
        return PaymentDetail(intent, refunds, uow.dashboard.deliveries(scope, intent_id, DELIVERY_LIMIT))


def refundable_intent(deps: Dependencies, scope: Scope, intent_id: str) -> PaymentIntent:
    """The intent a refund form is for (404 for another account's, as the API answers)."""
    with deps.uow() as uow:
        return lifecycle.ensure_visible(uow.intents.get(scope, intent_id))


def check_refund(deps: Dependencies, scope: Scope, intent_id: str, amount: int) -> PaymentIntent:
    """Refuse, with the API's own message, a refund the intent cannot take right now.

    Only a courtesy before the confirmation step: the refund itself re-checks inside its transaction.
    """
    intent = refundable_intent(deps, scope, intent_id)
    if intent.status is not Status.CAPTURED or amount > intent.remaining_refundable:
        raise lifecycle.refund_refusal(intent, amount)
    return intent


def record_refund_actor(deps: Dependencies, session: DashboardSession, refund_id: str) -> None:
    """Remember that this session asked for ``refund_id``; a replay keeps the first record.

    Runs after the refund's own transaction committed (the refund write path stays untouched), so a
    crash in between leaves a refund shown as made through the API.
    """
    with deps.uow() as uow:
        uow.dashboard.add_refund_actor(scope_of(session), refund_id, actor_of(session), deps.clock.now())
        uow.commit()


def recent_deliveries(deps: Dependencies, scope: Scope) -> list[DeliverySummary]:
    with deps.read() as uow:
        return uow.dashboard.deliveries(scope, None, DELIVERY_LIMIT)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
