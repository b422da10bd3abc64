"""Migration 0007 on SQLite and PostgreSQL: card masks stored by the old ``first 8 + **** + last 4``
rule are re-masked so that at least 6 digits of the shortest number they can come from are hidden,
in payment events and in ``paymentDetails.card``; new masks and other data are left alone."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.schema import payment_events, payment_intents
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.domain import lifecycle
from payintents.domain.intent import PaymentIntent
from tests.store.test_intent_store import NOW, SCOPE, make_intent


@pytest.fixture
def engine_at_0006(engine_at_0006: Engine) -> Engine:
    """The database at 0006 (before card masks were fixed), with one account."""
    with SqlUnitOfWork(engine_at_0006) as uow:
        uow.accounts.add(SCOPE.account_id, "merchant", [], NOW)
        uow.commit()
    return engine_at_0006


def paid_with(intent_id: str, old_mask: str, last4: str) -> PaymentIntent:
    """An intent declined once, then paid, both with a card masked by the old rule."""
    intent = make_intent(intent_id, paid=False)
    card = {"cardNumber": old_mask, "expiryDate": "12/29", "cardType": "VISA", "last4PAN": last4}
    lifecycle.record_decline(intent, {**card, "message": "DECLINED"}, NOW)
    lifecycle.authorize(intent, transaction_id="tx", capture_id=f"cp_{intent_id}", card=card, now=NOW)
    return intent


def stored_cards(engine: Engine, intent_id: str) -> list[dict[str, str]]:
    with engine.connect() as conn:
        events = select(payment_events.c.card).where(payment_events.c.payment_intent_id == intent_id)
        details = select(payment_intents.c.payment_details).where(payment_intents.c.id == intent_id)
        cards = [json.loads(card) for card in conn.execute(events).scalars() if card]
        return [*cards, json.loads(conn.execute(details).scalar_one())["card"]]


@pytest.mark.parametrize(
    ("old_mask", "last4", "new_mask", "new_last4"),
    [
        ("52000000****1005", "1005", "52**********1005", "1005"),  # 12 digits or more: 2 + 4
        ("41111112****2345", "2345", "4***********2345", "2345"),  # may be 11 digits: 1 + 4
        ("50180000****0009", "0009", "*************009", "009"),  # may be 9 digits (501800009)
        ("12345678****5678", "5678", "**************78", "78"),  # may be 8 digits: 2 in all
        ("1234567****4567", "4567", "**************7", "7"),  # 7 digits, all of it stored
    ],
)
def test_old_masks_are_remasked(
    engine_at_0006: Engine, old_mask: str, last4: str, new_mask: str, new_last4: str
) -> None:
    with SqlUnitOfWork(engine_at_0006) as uow:
        uow.intents.add(paid_with("pi_old", old_mask, last4))
        uow.intents.add(make_intent("pi_new"))  # a card masked by the new rule
        uow.commit()
    untouched = stored_cards(engine_at_0006, "pi_new")
    upgrade(engine_at_0006)
    cards = stored_cards(engine_at_0006, "pi_old")
    assert [(c["cardNumber"], c["last4PAN"]) for c in cards] == [(new_mask, new_last4)] * 3
    assert cards[0]["message"] == "DECLINED" and cards[1]["cardType"] == "VISA"
    assert stored_cards(engine_at_0006, "pi_new") == untouched
    with SqlUnitOfWork(engine_at_0006) as uow:
        intent = uow.intents.get(SCOPE, "pi_old")
    assert intent is not None and intent.payment_details is not None
    assert intent.payment_details["card"]["cardNumber"] == new_mask
    assert intent.payment_details["transactionDateTime"] == NOW


def test_every_page_of_a_large_table_is_remasked(engine_at_0006: Engine) -> None:
    count = 1001  # more than two pages of 500
    with SqlUnitOfWork(engine_at_0006) as uow:
        for n in range(count):
            uow.intents.add(paid_with(f"pi_{n:05d}", "52000000****1005", "1005"))
        uow.commit()
    upgrade(engine_at_0006)
    with engine_at_0006.connect() as conn:
        cards = (
            conn.execute(select(payment_events.c.card).where(payment_events.c.card.is_not(None)))
            .scalars()
            .all()
        )
        details = conn.execute(select(payment_intents.c.payment_details)).scalars().all()
    assert len(cards) == len(details) * 2 == count * 2
    assert all("52**********1005" in text and "52000000" not in text for text in [*cards, *details])
