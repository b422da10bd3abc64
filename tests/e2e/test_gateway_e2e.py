"""The gateway (ADR 0031, 0032) against a real Dojo-compatible upstream: a second payintents on
loopback (tests/gateway_support.py).

- the Dojo client speaks the upstream's API: an intent created, paid at the upstream's checkout,
  refunded under one idempotency key twice (one refund at the upstream), read back; a refusal
  carries the upstream's detail; a wrong key is "nothing done", never "refused";
- the production key's intents are created at the upstream and mirrored under its id (and its
  paymentLink); refunds, captures, reversals and cancels go to the upstream once, under its ids;
  a refund over the cap never reaches it; the sandbox key keeps the built-in sandbox;
- the gateway's store passes ``payintents audit`` and its log holds no upstream key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from payintents.adapters.dojo_api import DojoApi, DojoRefusedError, DojoUnavailableError
from payintents.bootstrap import Settings, audit_database
from tests.conftest import BACKENDS
from tests.gateway_support import GatewayPair, gateway_pair
from tests.support import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("gateway_e2e")]


@pytest.fixture(scope="module", params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    with gateway_pair(request.param, tmp_path_factory.mktemp(f"gateway-{request.param}")) as started:
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


def test_the_upstream_accounts_sandbox_key_keeps_the_built_in_sandbox(pair: GatewayPair) -> None:
    sandbox = Api(pair.at_gateway.client, pair.sandbox_key)
    intent_id = sandbox.captured_intent(500)  # paid at the gateway's own checkout
    assert pair.at_upstream.get(f"/payment-intents/{intent_id}").status_code == 404
    refunded = sandbox.refund(intent_id, 200)
    assert refunded.status_code == 200, refunded.text
    assert sandbox.intent(intent_id)["refundedAmount"] == 200


def upstream_refunds(pair: GatewayPair, intent_id: str) -> list[dict[str, object]]:
    listed = pair.at_upstream.get(f"/payment-intents/{intent_id}/refunds")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


def test_an_intent_is_created_at_the_upstream_and_mirrored_under_its_id(pair: GatewayPair) -> None:
    created = pair.at_gateway.create_intent(2500, description="mirrored")
    at_upstream = pair.at_upstream.intent(str(created["id"]))
    assert created["id"] == at_upstream["id"] and created["id"].startswith("pi_sandbox_")
    assert created["paymentLink"] == at_upstream["paymentLink"]
    assert created["paymentLink"].startswith(pair.upstream.base_url)
    mirrored = pair.at_gateway.intent(str(created["id"]))
    assert (mirrored["status"], mirrored["totalAmount"]["value"]) == ("Created", 2500)
    assert mirrored["paymentLink"] == at_upstream["paymentLink"]  # where its shopper pays


def test_a_refund_through_the_gateway_reaches_the_upstream_once_with_its_id(pair: GatewayPair) -> None:
    intent_id = pair.captured_intent(1000)
    first = pair.at_gateway.refund(intent_id, 300, key="refund-1", notes="through the gateway")
    again = pair.at_gateway.refund(intent_id, 300, key="refund-1", notes="through the gateway")
    assert first.status_code == 200, first.text
    assert again.content == first.content and again.headers.get("Idempotent-Replayed") == "true"
    at_upstream = upstream_refunds(pair, intent_id)
    assert [(r["refundId"], r["amount"]) for r in at_upstream] == [(first.json()["refundId"], 300)]
    assert pair.at_upstream.intent(intent_id)["refundedAmount"] == 300
    mirrored = pair.at_gateway.intent(intent_id)
    assert (mirrored["status"], mirrored["refundedAmount"]) == ("Captured", 300)
    listed = pair.at_gateway.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    assert [r["refundId"] for r in listed] == [first.json()["refundId"]]


def test_a_refund_over_the_cap_is_refused_before_the_upstream_is_called(pair: GatewayPair) -> None:
    intent_id = pair.captured_intent(1000)
    refused = pair.at_gateway.refund(intent_id, 1001)
    assert refused.status_code == 400, refused.text
    assert upstream_refunds(pair, intent_id) == []


def test_a_canceled_intent_is_canceled_at_the_upstream_first(pair: GatewayPair) -> None:
    intent_id = str(pair.at_gateway.create_intent(700)["id"])
    canceled = pair.at_gateway.client.delete(
        f"/payment-intents/{intent_id}", headers=pair.at_gateway.headers()
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "Canceled"
    assert pair.at_upstream.intent(intent_id)["status"] == "Canceled"


def test_amending_a_mirror_is_refused_and_changes_nothing(pair: GatewayPair) -> None:
    # Its amount, tips and session secret are Dojo's: a change made only here would diverge.
    intent_id = str(pair.at_gateway.create_intent(900)["id"])
    before = pair.at_gateway.intent(intent_id)
    amend = [
        ("amount", {"amount": {"value": 800, "currencyCode": "GBP"}}),
        ("tips-amount", {"tipsAmount": {"value": 100, "currencyCode": "GBP"}}),
        ("refresh-client-session-secret", None),
    ]
    for path, body in amend:
        refused = pair.at_gateway.post(f"/payment-intents/{intent_id}/{path}", body)
        assert refused.status_code == 405, (path, refused.text)
        assert "change its amount, tips or client session secret at Dojo" in refused.json()["detail"]
    after = pair.at_gateway.intent(intent_id)
    assert after["totalAmount"] == before["totalAmount"] == {"value": 900, "currencyCode": "GBP"}
    assert after.get("clientSessionSecret") == before.get("clientSessionSecret")
    assert pair.at_upstream.intent(intent_id)["totalAmount"]["value"] == 900


def test_the_gateway_store_keeps_the_money_invariants_and_logs_no_upstream_key(pair: GatewayPair) -> None:
    report = audit_database(Settings(database_url=pair.gateway.database_url))
    assert report.ok, report.as_dict()
    assert pair.gateway.log_problems() == []
    assert pair.at_upstream.key not in pair.gateway.log_path.read_text()


def test_a_capture_and_a_reversal_go_to_the_upstream_under_its_ids(pair: GatewayPair) -> None:
    captured_id = str(pair.at_gateway.create_intent(1200, captureMode="Manual")["id"])
    assert pair.at_upstream.pay(captured_id).json()["status"] == "Authorized"
    captured = pair.at_gateway.post(f"/payment-intents/{captured_id}/captures", {"amount": 1200})
    assert captured.status_code == 200, captured.text
    at_upstream = pair.at_upstream.intent(captured_id)
    assert at_upstream["status"] == "Captured"
    upstream_captures = [c["id"] for c in at_upstream["captures"]]
    assert upstream_captures == [captured.json()["captureId"]]
    assert [c["id"] for c in pair.at_gateway.intent(captured_id)["captures"]] == upstream_captures
    reversed_id = str(pair.at_gateway.create_intent(800, captureMode="Manual")["id"])
    pair.at_upstream.pay(reversed_id)
    reversal = pair.at_gateway.post(f"/payment-intents/{reversed_id}/reversal")
    assert reversal.status_code == 200, reversal.text
    assert pair.at_upstream.intent(reversed_id)["status"] == "Reversed"
    assert pair.at_gateway.intent(reversed_id)["status"] == "Reversed"
