"""Paying at the hosted checkout with a card saved for the intent's customer (ADR 0028), through
the HTTP API on SQLite and PostgreSQL: the page lists the customer's saved cards above the card
form, its form and the JSON twin (``{"paymentMethodId"}``) pay with one, the outcomes and outbox
events are a typed card's, and a card that is not the customer's is refused, changing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.http.test_checkout import assert_page, assert_problem, parsed, post_form
from tests.http.test_refunds import outbox_names
from tests.support import SUCCESS_CARD, Api

# Saved without trouble; the sandbox declines every later payment with it (docs/sandbox.md).
LATER_DECLINED_CARD = {"cardNumber": "4111110000000135", "expiryDate": "12/29", "cvv": "123"}
NOT_SAVED = "This card is not saved for the customer of this payment."


def pay(api: Api, intent_id: str, body: dict[str, Any]) -> Any:
    return api.client.post(f"/checkout/{intent_id}/pay", json=body)


def saved_card(api: Api, customer_id: str, card: dict[str, str] = SUCCESS_CARD) -> tuple[str, str]:
    """A card paid with "save" on an intent of the customer: (that intent's id, the card's id)."""
    first = api.create_intent(customer={"id": customer_id})
    paid = pay(api, first["id"], {**card, "saveCard": True})
    assert paid.status_code == 200, paid.text
    secret = api.post(f"/customers/{customer_id}/create-secret").json()["secret"]
    headers = {"Authorization": f"Basic {secret}", "Version": "2024-02-05"}
    methods = api.client.get(f"/customers/public/{customer_id}/payment-methods", headers=headers)
    return first["id"], str(methods.json()["savedPaymentMethods"][-1]["id"])


def new_customer(api: Api, name: str = "Alex") -> str:
    return str(api.post("/customers", {"name": name}).json()["id"])


def assert_unchanged(api: Api, intent_id: str, database_url: str) -> None:
    intent = api.intent(intent_id)
    assert (intent["status"], intent["paymentEvents"]) == ("Created", [])
    assert outbox_names(database_url, intent_id) == ["payment_intent.created"]


def test_the_page_lists_the_customers_saved_cards_above_the_card_form(api: Api) -> None:
    customer = new_customer(api)
    _, method = saved_card(api, customer)
    _, someone_elses = saved_card(api, new_customer(api, "Sam"))
    intent = api.create_intent(1200, customer={"id": customer})
    page = api.client.get(f"/checkout/{intent['id']}")
    text = assert_page(page, 200, "Your saved cards", "MASTERCARD", "520000******1005", ", expires 12/29")
    assert text.index('id="saved-card-form"') < text.index('id="card-form"')
    choice = parsed(page).inputs["paymentMethodId"]
    assert (choice["type"], choice["value"]) == ("radio", method)
    assert someone_elses not in page.text
    without_customer = api.client.get(f"/checkout/{api.create_intent()['id']}")
    assert "saved-card-form" not in assert_page(without_customer, 200, "Card number")


def test_paying_with_a_saved_card_is_like_paying_with_the_card_typed_in(api: Api, database_url: str) -> None:
    customer = new_customer(api)
    typed_id, method = saved_card(api, customer)
    intent = api.create_intent(customer={"id": customer})
    paid = pay(api, intent["id"], {"PaymentMethodId": method})  # names bind case-insensitively
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "Captured"
    typed, reused = api.intent(typed_id), api.intent(intent["id"])
    card_fields = ("eventType", "cardNumber", "expiryDate", "cardType")
    assert [{k: e.get(k) for k in card_fields} for e in reused["paymentEvents"]] == [
        {k: e.get(k) for k in card_fields} for e in typed["paymentEvents"]
    ]
    assert reused["paymentDetails"]["paymentMethodId"] == method
    assert reused["paymentDetails"]["card"]["cardNumber"] == "520000******1005"
    assert outbox_names(database_url, intent["id"]) == outbox_names(database_url, typed_id)
    assert api.refund(intent["id"], 1000).status_code == 200
    manual = api.create_intent(captureMode="Manual", customer={"id": customer})
    assert pay(api, manual["id"], {"paymentMethodId": method}).json()["status"] == "Authorized"


def test_a_saved_card_the_processor_declines_leaves_the_intent_created(api: Api) -> None:
    customer = new_customer(api)
    _, method = saved_card(api, customer, LATER_DECLINED_CARD)
    intent = api.create_intent(customer={"id": customer})
    declined = pay(api, intent["id"], {"paymentMethodId": method})
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "Created"
    assert declined.json()["lastPaymentEvent"]["eventType"] == "Declined"
    assert declined.json()["lastPaymentEvent"]["message"] == "DECLINED"
    assert pay(api, intent["id"], SUCCESS_CARD).json()["status"] == "Captured"


def test_a_card_that_is_not_the_customers_is_refused_and_changes_nothing(
    api: Api, other_api: Api, database_url: str
) -> None:
    customer = new_customer(api)
    _, mine = saved_card(api, customer)
    _, someone_elses = saved_card(api, new_customer(api, "Sam"))
    _, other_accounts = saved_card(other_api, new_customer(other_api))
    _, deleted = saved_card(api, customer)
    secret = api.post(f"/customers/{customer}/create-secret").json()["secret"]
    removed = api.client.delete(
        f"/customers/public/{customer}/payment-methods/{deleted}",
        headers={"Authorization": f"Basic {secret}", "Version": "2024-02-05"},
    )
    assert removed.status_code == 204
    intent = api.create_intent(customer={"id": customer})
    for method in (someone_elses, other_accounts, deleted, "pm_sandbox_" + "Z" * 22):
        refused = assert_problem(pay(api, intent["id"], {"paymentMethodId": method}), 400)
        assert refused["errors"] == {"paymentMethodId": [NOT_SAVED]}
    no_customer = api.create_intent()
    assert assert_problem(pay(api, no_customer["id"], {"paymentMethodId": mine}), 400)["errors"]
    for body in ({"paymentMethodId": ""}, {"paymentMethodId": "p" * 101}, {"paymentMethodId": 7}):
        assert "paymentMethodId" in assert_problem(pay(api, intent["id"], body), 400)["errors"]
    both = assert_problem(pay(api, intent["id"], {**SUCCESS_CARD, "paymentMethodId": mine}), 400)
    assert "cardNumber" in both["errors"]
    assert_problem(pay(api, "pi_sandbox_" + "Z" * 22, {"paymentMethodId": mine}), 404)
    assert_unchanged(api, intent["id"], database_url)
    assert_unchanged(api, no_customer["id"], database_url)


@pytest.fixture
def both_environments(database_url: str) -> Iterator[tuple[Api, Api]]:
    """One account's sandbox and production keys, on a server whose checkout takes production
    intents (so that a production customer can save a card)."""
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url, production_checkout=True), engine=engine)
    account = create_account(deps, "two environments")
    with TestClient(build_app(deps)) as client:
        yield Api(client, account.sandbox_key), Api(client, account.prod_key)
    engine.dispose()


def test_a_card_saved_in_the_other_environment_is_refused(both_environments: tuple[Api, Api]) -> None:
    sandbox, prod = both_environments
    sandbox_customer, prod_customer = new_customer(sandbox), new_customer(prod)
    _, sandbox_card = saved_card(sandbox, sandbox_customer)
    _, prod_card = saved_card(prod, prod_customer)
    sandbox_intent = sandbox.create_intent(customer={"id": sandbox_customer})
    prod_intent = prod.create_intent(customer={"id": prod_customer})
    for intent_id, method in ((sandbox_intent["id"], prod_card), (prod_intent["id"], sandbox_card)):
        assert assert_problem(pay(sandbox, intent_id, {"paymentMethodId": method}), 400)["errors"]
    assert sandbox.intent(sandbox_intent["id"])["status"] == "Created"
    assert prod.intent(prod_intent["id"])["status"] == "Created"
    assert pay(prod, prod_intent["id"], {"paymentMethodId": prod_card}).json()["status"] == "Captured"


def test_the_pages_saved_card_form_pays_or_says_what_is_wrong(api: Api) -> None:
    customer = new_customer(api)
    _, method = saved_card(api, customer)
    intent = api.create_intent(1200, customer={"id": customer})
    wrong = post_form(api, f"/checkout/{intent['id']}", {"paymentMethodId": "pm_sandbox_" + "Z" * 22})
    assert_page(wrong, 400, "Check the card details.", NOT_SAVED, "Your saved cards")
    assert api.intent(intent["id"])["status"] == "Created"
    paid = post_form(api, f"/checkout/{intent['id']}", {"paymentMethodId": method})
    assert paid.status_code == 303 and paid.headers["location"] == f"/checkout/{intent['id']}"
    assert api.intent(intent["id"])["status"] == "Captured"
