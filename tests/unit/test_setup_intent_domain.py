"""The setup intent's state machine and the customer's details, without a store or a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payintents.domain import setup_intent as setup
from payintents.domain.customer import Customer, expiry_as_date, expiry_as_month
from payintents.domain.errors import RuleBrokenError, StateConflictError
from payintents.domain.intent import Environment, Scope
from payintents.domain.setup_intent import SetupIntentStatus

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SCOPE = Scope("acc_1", Environment.SANDBOX)
CARD = {"cardNumber": "520000******1005", "expiryDate": "12/29", "cardType": "MASTERCARD"}


def opened() -> setup.SetupIntent:
    document = {"reference": "Table 4", "merchantInitiatedTransactionType": "NoShow", "terms": "t"}
    return setup.open_setup_intent("si_1", SCOPE, document, None, "secret", NOW)


def test_a_saved_card_authorizes_then_a_charge_completes_it() -> None:
    intent = opened()
    assert (intent.status, intent.expire_at) == (SetupIntentStatus.CREATED, NOW + timedelta(days=30))
    setup.record_challenge(intent, CARD, "token", NOW)
    assert intent.pending_challenge and intent.pending_token == "token"
    setup.authorize(intent, "pm_1", {"transactionId": "t1", "card": CARD}, NOW)
    assert intent.status is SetupIntentStatus.AUTHORIZED and intent.client_session_secret is None
    assert setup.ensure_chargeable(intent) == "pm_1"
    setup.complete(intent, NOW)
    assert intent.status is SetupIntentStatus.COMPLETED and setup.ensure_chargeable(intent) == "pm_1"
    assert [e.event_type for e in intent.events] == ["AuthChallenged", "Authorized"]
    assert intent.events[-1].payment_method_id == "pm_1" and intent.pending_token is None


def test_what_cannot_happen() -> None:
    intent = opened()
    with pytest.raises(RuleBrokenError):
        setup.ensure_chargeable(intent)
    setup.cancel(intent, NOW)
    with pytest.raises(RuleBrokenError):
        setup.cancel(intent, NOW)
    with pytest.raises(StateConflictError):
        setup.record_decline(intent, CARD, NOW)
    with pytest.raises(StateConflictError):
        setup.refresh_secret(intent, "again", NOW)
    with pytest.raises(RuleBrokenError):
        setup.open_setup_intent("si_2", SCOPE, {}, NOW - timedelta(seconds=1), "s", NOW)


def test_an_unsaved_setup_intent_expires_on_read() -> None:
    intent = setup.open_setup_intent("si_1", SCOPE, {}, NOW + timedelta(hours=1), "s", NOW)
    assert setup.seen_at(intent, NOW + timedelta(hours=1)).status is SetupIntentStatus.EXPIRED
    assert intent.client_session_secret is None


def test_customer_updates_count_versions_and_null_removes() -> None:
    customer = Customer("cust_1", SCOPE, {"name": "Alex", "phoneNumber": "07000"}, NOW, NOW)
    customer.update({"phoneNumber": None, "vatNumber": "GB1"}, NOW + timedelta(minutes=1))
    assert customer.details == {"name": "Alex", "vatNumber": "GB1"} and customer.document_version == 1


@pytest.mark.parametrize(
    ("expiry", "last_day"), [("12/29", "2029-12-31"), ("02/28", "2028-02-29"), ("1/30", "2030-01-31")]
)
def test_a_card_expiry_is_the_last_day_of_its_month(expiry: str, last_day: str) -> None:
    assert expiry_as_date(expiry) == last_day
    # A saved card shows it again as the card does (zero-padded month).
    assert expiry_as_month(last_day) == expiry.zfill(5)
