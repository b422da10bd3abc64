"""``client.sandbox`` against a real ``payintents serve``: paying with each kind of test card (the
answer is the intent as the key sees it), the 3-D Secure challenge, failures on demand, the
account clock, the request log and reset, on ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payintents_client import (
    AsyncClient,
    Client,
    Money,
    NotFoundError,
    SandboxCard,
    ServerError,
    ValidationFailedError,
)
from sdk_support import ServerUnderTest

pytestmark = pytest.mark.e2e


def new_intent(client: Client, value: int = 1000, **options: str) -> str:
    return client.payment_intents.create(Money(value, "GBP"), "Sandbox SDK", **options).id  # type: ignore[arg-type]


def test_pay_with_the_success_card_returns_the_intent_as_the_key_sees_it(client: Client) -> None:
    auto, manual = new_intent(client), new_intent(client, capture_mode="Manual")
    paid = client.sandbox.pay(auto)
    assert paid.status == "Captured" and paid.payment_events[-1].event_type == "Captured"
    assert [c.amount for c in paid.captures] == [1000]  # the key's view, not the payment page's
    assert paid == client.payment_intents.get(auto)
    assert client.sandbox.pay(manual, SandboxCard.SUCCESS, expiry="01/30", cvv="123").status == "Authorized"


@pytest.mark.parametrize(
    ("card", "reason"),
    [(SandboxCard.DECLINED, "DECLINED"), (SandboxCard.INSUFFICIENT_FUNDS, "INSUFFICIENT FUNDS")],
)
def test_a_declined_card_returns_the_intent_still_created_with_the_decline_last(
    client: Client, card: SandboxCard, reason: str
) -> None:
    intent_id = new_intent(client)
    declined = client.sandbox.pay(intent_id, card)
    assert declined.status == "Created"
    assert (declined.payment_events[-1].event_type, declined.payment_events[-1].message) == (
        "Declined",
        reason,
    )
    assert client.sandbox.pay(intent_id).status == "Captured"  # the shopper tries another card


def test_the_challenge_card_waits_for_complete_challenge(client: Client) -> None:
    passing, failing = new_intent(client), new_intent(client)
    challenged = client.sandbox.pay(passing, SandboxCard.CHALLENGE)
    assert challenged.status == "Created" and challenged.payment_events[-1].event_type == "AuthChallenged"
    assert client.sandbox.complete_challenge(passing).status == "Captured"
    client.sandbox.pay(failing, SandboxCard.CHALLENGE)
    failed = client.sandbox.complete_challenge(failing, passed=False)
    assert failed.status == "Created" and failed.payment_events[-1].event_type == "Declined"


def test_pay_raises_only_when_the_payment_could_not_be_tried(client: Client) -> None:
    intent_id = new_intent(client)
    with pytest.raises(ServerError) as processor_error:
        client.sandbox.pay(intent_id, SandboxCard.PROCESSOR_ERROR)
    assert processor_error.value.status == 502
    unchanged = client.payment_intents.get(intent_id)
    assert unchanged.status == "Created" and unchanged.payment_events == ()
    with pytest.raises(NotFoundError):
        client.sandbox.pay("pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA")


def test_fail_next_makes_the_next_refund_fail_once(client: Client) -> None:
    intent_id = client.sandbox.pay(new_intent(client)).id
    armed = client.sandbox.fail_next(intent_id, "refund", "declined")
    assert (armed.payment_intent_id, armed.operation, armed.outcome, armed.delay_ms) == (
        intent_id,
        "refund",
        "declined",
        0,
    )
    with pytest.raises(ValidationFailedError) as declined:
        client.refunds.create(intent_id, 300, idempotency_key="sandbox-sdk-1")
    assert "declined" in (declined.value.detail or "")
    client.refunds.create(intent_id, 300, idempotency_key="sandbox-sdk-1")  # the key was not spent
    assert client.payment_intents.get(intent_id).refunded_amount == 300


def test_requests_shows_what_the_integration_sent(client: Client) -> None:
    intent_id = client.sandbox.pay(new_intent(client)).id
    client.refunds.create(intent_id, 100, idempotency_key="sandbox-sdk-log")
    (entry,) = client.sandbox.requests(path=f"/payment-intents/{intent_id}/refunds", limit=5)
    assert (entry.method, entry.status, entry.idempotency_key) == ("POST", 200, "sandbox-sdk-log")
    assert entry.payment_intent_id == intent_id and '"amount":100' in entry.request_body.replace(" ", "")
    assert entry.replayed is False and entry.trace_id.startswith("00-")
    assert all(e.status == 200 for e in client.sandbox.requests(intent_id=intent_id, status=200))


def test_advance_clock_expires_due_intents_and_reset_starts_over(client: Client) -> None:
    intent_id = new_intent(client)
    before = client.sandbox.clock()
    advanced = client.sandbox.advance_clock(timedelta(days=31))
    assert advanced.intents_expired >= 1 and advanced.offset_seconds >= 31 * 86_400
    assert advanced.now - before.now >= timedelta(days=31)
    assert client.payment_intents.get(intent_id, return_canceled=True).status == "Canceled"
    assert client.sandbox.advance_clock(seconds=60).offset_seconds >= 31 * 86_400 + 60
    assert client.sandbox.reset().deleted >= 1
    assert client.sandbox.clock().offset_seconds == 0
    with pytest.raises(NotFoundError):
        client.payment_intents.get(intent_id, return_canceled=True)


def test_the_async_client_has_the_same_sandbox(server: ServerUnderTest) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with AsyncClient(server.api_key, base_url=server.base_url) as dojo:
            intent = await dojo.payment_intents.create(Money(700, "EUR"), "Async sandbox")
            challenged = await dojo.sandbox.pay(intent.id, SandboxCard.CHALLENGE)
            paid = await dojo.sandbox.complete_challenge(intent.id)
            newest, *_ = await dojo.sandbox.requests(intent_id=intent.id)
            return intent.id, challenged.payment_events[-1].event_type, paid.status, newest.path

    intent_id, challenged, paid, newest = asyncio.run(scenario())
    assert (challenged, paid) == ("AuthChallenged", "Captured")
    assert newest == f"/payment-intents/{intent_id}"  # the re-read; the checkout itself is never logged


def test_a_receipt_is_recorded_in_the_sandbox_outbox(client: Client) -> None:
    intent_id = client.sandbox.pay(new_intent(client, 1550)).id
    assert client.payment_intents.send_receipt(intent_id, ["ada@example.com"]) is None
    (receipt,) = client.sandbox.receipts(payment_intent_id=intent_id)
    assert receipt.recipients == ("ada@example.com",) and receipt.payment_intent_id == intent_id
    assert "15.50 GBP" in receipt.text and receipt.subject == "Your receipt for Sandbox SDK"
    with pytest.raises(ValidationFailedError) as refused:
        client.payment_intents.send_receipt(intent_id, ["not-an-address"])
    assert "emails[0]" in refused.value.errors
    with pytest.raises(TypeError):
        client.payment_intents.send_receipt(intent_id, "ada@example.com")
