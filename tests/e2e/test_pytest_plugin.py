"""The client's pytest plugin, used the way a merchant's suite would use it: ``payintents`` gives
a ready client on a throwaway server, reset before every test."""

from __future__ import annotations

import httpx
import pytest
from payintents_client import Client, Money, ValidationFailedError
from payintents_client.pytest_plugin import PayintentsServer

pytestmark = pytest.mark.e2e
SUCCESS_CARD = {"cardNumber": "5200000000001005", "expiryDate": "12/29", "cvv": "020"}


def _captured(client: Client, server: PayintentsServer, value: int) -> str:
    intent = client.payment_intents.create(Money(value, "GBP"), "Order 234")
    httpx.post(
        f"{server.base_url}/checkout/{intent.id}/pay", json=SUCCESS_CARD, timeout=10
    ).raise_for_status()
    return intent.id


def test_refund_on_a_throwaway_server(payintents: Client, payintents_server: PayintentsServer) -> None:
    intent_id = _captured(payintents, payintents_server, 1000)
    payintents.refunds.create(intent_id, 400, refund_reason="Demo refund")
    with pytest.raises(ValidationFailedError) as refused:
        payintents.refunds.create(intent_id, 601)
    assert "600" in (refused.value.detail or "")
    assert payintents.payment_intents.get(intent_id).refunded_amount == 400


def test_every_test_starts_from_an_empty_sandbox(
    payintents: Client, payintents_server: PayintentsServer
) -> None:
    assert list(payintents.payment_intents.search()) == []
    _captured(payintents, payintents_server, 500)
    assert len(list(payintents.payment_intents.search())) == 1
    payintents_server.reset()  # what the fixture does before each test
    assert list(payintents.payment_intents.search()) == []
