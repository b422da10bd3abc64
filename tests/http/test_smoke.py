"""A first walk through the API: create, pay, refund, replay."""

from __future__ import annotations

from tests.support import Api


def test_refund_walkthrough(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    first = api.refund(intent_id, 400, key="656565gfyd65", refundReason="Demo refund")
    again = api.refund(intent_id, 400, key="656565gfyd65", refundReason="Demo refund")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.intent(intent_id)["refundedAmount"] == 400
