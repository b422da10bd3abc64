"""Webhook subscriptions, their secrets, the event catalogue and the retry schedule.

Dojo's subscription model (docs/webhooks.md): one subscription per event name and environment,
each with secrets of which exactly one is active and signs deliveries.

Extension: a *listener* subscription (what ``webhooks listen`` makes, like ``stripe listen``)
receives its own copy of the account's events beside the account's subscriptions, so it is
exempt from the one-per-event rule; sandbox only, at most ``MAX_LISTENERS`` per account, and it
goes away ``LISTENER_TTL`` after it was made or last changed unless changed again (renewed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payintents.domain.errors import StateConflictError, ValidationError
from payintents.domain.events import EventName
from payintents.domain.intent import Environment, Scope

# What GET /webhooks/events lists: Dojo's two intent events, plus our refund extension.
CATALOGUE: tuple[tuple[str, tuple[EventName, ...]], ...] = (
    ("PaymentIntent", (EventName.PAYMENT_INTENT_CREATED, EventName.PAYMENT_INTENT_STATUS_UPDATED)),
    ("Refund", (EventName.REFUND_CREATED,)),
)
KNOWN_EVENTS = frozenset(name.value for _, names in CATALOGUE for name in names)
MAX_SECRETS = 5

# Gaps between the 8 attempts of one delivery (~2.9 days in all); each gets ±20 % jitter.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
    timedelta(hours=24),
    timedelta(hours=36),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
# A receiver's Retry-After is honoured up to this long.
MAX_RETRY_AFTER = timedelta(hours=36)
# A listener that stops renewing (a killed ``webhooks listen``) is removed this long after its
# last renewal; the CLI renews well within it.
LISTENER_TTL = timedelta(hours=1)
MAX_LISTENERS = 10


@dataclass(slots=True)
class Secret:
    id: str
    value: str
    created_at: datetime
    is_active: bool
    last_used_at: datetime | None = None


@dataclass(slots=True)
class Subscription:
    id: str
    scope: Scope
    events: list[str]
    url: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    secrets: list[Secret] = field(default_factory=list)
    disabled_at: datetime | None = None
    # Set on listeners only (extension), in real time: housekeeping runs on real time.
    listener_expires_at: datetime | None = None

    @property
    def is_listener(self) -> bool:
        return self.listener_expires_at is not None

    @property
    def active_secret(self) -> Secret:
        for secret in self.secrets:
            if secret.is_active:
                return secret
        raise StateConflictError("The subscription has no active secret.")

    def find_secret(self, secret_id: str) -> Secret | None:
        return next((s for s in self.secrets if s.id == secret_id), None)


def check_events(events: list[str]) -> list[str]:
    """Known, non-empty and without repeats; returns them in catalogue order, the order the store
    reads them back in, so a subscription's answer never depends on how the events were listed."""
    if not events:
        raise ValidationError({"events": ["The events field needs at least one event."]})
    unknown = [e for e in events if e not in KNOWN_EVENTS]
    if unknown:
        raise ValidationError(
            {"events": [f"Unknown event '{e}'; GET /webhooks/events lists the events." for e in unknown]}
        )
    if len(set(events)) != len(events):
        raise ValidationError({"events": ["Each event may be listed once."]})
    order = [name.value for _, names in CATALOGUE for name in names]
    return sorted(events, key=order.index)


def check_one_subscription_per_event(
    wanted: list[str], others: list[Subscription], own_id: str | None = None
) -> None:
    """Dojo allows one subscription per event (docs/webhooks.md): a second one is a 409. Listeners
    take no event away from anyone (extension), so only the others that are not count."""
    taken = {e for s in others if s.id != own_id and not s.is_listener for e in s.events}
    clashes = [e for e in wanted if e in taken]
    if clashes:
        raise StateConflictError(f"Another subscription already receives: {', '.join(clashes)}.")


def check_new_listener(scope: Scope, others: list[Subscription]) -> None:
    """A listener is a development tool: sandbox keys only, and a bounded number per account."""
    if scope.environment is not Environment.SANDBOX:
        raise ValidationError({"listener": ["Listener subscriptions are for sandbox keys only."]})
    if sum(1 for s in others if s.is_listener) >= MAX_LISTENERS:
        raise StateConflictError(
            f"An account has at most {MAX_LISTENERS} listeners; stop one, or wait for it to expire."
        )


def add_secret(subscription: Subscription, secret: Secret) -> None:
    if len(subscription.secrets) >= MAX_SECRETS:
        raise StateConflictError(
            f"A subscription has at most {MAX_SECRETS} secrets; delete an unused one first."
        )
    subscription.secrets.append(secret)


def activate_secret(subscription: Subscription, secret_id: str) -> bool:
    """Make one secret the signing one; False if no such secret."""
    if subscription.find_secret(secret_id) is None:
        return False
    for secret in subscription.secrets:
        secret.is_active = secret.id == secret_id
    return True


def delete_secret(subscription: Subscription, secret_id: str) -> bool:
    secret = subscription.find_secret(secret_id)
    if secret is None:
        return False
    if secret.is_active:
        raise StateConflictError("The active secret signs deliveries; activate another one first.")
    subscription.secrets.remove(secret)
    return True


def next_attempt_at(
    attempts_made: int,
    now: datetime,
    jitter_unit: float,
    retry_after: timedelta | None,
    scale: float = 1.0,
) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts, or None when out of attempts.

    ``jitter_unit`` in [0, 1) comes from the caller (the domain draws no randomness); ``scale``
    shrinks the whole schedule for tests and demos (1.0 in production).
    """
    if attempts_made >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempts_made - 1] * scale
    delay = delay * (1 - JITTER + 2 * JITTER * jitter_unit)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + delay
