"""The gateway (ADR 0031, 0032) against a real Dojo-compatible upstream: a second payintents on
loopback (tests/gateway_support.py).

- the Dojo client speaks the upstream's API: an intent created, paid at the upstream's checkout,
  refunded under one idempotency key twice (one refund at the upstream), read back; a refusal
  carries the upstream's detail; a wrong key is "nothing done", never "refused".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from payintents.adapters.dojo_api import DojoApi, DojoRefusedError, DojoUnavailableError
from tests.gateway_support import GatewayPair, gateway_pair

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("gateway_e2e")]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    with gateway_pair("sqlite", tmp_path_factory.mktemp("gateway")) as started:
        yield started


def test_the_dojo_client_refunds_once_per_key_at_the_upstream(pair: GatewayPair) -> None:
    api = DojoApi(pair.upstream.base_url, pair.at_upstream.key)

    async def story() -> tuple[str, str, str, int]:
        created = await api.create_intent(
            {"amount": {"value": 1500, "currencyCode": "GBP"}, "reference": "o-1"}
        )
        paid = pair.at_upstream.pay(created.id)
        assert paid.status_code == 200, paid.text
        first = await api.refund(created.id, {"amount": 500, "notes": "n"}, "key-1")
        again = await api.refund(created.id, {"amount": 500, "notes": "n"}, "key-1")
        read = await api.get_refund(first.refund_id)
        after = await api.get_intent(created.id)
        await api.aclose()
        return first.refund_id, again.refund_id, read.payment_intent_id, after.refunded_amount

    first_id, again_id, intent_of_refund, refunded = asyncio.run(story())
    assert first_id == again_id and first_id.startswith("rfnd_")
    assert refunded == 500
    listed = pair.at_upstream.get(f"/payment-intents/{intent_of_refund}/refunds").json()["data"]
    assert [refund["refundId"] for refund in listed] == [first_id]


def test_the_dojo_client_maps_refusals_and_a_wrong_key(pair: GatewayPair) -> None:
    intent_id = pair.at_upstream.captured_intent(1000)

    async def refused() -> DojoRefusedError:
        api = DojoApi(pair.upstream.base_url, pair.at_upstream.key)
        with pytest.raises(DojoRefusedError) as caught:
            await api.refund(intent_id, {"amount": 5000}, "too-much")
        await api.aclose()
        return caught.value

    error = asyncio.run(refused())
    assert error.status == 400 and str(error)

    async def wrong_key() -> DojoUnavailableError:
        api = DojoApi(pair.upstream.base_url, "sk_sandbox_not-a-real-key")
        with pytest.raises(DojoUnavailableError) as caught:
            await api.get_intent(intent_id)
        await api.aclose()
        return caught.value

    unavailable = asyncio.run(wrong_key())
    assert unavailable.status == 401 and "sk_sandbox_not" not in str(unavailable)


def test_the_gateway_serves_its_sandbox_key_with_the_built_in_processor(pair: GatewayPair) -> None:
    account_keys = pair.gateway.new_account()
    assert account_keys["sandboxKey"].startswith("sk_sandbox_")
    assert pair.gateway.log_problems() == []
