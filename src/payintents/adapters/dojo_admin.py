"""An upstream account's Dojo for the mirror's refresh paths (ADR 0033): the gateway's webhook
subscription there (made, found by its URL, deleted) and the refunds Dojo lists for an intent.

Dojo's errors become the processor port's, as on the money path (``translated``). Each account's
client is kept while its upstream row (URL, sealed key) stays the same.
"""

from __future__ import annotations

from payintents.adapters.dojo_api import DojoApi, DojoRefusedError
from payintents.adapters.dojo_processor import translated
from payintents.service.ports import TransactionRunner
from payintents.service.upstream_ports import SecretBox, StoredUpstream
from payintents.service.upstream_sync_ports import UpstreamSubscription
from payintents.service.upstreams import open_upstream

NOT_FOUND = 404


class DojoAdmin:
    """One account's Dojo, for subscriptions and refund counts."""

    def __init__(self, api: DojoApi) -> None:
        self._api = api

    async def subscribe(self, url: str, events: tuple[str, ...], description: str) -> UpstreamSubscription:
        return await translated(self._subscribe(url, events, description))

    async def _subscribe(self, url: str, events: tuple[str, ...], description: str) -> UpstreamSubscription:
        made = await self._api.subscribe(url, list(events), description)
        secrets = made.body.get("secrets") or []
        active = [s for s in secrets if isinstance(s, dict) and s.get("isActive") and s.get("value")]
        if not active:
            raise DojoRefusedError(f"Dojo made subscription {made.id} without an active secret")
        return UpstreamSubscription(made.id, str(active[0]["value"]))

    async def subscriptions_to(self, url: str) -> list[str]:
        return [s.id for s in await translated(self._api.subscriptions()) if s.url == url]

    async def unsubscribe(self, subscription_id: str) -> bool:
        return await translated(self._unsubscribe(subscription_id))

    async def _unsubscribe(self, subscription_id: str) -> bool:
        try:
            await self._api.unsubscribe(subscription_id)
        except DojoRefusedError as refused:
            if refused.status == NOT_FOUND:
                return False
            raise
        return True

    async def refund_count(self, intent_id: str) -> int | None:
        try:
            return len(await self._api.refunds_of(intent_id))
        except DojoRefusedError:
            return None


class DojoAdmins:
    """Each upstream account's ``DojoAdmin``, built from its stored upstream."""

    def __init__(
        self, runner: TransactionRunner, secret_box: SecretBox | None, *, read_timeout_s: float
    ) -> None:
        self._runner = runner
        self._secret_box = secret_box
        self._read_timeout_s = read_timeout_s
        self._built: dict[str, tuple[StoredUpstream, DojoAdmin]] = {}

    async def for_account(self, account_id: str) -> DojoAdmin | None:
        stored = await self._runner.read(lambda uow: uow.upstreams.get(account_id))
        if stored is None:
            return None
        kept = self._built.get(account_id)
        if kept is not None and kept[0] == stored:
            return kept[1]
        opened = open_upstream(self._secret_box, stored)
        admin = DojoAdmin(DojoApi(opened.base_url, opened.key, read_timeout_s=self._read_timeout_s))
        self._built[account_id] = (stored, admin)
        return admin
