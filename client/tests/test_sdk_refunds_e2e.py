"""The SDK's refunds, sync and async, end to end against a real ``payintents serve`` on 127.0.0.1:
a full refund, partial refunds, an over-refund answered with a typed error that changes nothing,
idempotent replays, and the other typed errors a refund can meet."""

from __future__ import annotations

import asyncio
import re

import pytest

from payintents_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    Money,
    NotFoundError,
    ValidationFailedError,
)
from sdk_support import ServerUnderTest, captured_intent

pytestmark = pytest.mark.e2e
TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
REFUND_ID = re.compile(r"^rfnd_[A-Za-z0-9_-]{22}$")


def test_full_refund(client: Client, server: ServerUnderTest) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    refund = client.refunds.create(intent_id, 1000, "Demo refund", "Duplicate transaction")
    assert REFUND_ID.match(refund.refund_id)
    assert (refund.payment_intent_id, refund.refund_reason, refund.notes) == (
        intent_id,
        "Demo refund",
        "Duplicate transaction",
    )
    assert refund.message == "refund for Order 234"
    intent = client.payment_intents.get(intent_id)
    assert (intent.status, intent.refunded_amount) == ("Refunded", 1000)
    fetched = client.refunds.get(refund.refund_id)
    assert (fetched.refund_id, fetched.payment_intent_id, fetched.notes) == (
        refund.refund_id,
        intent_id,
        "Duplicate transaction",
    )
    assert [(r.refund_id, r.amount) for r in client.refunds.list(intent_id)] == [(refund.refund_id, 1000)]


def test_partial_refunds_add_up_to_the_captured_amount(client: Client, server: ServerUnderTest) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    first = client.refunds.create(intent_id, 400, refund_reason="Damaged item")
    after_first = client.payment_intents.get(intent_id)
    assert (after_first.status, after_first.refunded_amount) == ("Captured", 400)
    second = client.refunds.create(intent_id, 600)
    after_second = client.payment_intents.get(intent_id)
    assert (after_second.status, after_second.refunded_amount) == ("Refunded", 1000)
    rows = client.refunds.list(intent_id)
    assert [(r.refund_id, r.amount) for r in rows] == [(first.refund_id, 400), (second.refund_id, 600)]


def test_over_refund_is_a_typed_error_with_detail_and_trace_id_and_changes_nothing(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    client.refunds.create(intent_id, 600)
    with pytest.raises(ValidationFailedError) as raised:
        client.refunds.create(intent_id, 401)
    error = raised.value
    assert error.status == 400
    assert error.detail is not None and "exceeds" in error.detail
    assert error.trace_id is not None and TRACE_ID.match(error.trace_id)
    assert error.trace_id in str(error)
    assert client.payment_intents.get(intent_id).refunded_amount == 600
    assert [r.amount for r in client.refunds.list(intent_id)] == [600]


def test_the_same_key_replays_the_first_refund_instead_of_refunding_twice(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    first = client.refunds.create(intent_id, 300, "Demo refund", idempotency_key="656565gfyd65")
    again = client.refunds.create(intent_id, 300, "Demo refund", idempotency_key="656565gfyd65")
    assert again == first
    assert client.payment_intents.get(intent_id).refunded_amount == 300
    with pytest.raises(ConflictError):
        client.refunds.create(intent_id, 301, "Demo refund", idempotency_key="656565gfyd65")


def test_refund_rule_breaks_and_unknown_objects_are_typed_errors(
    client: Client, server: ServerUnderTest
) -> None:
    created = client.payment_intents.create(Money(1000, "GBP"), "Order 236")
    with pytest.raises(ValidationFailedError):  # not captured yet
        client.refunds.create(created.id, 100)
    with pytest.raises(NotFoundError):
        client.refunds.create("pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA", 100)
    with pytest.raises(NotFoundError):
        client.refunds.get("rfnd_AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(ValidationFailedError) as raised:
        client.refunds.create(created.id, 0)
    assert "amount" in raised.value.errors or raised.value.detail


def test_a_wrong_key_is_an_authentication_error(server: ServerUnderTest) -> None:
    with (
        Client("sk_sandbox_not_a_real_key", base_url=server.base_url) as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.refunds.list("pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA")


def test_async_full_partial_and_over_refund(client: Client, server: ServerUnderTest) -> None:
    full_id = captured_intent(client, server.base_url, 1000)
    partial_id = captured_intent(client, server.base_url, 1000)

    async def scenario() -> None:
        async with AsyncClient(server.api_key, base_url=server.base_url) as sdk:
            full = await sdk.refunds.create(full_id, 1000, "Demo refund", "Duplicate transaction")
            assert (await sdk.payment_intents.get(full_id)).status == "Refunded"
            assert (await sdk.refunds.get(full.refund_id)).notes == "Duplicate transaction"
            # Two partial refunds at once: both land, the total is exact.
            await asyncio.gather(sdk.refunds.create(partial_id, 250), sdk.refunds.create(partial_id, 350))
            intent = await sdk.payment_intents.get(partial_id)
            assert (intent.status, intent.refunded_amount) == ("Captured", 600)
            with pytest.raises(ValidationFailedError) as raised:
                await sdk.refunds.create(partial_id, 401)
            assert raised.value.trace_id and TRACE_ID.match(raised.value.trace_id)
            assert sorted(r.amount for r in await sdk.refunds.list(partial_id)) == [250, 350]

    asyncio.run(scenario())
