"""Customers, customer secrets, saved cards, setup intents and merchant-initiated charges through
the HTTP API (ASGI, on SQLite and PostgreSQL): Dojo's shapes, ids, statuses and errors (ADR 0028)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.testclient import TestClient

from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.engine import make_engine
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import CHALLENGE_CARD, SUCCESS_CARD, Api

CUSTOMER_ID = re.compile(r"^cust_sandbox_[A-Za-z0-9_-]{22}$")
SETUP_BODY = {
    "reference": "Table 4",
    "merchantInitiatedTransactionType": "NoShow",
    "terms": "A no-show costs the booking fee.",
    "intendedAmount": {"value": 1000, "currencyCode": "GBP"},
}
CHARGE_DECLINED_CARD = {"cardNumber": "4111110000000135", "expiryDate": "12/29", "cvv": "123"}


def delete(api: Api, path: str, **headers: str) -> httpx.Response:
    return api.client.delete(path, headers=api.headers(**headers))


def create_customer(api: Api, **fields: Any) -> dict[str, Any]:
    created = api.post("/customers", {"name": "Alex", "emailAddress": "alex@example.com", **fields})
    assert created.status_code == 200, created.text
    return dict(created.json())


def secret_headers(api: Api, customer_id: str) -> dict[str, str]:
    issued = api.post(f"/customers/{customer_id}/create-secret")
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Basic {issued.json()['secret']}", "Version": "2024-02-05"}


def saved_setup_intent(api: Api, card: dict[str, str] = SUCCESS_CARD, **fields: Any) -> dict[str, Any]:
    created = api.post("/setup-intents", {**SETUP_BODY, **fields})
    assert created.status_code == 200, created.text
    setup_id = created.json()["id"]
    saved = api.client.post(f"/setup/{setup_id}/save", json=card)
    assert saved.status_code == 200 and saved.json()["status"] == "Authorized", saved.text
    return dict(api.get(f"/setup-intents/{setup_id}").json())


def test_a_customer_is_created_read_updated_and_deleted(api: Api) -> None:
    customer = create_customer(api, phoneNumber="078976534161")
    assert CUSTOMER_ID.match(customer["id"])
    assert customer["documentVersion"] == 0 and customer["name"] == "Alex"
    path = f"/customers/{customer['id']}"
    assert api.get(path).json() == [customer]  # Dojo's GET answers an array
    second = create_customer(api, name="Sam")
    both = api.get(f"/customers/{customer['id']},{second['id']}").json()
    assert [c["name"] for c in both] == ["Alex", "Sam"]
    known_and_unknown = api.get(f"/customers/cust_sandbox_{'Z' * 22},{second['id']}").json()
    assert [c["name"] for c in known_and_unknown] == ["Sam"]
    assert api.get(f"/customers/{'c' * 101}").status_code == 400
    patched = api.client.patch(path, json={"phoneNumber": None, "vatNumber": "GB1"}, headers=api.headers())
    assert patched.status_code == 200, patched.text
    assert patched.json()["documentVersion"] == 1 and patched.json()["vatNumber"] == "GB1"
    assert "phoneNumber" not in patched.json()
    assert delete(api, path).status_code == 204
    gone = api.get(path)
    assert gone.status_code == 404 and gone.json()["detail"] == "The customer does not exist."
    assert delete(api, path).status_code == 404


def test_bad_customer_input_is_refused_with_dojo_errors(api: Api) -> None:
    refused = api.post("/customers", {"phoneNumber": "123", "nickname": "x"})
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"phoneNumber", "nickname"}
    assert api.post("/customers/search", {"limit": 0}).status_code == 400


def test_search_pages_through_customers_oldest_first(api: Api) -> None:
    made = [create_customer(api, name=f"C{i}")["id"] for i in range(3)]
    first = api.post("/customers/search", {"limit": 2}).json()
    second = api.post("/customers/search", {"limit": 2, "after": first["after"]}).json()
    listed = [c["id"] for c in first["data"] + second["data"]]
    assert sorted(made) == sorted(listed) and second["after"] is None
    back = api.post("/customers/search", {"limit": 2, "before": second["before"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]]


def test_a_customer_secret_opens_only_that_customers_saved_cards(api: Api) -> None:
    customer, other = create_customer(api)["id"], create_customer(api)["id"]
    issued = api.post(f"/customers/{customer}/create-secret").json()
    assert issued["secret"].startswith("cs_sandbox_") and issued["expireAt"] > issued["createdAt"]
    headers = secret_headers(api, customer)
    path = f"/customers/public/{customer}/payment-methods"
    listed = api.client.get(path, headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["savedPaymentMethods"] == [] and listed.json()["customerId"] == customer
    assert api.client.get(f"/customers/public/{other}/payment-methods", headers=headers).status_code == 404
    assert api.get(path).status_code == 401  # an API key is not a customer secret
    wrong = {**headers, "Authorization": "Basic cs_sandbox_" + "A" * 22}
    assert api.client.get(path, headers=wrong).status_code == 401


def test_a_setup_intent_saves_a_card_for_its_customer_through_3ds(api: Api) -> None:
    customer = create_customer(api)["id"]
    created = api.post("/setup-intents", {**SETUP_BODY, "customer": {"id": customer}})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["id"].startswith("si_sandbox_") and body["status"] == "Created" and body["setupEvents"] == []
    assert body["clientSessionSecret"] and body["merchantInitiatedTransactionType"] == "NoShow"
    challenged = api.client.post(f"/setup/{body['id']}/save", json=CHALLENGE_CARD)
    assert challenged.json()["status"] == "Created" and "challengeUrl" in challenged.json()
    passed = api.client.post(f"/setup/{body['id']}/3ds", json={"outcome": "pass"})
    assert passed.status_code == 200 and passed.json()["status"] == "Authorized", passed.text
    setup = api.get(f"/setup-intents/{body['id']}").json()
    assert [e["eventType"] for e in setup["setupEvents"]] == ["AuthChallenged", "Authorized"]
    methods = api.client.get(
        f"/customers/public/{customer}/payment-methods", headers=secret_headers(api, customer)
    ).json()["savedPaymentMethods"]
    assert methods == [
        {
            "id": setup["paymentDetails"]["paymentMethodId"],
            "cardDetails": {"pan": "520000******1096", "expiryDate": "2029-12-31", "scheme": "MASTERCARD"},
        }
    ]
    public = api.client.get(f"/setup-intents/public/{body['id']}", headers={"Version": "2024-02-05"})
    assert public.status_code == 200 and "clientSessionSecret" not in public.json()
    assert "setupEvents" not in public.json()


def test_a_declined_card_leaves_the_setup_intent_created(api: Api) -> None:
    created = api.post("/setup-intents", SETUP_BODY).json()
    declined = api.client.post(
        f"/setup/{created['id']}/save",
        json={"cardNumber": "4456530000001013", "expiryDate": "12/29", "cvv": "341"},
    )
    assert declined.json()["status"] == "Created"
    assert declined.json()["lastSetupEvent"]["eventType"] == "Declined"


def test_setup_intents_cancel_and_refresh(api: Api) -> None:
    created = api.post("/setup-intents", SETUP_BODY).json()
    refreshed = api.post(f"/setup-intents/{created['id']}/refresh-client-session-secret").json()
    assert refreshed["clientSessionSecret"] != created["clientSessionSecret"]
    public = api.client.post(
        f"/setup-intents/public/{created['id']}/refresh-client-session-secret",
        headers={"Version": "2024-02-05"},
    )
    assert (
        public.status_code == 200 and public.json()["clientSessionSecret"] != refreshed["clientSessionSecret"]
    )
    canceled = delete(api, f"/setup-intents/{created['id']}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "Canceled"
    assert delete(api, f"/setup-intents/{created['id']}").status_code == 400
    saving = api.client.post(f"/setup/{created['id']}/save", json=SUCCESS_CARD)
    assert saving.status_code == 409


def test_a_merchant_initiated_charge_pays_the_intent_and_refunds_work(api: Api) -> None:
    setup = saved_setup_intent(api)
    intent = api.create_intent(2500, setupIntentId=setup["id"])
    charged = api.post(f"/payment-intents/{intent['id']}/charge")
    assert charged.status_code == 200, charged.text
    assert charged.json() == {"paymentIntentId": intent["id"], "status": "Successful", "message": "DEPOSITED"}
    paid = api.intent(intent["id"])
    assert paid["status"] == "Captured" and paid["paymentDetails"]["card"]["cardNumber"] == "520000******1005"
    assert api.get(f"/setup-intents/{setup['id']}").json()["status"] == "Completed"
    again = api.post(f"/payment-intents/{intent['id']}/charge")
    assert again.status_code == 400
    refunded = api.refund(intent["id"], 2500)
    assert refunded.status_code == 200, refunded.text
    assert api.intent(intent["id"])["status"] == "Refunded"


def audit_is_clean(database_url: str) -> bool:
    engine = make_engine(database_url, pool_size=1)
    try:
        return audit(engine).ok
    finally:
        engine.dispose()


def test_charges_refused_declined_and_failed(api: Api, database_url: str) -> None:
    plain = api.create_intent()
    refused = api.post(f"/payment-intents/{plain['id']}/charge")
    assert refused.status_code == 400 and "setupIntentId" in refused.json()["detail"]
    declining = saved_setup_intent(api, CHARGE_DECLINED_CARD)
    intent = api.create_intent(setupIntentId=declining["id"])
    declined = api.post(f"/payment-intents/{intent['id']}/charge")
    assert declined.status_code == 400 and "declined" in declined.json()["detail"]
    assert api.intent(intent["id"])["status"] == "Created"
    approving = saved_setup_intent(api)
    failing = api.create_intent(setupIntentId=approving["id"])
    armed = api.post(
        f"/sandbox/payment-intents/{failing['id']}/fail-next",
        {"operation": "charge", "outcome": "processor_error"},
    )
    assert armed.status_code == 200, armed.text
    failed = api.post(f"/payment-intents/{failing['id']}/charge")
    assert failed.status_code == 502
    retried = api.post(f"/payment-intents/{failing['id']}/charge")
    assert retried.status_code == 200 and api.intent(failing["id"])["status"] == "Captured"
    assert audit_is_clean(database_url)  # failed charges hold nothing; the succeeded one captured


def test_a_card_paid_at_the_checkout_is_saved_for_the_intents_customer(api: Api) -> None:
    customer = create_customer(api)["id"]
    intent = api.create_intent(customer={"id": customer})
    paid = api.client.post(f"/checkout/{intent['id']}/pay", json={**SUCCESS_CARD, "saveCard": True})
    assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
    listed = api.client.get(
        f"/customers/public/{customer}/payment-methods", headers=secret_headers(api, customer)
    ).json()["savedPaymentMethods"]
    assert [m["cardDetails"]["pan"] for m in listed] == ["520000******1005"]
    headers = secret_headers(api, customer)
    removed = api.client.delete(
        f"/customers/public/{customer}/payment-methods/{listed[0]['id']}", headers=headers
    )
    assert removed.status_code == 204
    assert (
        api.client.delete(
            f"/customers/public/{customer}/payment-methods/{listed[0]['id']}", headers=headers
        ).status_code
        == 404
    )
    no_customer = api.create_intent()
    refused = api.client.post(f"/checkout/{no_customer['id']}/pay", json={**SUCCESS_CARD, "saveCard": True})
    assert refused.status_code == 400 and "saveCard" in refused.json()["errors"]


def test_another_accounts_or_environments_objects_answer_404(api: Api, other_api: Api) -> None:
    customer = create_customer(api)["id"]
    setup = saved_setup_intent(api, customer={"id": customer})
    for path in (f"/customers/{customer}", f"/setup-intents/{setup['id']}"):
        assert other_api.get(path).status_code == 404
        assert delete(other_api, path).status_code == 404
    assert other_api.post(f"/customers/{customer}/create-secret").status_code == 404
    assert other_api.post(f"/setup-intents/{setup['id']}/refresh-client-session-secret").status_code == 404
    # Their own intent naming our setup intent cannot charge our card.
    theirs = other_api.create_intent(setupIntentId=setup["id"])
    assert other_api.post(f"/payment-intents/{theirs['id']}/charge").status_code == 400
    assert other_api.post("/customers/search", {}).json()["data"] == []
    assert api.get(f"/customers/{customer}").status_code == 200


def test_the_same_accounts_other_environment_sees_none_of_it(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "two environments")
    sandbox, prod = Api(client, account.sandbox_key), Api(client, account.prod_key)
    customer = create_customer(sandbox)["id"]
    setup = saved_setup_intent(sandbox, customer={"id": customer})
    method_id = setup["paymentDetails"]["paymentMethodId"]
    for path in (f"/customers/{customer}", f"/setup-intents/{setup['id']}"):
        assert prod.get(path).status_code == 404
    assert prod.post(f"/customers/{customer}/create-secret").status_code == 404
    prod_customer = create_customer(prod)["id"]
    prod_secret = secret_headers(prod, prod_customer)
    # A production customer's secret opens neither the sandbox customer nor their card.
    assert client.get(f"/customers/public/{customer}/payment-methods", headers=prod_secret).status_code == 404
    gone = client.delete(
        f"/customers/public/{prod_customer}/payment-methods/{method_id}", headers=prod_secret
    )
    assert gone.status_code == 404
    prod_intent = prod.create_intent(setupIntentId=setup["id"])
    assert prod.post(f"/payment-intents/{prod_intent['id']}/charge").status_code == 400
    assert (
        len(
            sandbox.client.get(
                f"/customers/public/{customer}/payment-methods", headers=secret_headers(sandbox, customer)
            ).json()["savedPaymentMethods"]
        )
        == 1
    )


def test_a_manual_intent_charged_is_authorized_then_captured_and_idempotent(api: Api) -> None:
    setup = saved_setup_intent(api, merchantInitiatedTransactionType="Unscheduled")
    intent = api.create_intent(3000, captureMode="Manual", setupIntentId=setup["id"])
    charged = api.post(f"/payment-intents/{intent['id']}/charge", IdempotencyKey="mit-1")
    assert charged.json()["message"] == "AUTHORISED" and api.intent(intent["id"])["status"] == "Authorized"
    replayed = api.post(f"/payment-intents/{intent['id']}/charge", IdempotencyKey="mit-1")
    assert replayed.json() == charged.json() and replayed.headers["Idempotent-Replayed"] == "true"
    assert api.post(f"/payment-intents/{intent['id']}/captures", {"amount": 3000}).status_code == 200
    assert api.intent(intent["id"])["status"] == "Captured"
    # A Completed setup intent's card can be charged again, for the next payment.
    second = api.create_intent(500, setupIntentId=setup["id"])
    assert api.post(f"/payment-intents/{second['id']}/charge").status_code == 200
