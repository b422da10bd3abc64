"""Removing an account's upstream, or pointing it at another URL, while one of its operations at
Dojo is pending (ADR 0031), on SQLite and PostgreSQL: refused (only the Dojo that got the call can
settle it), and a removal refused before anything is undone, so the gateway's webhook
subscription at Dojo (ADR 0033) stays as it was. A new key for the same Dojo is taken."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

import pytest

from payintents.account_commands import accounts_remove_upstream
from payintents.adapters.secret_box import AesGcmSecretBox
from payintents.domain.errors import StateConflictError
from payintents.domain.intent import Environment, Scope
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.upstream_sync_ports import StoredSubscription, UpstreamSubscription
from payintents.service.upstreams import set_upstream
from tests.fakes import pending_operation
from tests.store.test_intent_store import NOW, make_intent

SECRET = "a-secret-key-of-thirty-two-characters-or-more"


class RecordingAdmin:
    """An account's Dojo that notes the subscriptions deleted."""

    def __init__(self) -> None:
        self.unsubscribed: list[str] = []

    async def subscribe(self, url: str, events: tuple[str, ...], description: str) -> UpstreamSubscription:
        raise AssertionError("not subscribed here")

    async def subscriptions_to(self, url: str) -> list[str]:
        return []

    async def unsubscribe(self, subscription_id: str) -> bool:
        self.unsubscribed.append(subscription_id)
        return True

    async def refund_count(self, intent_id: str) -> int | None:
        return None


class RecordingAdmins:
    def __init__(self) -> None:
        self.admin = RecordingAdmin()

    async def for_account(self, account_id: str) -> RecordingAdmin:
        return self.admin


def with_pending_refund(deps: Dependencies) -> tuple[Dependencies, str, RecordingAdmins]:
    box, admins = AesGcmSecretBox([SECRET]), RecordingAdmins()
    deps = dataclasses.replace(deps, secret_box=box, upstream_admins=admins)
    account_id = create_account(deps, "shop").account_id
    set_upstream(deps, account_id, "https://dojo.example", "sk_prod_dojo")
    scope = Scope(account_id, Environment.PRODUCTION)
    sealed = box.seal("whsec", f"{account_id}/webhook")
    with deps.uow() as uow:
        uow.intents.add(make_intent("pi_gw", scope=scope))
        uow.upstream_webhooks.put(StoredSubscription(account_id, "wh_1", "https://gw/x", sealed, NOW))
        uow.operations.add(
            pending_operation(
                scope, NOW, intent_id="pi_gw", amount=100, object_id="rfnd_1", body=b'{"refundId":"rfnd_1"}'
            )
        )
        uow.commit()
    return deps, account_id, admins


def test_a_refused_removal_keeps_the_webhook_subscription(deps: Dependencies) -> None:
    deps, account_id, admins = with_pending_refund(deps)
    with pytest.raises(StateConflictError, match="still pending"):
        accounts_remove_upstream(deps, argparse.Namespace(account=account_id))
    assert admins.admin.unsubscribed == []
    stored = asyncio.run(deps.runner().read(lambda uow: uow.upstream_webhooks.get(account_id)))
    assert stored is not None and stored.subscription_id == "wh_1"


def test_another_upstream_url_is_refused_while_an_operation_is_pending_a_new_key_is_not(
    deps: Dependencies,
) -> None:
    """A pending refund is settled by sending it again to the upstream: at another Dojo it is
    unknown (404, taken as "nothing done") and would be released while the first one refunded."""
    deps, account_id, _ = with_pending_refund(deps)
    with pytest.raises(StateConflictError, match="still pending"):
        set_upstream(deps, account_id, "https://other-dojo.example", "sk_prod_dojo")
    set_upstream(deps, account_id, "https://dojo.example/", "sk_prod_rotated")
    stored = asyncio.run(deps.runner().read(lambda uow: uow.upstreams.get(account_id)))
    assert stored is not None and stored.base_url == "https://dojo.example"
