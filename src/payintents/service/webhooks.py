"""Webhook subscription use cases: subscribe, change, unsubscribe, rotate secrets, inspect, retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from payintents.domain import webhooks
from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Scope
from payintents.domain.webhook_urls import check_receiver_url
from payintents.domain.webhooks import Secret, Subscription
from payintents.service.dependencies import Dependencies
from payintents.service.ports import DeliveryView, UnitOfWork

NOT_FOUND_DETAIL = "The webhook subscription does not exist."
SECRET_NOT_FOUND_DETAIL = "The webhook secret does not exist."  # noqa: S105 (a message)
EVENT_NOT_FOUND_DETAIL = "No delivery of this event exists for this account."
HISTORY_LIMIT = 100
T = TypeVar("T")


def subscribe(
    deps: Dependencies,
    scope: Scope,
    events: list[str],
    url: str,
    description: str | None,
    *,
    listener: bool = False,
) -> Subscription:
    """A new subscription with one active secret; ``listener`` makes a listener's (extension)."""
    events = webhooks.check_events(events)
    check_receiver_url(url, scope.environment, deps.sandbox_webhook_hosts)
    with deps.uow() as uow:
        now = deps.clock.now()
        others = uow.webhooks.list(scope)
        if listener:
            webhooks.check_new_listener(scope, others)
        else:
            webhooks.check_one_subscription_per_event(events, others)
        subscription = Subscription(
            id=deps.ids.new_id("ws", scope.environment),
            scope=scope,
            events=events,
            url=url,
            description=description,
            created_at=now,
            updated_at=now,
            secrets=[_new_secret(deps, now, active=True)],
            listener_expires_at=_listener_expiry(deps) if listener else None,
        )
        uow.webhooks.add(subscription)
        uow.commit()
    return subscription


def list_subscriptions(deps: Dependencies, scope: Scope) -> list[Subscription]:
    with deps.read() as uow:
        return uow.webhooks.list(scope)


def get_subscription(deps: Dependencies, scope: Scope, subscription_id: str) -> Subscription:
    with deps.uow() as uow:
        return _existing(uow, scope, subscription_id)


def update_subscription(
    deps: Dependencies,
    scope: Scope,
    subscription_id: str,
    events: list[str] | None,
    url: str | None,
    description: str | None,
) -> Subscription:
    """Change what was given. Any successful change also re-enables a subscription a 410 disabled,
    and renews a listener (extension)."""
    if events is not None:
        events = webhooks.check_events(events)
    if url is not None:
        check_receiver_url(url, scope.environment, deps.sandbox_webhook_hosts)

    def change(uow: UnitOfWork, subscription: Subscription, now: datetime) -> Subscription:
        if events is not None:
            if not subscription.is_listener:
                webhooks.check_one_subscription_per_event(events, uow.webhooks.list(scope), subscription.id)
            subscription.events = events
        subscription.url = url if url is not None else subscription.url
        subscription.description = description if description is not None else subscription.description
        subscription.disabled_at = None
        if subscription.is_listener:
            subscription.listener_expires_at = _listener_expiry(deps)
        return subscription

    return _change(deps, scope, subscription_id, change)


def delete_subscription(deps: Dependencies, scope: Scope, subscription_id: str) -> None:
    with deps.uow() as uow:
        if not uow.webhooks.delete(scope, subscription_id):
            raise NotFoundError(NOT_FOUND_DETAIL)
        uow.commit()


def generate_secret(deps: Dependencies, scope: Scope, subscription_id: str) -> Subscription:
    """A new, inactive secret: activate it when the receiver knows it (rotation without gaps)."""

    def change(uow: UnitOfWork, subscription: Subscription, now: datetime) -> Subscription:
        webhooks.add_secret(subscription, _new_secret(deps, now, active=False))
        return subscription

    return _change(deps, scope, subscription_id, change)


def activate_secret(deps: Dependencies, scope: Scope, subscription_id: str, secret_id: str) -> None:
    def change(uow: UnitOfWork, subscription: Subscription, now: datetime) -> None:
        if not webhooks.activate_secret(subscription, secret_id):
            raise NotFoundError(SECRET_NOT_FOUND_DETAIL)

    _change(deps, scope, subscription_id, change)


def delete_secret(deps: Dependencies, scope: Scope, subscription_id: str, secret_id: str) -> None:
    def change(uow: UnitOfWork, subscription: Subscription, now: datetime) -> None:
        if not webhooks.delete_secret(subscription, secret_id):
            raise NotFoundError(SECRET_NOT_FOUND_DETAIL)

    _change(deps, scope, subscription_id, change)


def list_deliveries(deps: Dependencies, scope: Scope, subscription_id: str) -> list[DeliveryView]:
    with deps.read() as uow:
        _existing(uow, scope, subscription_id)
        return uow.deliveries.list_for_subscription(scope, subscription_id, HISTORY_LIMIT)


def retry_event(deps: Dependencies, scope: Scope, event_id: str) -> int:
    """Send an event again now to every enabled subscription that had it."""
    with deps.uow() as uow:
        # Due now in real time, the dispatchers' time, whatever a sandbox account's clock says.
        rescheduled = uow.deliveries.retry_event(scope, event_id, deps.clock.now())
        if rescheduled == 0:
            raise NotFoundError(EVENT_NOT_FOUND_DETAIL)
        uow.commit()
    return rescheduled


def remove_expired_listeners(deps: Dependencies) -> int:
    """Housekeeping: delete the listeners nobody renewed in time (a ``webhooks listen`` killed
    before it could delete its own); their pending deliveries stop."""
    with deps.uow() as uow:
        removed = uow.webhooks.delete_expired_listeners(deps.clock.now())
        uow.commit()
    return removed


def _listener_expiry(deps: Dependencies) -> datetime:
    # Real time, not a sandbox account's moved clock: housekeeping, which removes it, runs on it.
    return deps.clock.now() + webhooks.LISTENER_TTL


def _change(
    deps: Dependencies,
    scope: Scope,
    subscription_id: str,
    change: Callable[[UnitOfWork, Subscription, datetime], T],
) -> T:
    with deps.uow() as uow:
        subscription = _existing(uow, scope, subscription_id)
        now = deps.clock.now()
        result = change(uow, subscription, now)
        subscription.updated_at = now
        uow.webhooks.save(subscription)
        uow.commit()
    return result


def _existing(uow: UnitOfWork, scope: Scope, subscription_id: str) -> Subscription:
    subscription = uow.webhooks.get(scope, subscription_id)
    if subscription is None:
        raise NotFoundError(NOT_FOUND_DETAIL)
    return subscription


def _new_secret(deps: Dependencies, now: datetime, *, active: bool) -> Secret:
    return Secret(deps.ids.new_id("sc", None), deps.ids.new_secret(), now, active)
