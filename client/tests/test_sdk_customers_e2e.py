"""The SDK's customers, setup intents and merchant-initiated charges against a real
``payintents serve``: create a customer and a setup intent, save the card on the setup intent's
card form (its JSON twin, as the shopper's browser would post it), charge a payment intent with
it, refund, read the saved card with a customer secret, and delete it."""

from __future__ import annotations

import httpx
import pytest

from payintents_client import Client, Money, NotFoundError
from sdk_support import ServerUnderTest

pytestmark = pytest.mark.e2e
CARD = {"cardNumber": "5200000000001005", "expiryDate": "12/29", "cvv": "020"}


def test_save_a_card_charge_it_and_refund(client: Client, server: ServerUnderTest) -> None:
    customer = client.customers.create(name="Alex", email_address="alex@example.com")
    assert customer.id.startswith("cust_sandbox_") and customer.document_version == 0
    assert client.customers.update(customer.id, phone_number="078976534161").document_version == 1
    assert [c.id for c in client.customers.get(customer.id)] == [customer.id]
    setup = client.setup_intents.create(
        "Table 4",
        "A no-show costs the fee.",
        "NoShow",
        customer_id=customer.id,
        intended_amount=Money(2500, "GBP"),
    )
    assert setup.status == "Created" and setup.setup_events == ()
    saved = httpx.post(f"{server.base_url}/setup/{setup.id}/save", json=CARD, timeout=10)
    assert saved.json()["status"] == "Authorized", saved.text
    assert client.setup_intents.get_public(setup.id).status == "Authorized"

    intent = client.payment_intents.create(Money(2500, "GBP"), "No-show fee", setup_intent_id=setup.id)
    charged = client.payment_intents.charge(intent.id)
    assert (charged.status, charged.message) == ("Successful", "DEPOSITED")
    assert client.setup_intents.get(setup.id).status == "Completed"
    client.refunds.create(intent.id, 2500, "Waived")
    assert client.payment_intents.get(intent.id).status == "Refunded"

    secret = client.customers.create_secret(customer.id).secret
    methods = client.customers.payment_methods(customer.id, secret).saved_payment_methods
    assert [m.card_details["pan"] for m in methods] == ["520000******1005"]
    client.customers.delete_payment_method(customer.id, methods[0].id, secret)
    assert client.customers.payment_methods(customer.id, secret).saved_payment_methods == ()
    client.customers.delete(customer.id)
    with pytest.raises(NotFoundError):
        client.customers.get(customer.id)
