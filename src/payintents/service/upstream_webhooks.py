"""Dojo's webhooks to the gateway (ADR 0033): the gateway subscribes itself at an upstream
account's Dojo to ``{PAYINTENTS_PUBLIC_URL}/upstream/dojo/webhooks/{account}``, keeps the
subscription's signing secret sealed like the Dojo key, and checks each delivery's
``dojo-signature`` against it.

A delivery is only a hint: it names an intent, which is then read at Dojo and followed
(``mirror_refresh.refresh_mirror``); nothing in its body is believed. Dojo's signature has no
timestamp, so a captured delivery could be sent again: it can only make the gateway read that
intent at Dojo once more.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment, Scope
from payintents.domain.webhook_signing import dojo_signature_matches
from payintents.service.dependencies import Dependencies
from payintents.service.mirror_refresh import POLL_WAIT_S, UPSTREAM_FAILURES, refresh_mirror
from payintents.service.upstream_ports import SecretBox, SecretKeyMissingError
from payintents.service.upstream_sync_ports import (
    UPSTREAM_EVENTS,
    StoredSubscription,
    UpstreamAdmin,
    webhook_secret_context,
)

log = logging.getLogger("payintents.gateway")

RECEIVER_PATH = "/upstream/dojo/webhooks/{account}"
DESCRIPTION = "payintents gateway: keeps its mirror of this account's payment intents current"


class UpstreamSignatureError(Exception):
    """A delivery to the receiver that is not signed by the account's subscription at Dojo."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    subscription_id: str
    url: str
    # Earlier subscriptions of the gateway at Dojo that were deleted first.
    replaced: int


def webhook_gaps(deps: Dependencies, public_url: str | None) -> list[str]:
    """Upstream accounts whose mirrors get no webhooks at this address, each with why: no
    subscription at Dojo, or one posting somewhere other than ``public_url`` (``serve`` warns)."""
    with deps.read() as uow:
        accounts = [upstream.account_id for upstream in uow.upstreams.list()]
        urls = {stored.account_id: stored.url for stored in uow.upstream_webhooks.list()}
    gaps = []
    for account_id in accounts:
        if account_id not in urls:
            gaps.append(f"{account_id} has no webhook subscription at Dojo")
        elif public_url is not None and urls[account_id] != receiver_url(public_url, account_id):
            gaps.append(
                f"{account_id}'s webhooks at Dojo go to {urls[account_id]}, not to PAYINTENTS_PUBLIC_URL"
            )
    return gaps


def receiver_url(public_url: str, account_id: str) -> str:
    return public_url.rstrip("/") + RECEIVER_PATH.format(account=account_id)


async def subscribe_upstream(deps: Dependencies, account_id: str, public_url: str) -> Subscribed:
    """(Re)subscribe the gateway at the account's Dojo: its earlier subscriptions (the stored one,
    and any other posting to the same URL) are deleted first, as Dojo allows one per event.
    Raises ValidationError (no upstream), SecretKeyMissingError, or the processor port's errors."""
    box = _box(deps)
    admin = await _admin(deps, account_id)
    url = receiver_url(public_url, account_id)
    stored = await deps.runner().read(lambda uow: uow.upstream_webhooks.get(account_id))
    earlier = set(await admin.subscriptions_to(url))
    if stored is not None:
        earlier.add(stored.subscription_id)
    replaced = [found for found in sorted(earlier) if await admin.unsubscribe(found)]
    await deps.runner().write(lambda uow: uow.upstream_webhooks.delete(account_id))
    made = await admin.subscribe(url, UPSTREAM_EVENTS, DESCRIPTION)
    sealed = box.seal(made.secret, webhook_secret_context(account_id))
    subscription = StoredSubscription(account_id, made.id, url, sealed, deps.clock.now())
    await deps.runner().write(lambda uow: uow.upstream_webhooks.put(subscription))
    return Subscribed(made.id, url, len(replaced))


async def unsubscribe_upstream(deps: Dependencies, account_id: str) -> bool:
    """Delete the gateway's subscription at the account's Dojo and forget it; False if there was
    none. Dojo failing to answer leaves it there (it then posts to a receiver that refuses)."""
    stored = await deps.runner().read(lambda uow: uow.upstream_webhooks.get(account_id))
    if stored is None:
        return False
    try:
        await (await _admin(deps, account_id)).unsubscribe(stored.subscription_id)
    except UPSTREAM_FAILURES as failed:
        log.warning("subscription %s left at Dojo: %s", stored.subscription_id, failed)
    await deps.runner().write(lambda uow: uow.upstream_webhooks.delete(account_id))
    return True


async def verified_intent_id(deps: Dependencies, account_id: str, body: bytes, signature: str | None) -> str:
    """The intent a delivery names, once its ``dojo-signature`` verifies with the account's
    subscription secret. UpstreamSignatureError for an unknown account, no subscription or a
    wrong signature (one answer for all three); ValidationError for a signed body without an id."""
    stored = await deps.runner().read(lambda uow: uow.upstream_webhooks.get(account_id))
    if stored is None or not signature or deps.secret_box is None:
        raise UpstreamSignatureError
    try:
        secret = deps.secret_box.open(stored.sealed_secret, webhook_secret_context(account_id))
    except SecretKeyMissingError:
        log.error("the webhook secret of %s cannot be opened with PAYINTENTS_SECRET_KEY", account_id)
        raise UpstreamSignatureError from None
    if not dojo_signature_matches(secret, body, signature):
        raise UpstreamSignatureError
    return _intent_id(body)


async def follow_delivery(deps: Dependencies, account_id: str, intent_id: str) -> None:
    """After the answer: read the intent at Dojo and follow it (a failure is logged; the polling
    fallback will see the intent later)."""
    scope = Scope(account_id, Environment.PRODUCTION)
    try:
        followed = await refresh_mirror(deps, scope, intent_id, POLL_WAIT_S)
    except UPSTREAM_FAILURES as failed:
        log.warning("webhook for %s: Dojo could not be read (%s); polling will retry", intent_id, failed)
        return
    if followed is None:
        log.info("webhook for %s: no mirror of it here (made at Dojo directly?)", intent_id)


def _intent_id(body: bytes) -> str:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    data = event.get("data") if isinstance(event, dict) else None
    intent_id = data.get("paymentIntentId") if isinstance(data, dict) else None
    if not isinstance(intent_id, str) or not 0 < len(intent_id) <= 64:
        raise ValidationError({"data.paymentIntentId": ["The event names no payment intent."]})
    return intent_id


async def _admin(deps: Dependencies, account_id: str) -> UpstreamAdmin:
    admin = None if deps.upstream_admins is None else await deps.upstream_admins.for_account(account_id)
    if admin is None:
        raise ValidationError({"account": [f"{account_id} has no upstream: set one with set-upstream."]})
    return admin


def _box(deps: Dependencies) -> SecretBox:
    if deps.secret_box is None or deps.secret_box.key_id is None:
        raise SecretKeyMissingError("subscribing at Dojo needs PAYINTENTS_SECRET_KEY to seal the secret")
    return deps.secret_box
