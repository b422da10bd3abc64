"""The SDK's payment-intent and webhook resources end to end against a real ``payintents serve``:
create (idempotent), get, cancel, search with automatic paging (sync and async), capture, reversal,
amount and tips changes, secret refresh, and the webhook subscription and secret lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from payintents_client import (
    AsyncClient,
    Client,
    ConflictError,
    MethodNotAllowedError,
    Money,
    NotFoundError,
    PaymentIntent,
)
from sdk_support import ServerUnderTest, pay

pytestmark = pytest.mark.e2e


def test_create_is_idempotent_with_a_key_and_get_returns_the_same_intent(client: Client) -> None:
    first = client.payment_intents.create(Money.of("10.00", "GBP"), "Order 234", idempotency_key="create-1")
    again = client.payment_intents.create(Money.of("10.00", "GBP"), "Order 234", idempotency_key="create-1")
    assert again.id == first.id
    fetched = client.payment_intents.get(first.id)
    assert (fetched.status, fetched.amount, fetched.refunded_amount) == ("Created", Money(1000, "GBP"), 0)
    assert fetched.payment_link and fetched.payment_link.endswith(first.id)


def test_cancel_hides_the_intent_unless_return_canceled(client: Client) -> None:
    intent = client.payment_intents.create(Money(500, "EUR"), "Order 240", description="to cancel")
    assert client.payment_intents.cancel(intent.id).status == "Canceled"
    with pytest.raises(NotFoundError):
        client.payment_intents.get(intent.id)
    assert client.payment_intents.get(intent.id, return_canceled=True).status == "Canceled"


def test_manual_capture_then_reversal_of_another_authorization(
    client: Client, server: ServerUnderTest
) -> None:
    captured = client.payment_intents.create(Money(2500, "GBP"), "Order 241", capture_mode="Manual")
    assert pay(server.base_url, captured.id)["status"] == "Authorized"
    capture = client.payment_intents.capture(captured.id, 2000)
    assert capture.capture_id.startswith("cp_")
    after = client.payment_intents.get(captured.id)
    assert after.status == "Captured" and [c.amount for c in after.captures] == [2000]
    reversed_ = client.payment_intents.create(Money(700, "GBP"), "Order 242", capture_mode="Manual")
    pay(server.base_url, reversed_.id)
    assert client.payment_intents.reverse(reversed_.id).reversal_id.startswith("rvs_")
    assert client.payment_intents.get(reversed_.id).status == "Reversed"
    with pytest.raises(ConflictError):
        client.payment_intents.capture(reversed_.id, 100)


def test_amount_and_tips_changes_need_the_intent_to_allow_them(client: Client) -> None:
    config = {"payment": {"customAmountAllowed": True, "tipsAllowed": True}}
    flexible = client.payment_intents.create(Money(1000, "GBP"), "Order 243", config=config)
    changed = client.payment_intents.change_amount(flexible.id, Money(5500, "GBP"))
    assert changed.amount == Money(5500, "GBP") and changed.requested_amount == Money(1000, "GBP")
    tipped = client.payment_intents.change_tips(flexible.id, Money(200, "GBP"))
    assert tipped.tips_amount == Money(200, "GBP")
    refreshed = client.payment_intents.refresh_client_session_secret(flexible.id)
    assert refreshed.client_session_secret
    fixed = client.payment_intents.create(Money(1000, "GBP"), "Order 244")
    with pytest.raises(MethodNotAllowedError):
        client.payment_intents.change_amount(fixed.id, Money(2000, "GBP"))


def _five_intents(client: Client) -> list[PaymentIntent]:
    return [client.payment_intents.create(Money(100 + n, "GBP"), f"Search {n}") for n in range(5)]


def test_search_pages_automatically_newest_first(client: Client) -> None:
    made = _five_intents(client)
    found = list(
        client.payment_intents.search(start_date=made[0].created_at, statuses=["Created"], page_size=2)
    )
    assert [i.id for i in found] == [i.id for i in reversed(made)]
    page = client.payment_intents.search_page(start_date=made[0].created_at, limit=2)
    assert len(page.data) == 2 and page.after


def test_async_search_pages_automatically(client: Client, server: ServerUnderTest) -> None:
    made = _five_intents(client)

    async def collect() -> list[str]:
        async with AsyncClient(server.api_key, base_url=server.base_url) as sdk:
            return [
                i.id async for i in sdk.payment_intents.search(start_date=made[0].created_at, page_size=2)
            ]

    assert asyncio.run(collect()) == [i.id for i in reversed(made)]


def test_webhook_subscription_and_secret_lifecycle(client: Client) -> None:
    for existing in client.webhooks.list():  # one subscription per event: start clean
        client.webhooks.delete(existing.id)
    groups = client.webhooks.events()
    assert "payment_intent.status_updated" in [e for g in groups for e in g.events]
    sub = client.webhooks.create(["payment_intent.status_updated"], "http://127.0.0.1:9/hooks", "sdk test")
    assert sub.active_secret is not None and sub.description == "sdk test"
    assert [s.id for s in client.webhooks.list()] == [sub.id]
    with pytest.raises(ConflictError):
        client.webhooks.create(["payment_intent.status_updated"], "http://127.0.0.1:9/other")
    updated = client.webhooks.update(sub.id, url="http://localhost:9/hooks")
    assert updated.url == "http://localhost:9/hooks"
    generated = client.webhooks.generate_secret(sub.id)
    new_secret = next(s for s in generated.secrets if not s.is_active)
    assert client.webhooks.activate_secret(sub.id, new_secret.id) is None
    secrets = client.webhooks.secrets(sub.id)
    assert secrets.active_secret is not None and secrets.active_secret.id == new_secret.id
    old = next(s for s in secrets.secrets if not s.is_active)
    client.webhooks.delete_secret(sub.id, old.id)
    assert [s.id for s in client.webhooks.secrets(sub.id).secrets] == [new_secret.id]
    assert client.webhooks.deliveries(sub.id) == ()
    client.webhooks.delete(sub.id)
    with pytest.raises(NotFoundError):
        client.webhooks.secrets(sub.id)
