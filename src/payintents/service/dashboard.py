"""Merchant dashboard use cases: signing in and out, the payment list with totals, a payment's full
story, the refund pre-check, and the developer view of webhook deliveries.

Refunds themselves go through ``service.refunds.create_refund``, exactly as the API's do; this
module only checks a refund before the confirmation step and records who asked for it.

Sessions live in the store: the browser's cookie holds 32 random bytes, the store their SHA-256,
with the account, the environment, the CSRF token, an absolute expiry and the last time the session
was seen. A session unused for ``deps.dashboard_idle_timeout`` is over; the last-seen time is
written at most once a ``SEEN_PRECISION``, so browsing costs a write a minute, not one a page, and
the idle timeout holds to the minute.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from payintents.domain import lifecycle
from payintents.domain.errors import NotAllowedError
from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.domain.receipts import Receipt
from payintents.domain.refund import Refund
from payintents.service.accounts import open_session
from payintents.service.dashboard_ports import (
    CurrencyTotals,
    DashboardSession,
    DashboardUser,
    DeliverySummary,
    PaymentFilter,
    PaymentSummaryPage,
)
from payintents.service.dependencies import Dependencies
from payintents.service.ports import RequestContext, UnitOfWork

SESSION_LIFETIME = timedelta(hours=8)
SEEN_PRECISION = timedelta(minutes=1)
PAGE_SIZE = 25
DELIVERY_LIMIT = 100
RECEIPT_LIMIT = 50
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
    # The sandbox's receipt outbox for this payment, newest first (production records none).
    receipts: list[Receipt]


def scope_of(session: DashboardSession) -> Scope:
    return Scope(session.account_id, session.environment)


def actor_of(session: DashboardSession) -> str:
    """How a refund made in this session is attributed."""
    return f"dashboard: {session.username or API_KEY_SIGN_IN}"


def sign_in_with_key(deps: Dependencies, raw_key: str) -> SignedIn | None:
    """A session in the key's own account and environment, or None for any key that opens nothing."""
    opened = open_session(deps, raw_key.strip())
    return None if opened is None else _open_session(deps, opened.scope, None, opened.key_id)


def sign_in_as(deps: Dependencies, user: DashboardUser) -> SignedIn:
    """A session for a user whose password was checked (``users.verify_user``). It starts where
    the account's payments are (see ``landing_environment``); users may switch between production
    and sandbox."""
    with deps.read() as uow:
        environment = landing_environment(uow, user.account_id)
    return _open_session(deps, Scope(user.account_id, environment), user.username, None)


def landing_environment(uow: UnitOfWork, account_id: str) -> Environment:
    """Production, unless production has no payments yet and the sandbox has some: someone trying
    the sandbox first lands on their test payments, not on an empty list."""
    production = Scope(account_id, Environment.PRODUCTION)
    if uow.dashboard.has_payments(production):
        return Environment.PRODUCTION
    sandbox = Scope(account_id, Environment.SANDBOX)
    return Environment.SANDBOX if uow.dashboard.has_payments(sandbox) else Environment.PRODUCTION


def _open_session(deps: Dependencies, scope: Scope, username: str | None, key_id: str | None) -> SignedIn:
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
        last_seen_at=now,
        api_key_id=key_id,
    )
    with deps.uow() as uow:
        uow.dashboard.reap_sessions(now, idle_since=now - deps.dashboard_idle_timeout)
        uow.dashboard.add_session(session)
        uow.commit()
    return SignedIn(token, session)


def find_session(deps: Dependencies, token: str | None) -> DashboardSession | None:
    """The live session the cookie names: not past its expiry, nor idle too long. Seeing it
    counts as activity (written once a minute at most)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = deps.clock.now()
    with deps.read() as uow:
        session = uow.dashboard.find_session(_hash(token), now)
    if session is None or now - session.last_seen_at >= deps.dashboard_idle_timeout:
        return None
    if now - session.last_seen_at >= SEEN_PRECISION:
        with deps.uow() as uow:
            uow.dashboard.touch_session(session.token_hash, now)
            uow.commit()
        session = replace(session, last_seen_at=now)
    return session


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
    """A payment with its refunds (and who asked for each), its webhook deliveries and receipts."""
    with deps.read() as uow:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id), return_canceled=True)
        actors = uow.dashboard.refund_actors(scope, intent_id)
        refunds = [
            RefundLine(r, actors.get(r.id, API_ACTOR)) for r in uow.refunds.list_for_intent(scope, intent_id)
        ]
        deliveries = uow.dashboard.deliveries(scope, intent_id, DELIVERY_LIMIT)
        return PaymentDetail(intent, refunds, deliveries, uow.receipts.list(scope, intent_id, RECEIPT_LIMIT))


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


def record_refund_actor(
    deps: Dependencies, ctx: RequestContext, session: DashboardSession, refund_id: str
) -> None:
    """Remember that this session asked for ``refund_id``; a replay keeps the first record.

    Runs after the refund's own transaction committed (the refund write path stays untouched), so a
    crash in between leaves a refund shown as made through the API.
    """
    with deps.uow() as uow:
        uow.dashboard.add_refund_actor(scope_of(session), refund_id, actor_of(session), ctx.now(deps.clock))
        uow.commit()


def recent_deliveries(deps: Dependencies, scope: Scope) -> list[DeliverySummary]:
    with deps.read() as uow:
        return uow.dashboard.deliveries(scope, None, DELIVERY_LIMIT)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
