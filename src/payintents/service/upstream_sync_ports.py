"""Ports of the mirror's refresh paths (ADR 0033): the gateway's webhook subscription at an
upstream account's Dojo and where it is stored, when each mirror was last compared with Dojo, and
what the gateway asks Dojo besides intents and money (subscriptions, a refund count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from payintents.service.upstream_ports import SealedSecret

# The event the gateway subscribes to at Dojo: every status change of an intent (Dojo's advice).
UPSTREAM_EVENTS = ("payment_intent.status_updated",)


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """The gateway's subscription at an account's Dojo; its signing secret sealed at rest."""

    account_id: str
    subscription_id: str
    url: str
    sealed_secret: SealedSecret
    created_at: datetime


def webhook_secret_context(account_id: str) -> str:
    """What a subscription's sealed secret is bound to: its account, and its purpose (so a sealed
    Dojo key can never be opened as a webhook secret, nor the other way round)."""
    return f"{account_id}/webhook"


class UpstreamWebhookRepository(Protocol):
    def get(self, account_id: str) -> StoredSubscription | None: ...
    def put(self, subscription: StoredSubscription) -> None:
        """Insert or replace the account's subscription."""

    def delete(self, account_id: str) -> bool: ...
    def list(self) -> list[StoredSubscription]: ...


@dataclass(frozen=True, slots=True)
class MirrorToCheck:
    """An open mirrored intent due for a look at Dojo (the polling fallback)."""

    account_id: str
    intent_id: str


class MirrorCheckRepository(Protocol):
    def checked_at(self, intent_id: str) -> datetime | None:
        """When the intent was last compared with Dojo; None if never since it was mirrored."""

    def mark(self, account_id: str, intent_id: str, now: datetime) -> None: ...
    def due(self, now: datetime, checked_before: datetime, limit: int) -> list[MirrorToCheck]:
        """Open (Created not past its expiry, or Authorized) production intents of upstream
        accounts not compared with Dojo since ``checked_before``, least recently compared first."""

    def to_compare(self, account_id: str, since: datetime, limit: int) -> list[str]:
        """Ids of the account's production intents still open (Created, Authorized), or created
        or updated since ``since``, newest first."""


@dataclass(frozen=True, slots=True)
class UpstreamSubscription:
    """A subscription Dojo made: its id, and its active signing secret's value."""

    id: str
    secret: str = field(repr=False)


class UpstreamAdmin(Protocol):
    """One account's Dojo, for what is neither an intent nor money: webhook subscriptions and a
    refund count. Raises the processor port's errors (refused, unavailable, outcome unknown)."""

    async def subscribe(
        self, url: str, events: tuple[str, ...], description: str
    ) -> UpstreamSubscription: ...
    async def subscriptions_to(self, url: str) -> list[str]:
        """Ids of the account's subscriptions at Dojo that post to ``url``."""

    async def unsubscribe(self, subscription_id: str) -> bool:
        """Delete the subscription; False if Dojo had no such subscription."""

    async def refund_count(self, intent_id: str) -> int | None:
        """How many refunds Dojo lists for the intent; None where Dojo lists none (Dojo's own API
        has no refund list: a payintents upstream has, as an extension)."""


class UpstreamAdmins(Protocol):
    async def for_account(self, account_id: str) -> UpstreamAdmin | None:
        """The account's Dojo, or None if the account has no upstream."""
