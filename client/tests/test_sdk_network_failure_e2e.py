"""A network failure injected between the SDK and a real ``payintents serve``: a proxy on 127.0.0.1
forwards the first refund request to the server but drops the connection before returning the answer
(the server refunded; the client never heard). The SDK retries with the same idempotency key and
exactly one refund exists afterwards — sync and async. A negative control (no retries) proves the
proxy really loses an answer after the server acted."""

from __future__ import annotations

import asyncio

import pytest

from payintents_client import AsyncClient, Client, TransportError
from sdk_support import FaultyProxy, ServerUnderTest, captured_intent, faulty_proxy

pytestmark = pytest.mark.e2e


def _is_refund_post(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/refunds")


def _assert_one_refund_sent_twice_with_one_key(proxy: FaultyProxy) -> None:
    refund_posts = [s for s in proxy.seen if _is_refund_post(s.method, s.path)]
    assert [s.dropped for s in refund_posts] == [True, False]
    assert refund_posts[0].idempotency_key is not None
    assert refund_posts[0].idempotency_key == refund_posts[1].idempotency_key


def _assert_exactly_one_refund(client: Client, intent_id: str, amount: int, refund_id: str) -> None:
    rows = client.refunds.list(intent_id)
    assert [(r.refund_id, r.amount) for r in rows] == [(refund_id, amount)]
    intent = client.payment_intents.get(intent_id)
    assert intent.refunded_amount == amount
    assert intent.status == ("Refunded" if amount == intent.total_amount.value else "Captured")


def test_sync_refund_retried_after_a_dropped_answer_refunds_exactly_once(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    with (
        faulty_proxy(server.base_url, _is_refund_post) as proxy,
        Client(server.api_key, base_url=proxy.url, backoff_s=0.01) as through_proxy,
    ):
        refund = through_proxy.refunds.create(intent_id, 400, "Demo refund", "Duplicate transaction")
    _assert_one_refund_sent_twice_with_one_key(proxy)
    _assert_exactly_one_refund(client, intent_id, 400, refund.refund_id)


def test_async_refund_retried_after_a_dropped_answer_refunds_exactly_once(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)

    async def refund_through(proxy_url: str) -> str:
        async with AsyncClient(server.api_key, base_url=proxy_url, backoff_s=0.01) as sdk:
            return (await sdk.refunds.create(intent_id, 1000, "Demo refund")).refund_id

    with faulty_proxy(server.base_url, _is_refund_post) as proxy:
        refund_id = asyncio.run(refund_through(proxy.url))
    _assert_one_refund_sent_twice_with_one_key(proxy)
    _assert_exactly_one_refund(client, intent_id, 1000, refund_id)


def test_negative_control_without_retries_the_answer_is_lost_but_the_server_refunded(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    with (
        faulty_proxy(server.base_url, _is_refund_post) as proxy,
        Client(server.api_key, base_url=proxy.url, max_retries=0) as no_retries,
        pytest.raises(TransportError),
    ):
        no_retries.refunds.create(intent_id, 400, idempotency_key="kept-by-the-caller")
    rows = client.refunds.list(intent_id)
    assert [r.amount for r in rows] == [400]  # it happened, though the caller was never told
    # Retrying by hand with the kept key returns that refund rather than making a second one.
    replayed = client.refunds.create(intent_id, 400, idempotency_key="kept-by-the-caller")
    _assert_exactly_one_refund(client, intent_id, 400, replayed.refund_id)
    assert rows[0].refund_id == replayed.refund_id
    assert [s.dropped for s in proxy.seen] == [True]


def test_dropping_twice_still_yields_one_refund_within_the_default_retries(
    client: Client, server: ServerUnderTest
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    with (
        faulty_proxy(server.base_url, _is_refund_post, drops=2) as proxy,
        Client(server.api_key, base_url=proxy.url, backoff_s=0.01) as through_proxy,
    ):
        refund = through_proxy.refunds.create(intent_id, 700)
    refund_posts = [s for s in proxy.seen if _is_refund_post(s.method, s.path)]
    assert [s.dropped for s in refund_posts] == [True, True, False]
    assert len({s.idempotency_key for s in refund_posts}) == 1
    _assert_exactly_one_refund(client, intent_id, 700, refund.refund_id)
