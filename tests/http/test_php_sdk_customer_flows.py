"""Dojo's PHP SDK flows for customers, saved cards, setup intents and charges, through the same
HTTP requests the SDK makes (``dojo-engineering/Dojo.PHP``, ``src/Api/CustomersApi.php``,
``SetupIntentsApi.php``, ``PaymentIntentsApi.php`` and its ``TestScript/`` examples), on both stores:

- every call sends ``version: 2022-04-07`` (``\\Dojo_PHP\\API_VERSION``), ``Accept`` and
  ``Content-Type: application/json``, the generator's User-Agent, and ``Authorization: Basic <key>``;
- a model is serialised with the properties that were set and nothing else (``Money.value`` an
  integer);
- ``customersGet`` takes comma-separated ids and reads ``CustomerFull[]``;
- the customer-owned operations take the customer secret as an ``authorization`` header
  parameter, which Guzzle merges with the configured key into one ``Authorization`` header:
  ``Basic <customer secret>, Basic <api key>``;
- ``paymentIntentsChargePaymentIntent`` posts no body.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support import CHALLENGE_CARD, Api

PHP_VERSION = "2022-04-07"


def sdk_call(
    api: Api, method: str, path: str, model: dict[str, Any] | None = None, authorization: str | None = None
) -> httpx.Response:
    headers = {
        "User-Agent": "OpenAPI-Generator/1.0.0/PHP",
        "version": PHP_VERSION,
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Authorization": f"Basic {api.key}",
    }
    if authorization is not None:
        # headerParams['authorization'] then headers['Authorization']: one header, both values.
        headers["Authorization"] = f"{authorization}, Basic {api.key}"
    content = b"" if model is None else json.dumps(model).encode()
    return api.client.request(method, path, content=content, headers=headers)


def test_the_customers_api_flow(api: Api) -> None:
    created = sdk_call(api, "POST", "/customers", {"name": "Alex", "emailAddress": "alex@dojo.com"})
    assert created.status_code == 200, created.text
    customer = created.json()
    assert customer["id"].startswith("cust_sandbox_") and customer["documentVersion"] == 0
    other = sdk_call(api, "POST", "/customers", {"name": "Sam"}).json()
    fetched = sdk_call(api, "GET", f"/customers/{customer['id']},{other['id']}")
    assert [c["id"] for c in fetched.json()] == [customer["id"], other["id"]]
    updated = sdk_call(api, "PATCH", f"/customers/{customer['id']}", {"phoneNumber": "078976534161"})
    assert updated.status_code == 200 and updated.json()["documentVersion"] == 1
    found = sdk_call(api, "POST", "/customers/search", {"limit": 20})
    assert {c["id"] for c in found.json()["data"]} >= {customer["id"], other["id"]}
    secret = sdk_call(api, "POST", f"/customers/{customer['id']}/create-secret")
    assert secret.status_code == 200 and set(secret.json()) == {"secret", "createdAt", "expireAt"}
    methods = sdk_call(
        api,
        "GET",
        f"/customers/public/{customer['id']}/payment-methods",
        authorization=f"Basic {secret.json()['secret']}",
    )
    assert methods.status_code == 200, methods.text
    assert methods.json()["savedPaymentMethods"] == []
    assert sdk_call(api, "DELETE", f"/customers/{other['id']}").status_code == 204
    missing = sdk_call(api, "GET", f"/customers/{other['id']}")
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_the_setup_intent_charge_and_refund_flow(api: Api) -> None:
    customer = sdk_call(api, "POST", "/customers", {"name": "Alex"}).json()["id"]
    request = {  # TestScript/setupIntentTest.php, with the customer
        "reference": "test",
        "customer": {"id": customer},
        "merchantInitiatedTransactionType": "NoShow",
        "terms": "Example terms",
        "intendedAmount": {"value": 100, "currencyCode": "GBP"},
    }
    created = sdk_call(api, "POST", "/setup-intents", request)
    assert created.status_code == 200, created.text
    setup_id = created.json()["id"]
    public = sdk_call(api, "GET", f"/setup-intents/public/{setup_id}")
    assert public.status_code == 200 and public.json()["status"] == "Created"
    refreshed = sdk_call(api, "POST", f"/setup-intents/{setup_id}/refresh-client-session-secret")
    assert refreshed.json()["clientSessionSecret"] != created.json()["clientSessionSecret"]
    # The shopper saves the card on the hosted form (its JSON twin here), through 3-D Secure.
    assert api.client.post(f"/setup/{setup_id}/save", json=CHALLENGE_CARD).json()["status"] == "Created"
    assert (
        api.client.post(f"/setup/{setup_id}/3ds", json={"outcome": "pass"}).json()["status"] == "Authorized"
    )
    assert sdk_call(api, "GET", f"/setup-intents/{setup_id}").json()["status"] == "Authorized"

    # TestScript/createPaymentIntentWithSetupIntentId.php, then chargeCardWithPaymentIntentId.php.
    intent = sdk_call(
        api,
        "POST",
        "/payment-intents",
        {"amount": {"value": 100, "currencyCode": "GBP"}, "reference": "test", "setupIntentId": setup_id},
    ).json()
    charged = sdk_call(api, "POST", f"/payment-intents/{intent['id']}/charge")
    assert charged.status_code == 200, charged.text
    assert charged.json() == {"paymentIntentId": intent["id"], "status": "Successful", "message": "DEPOSITED"}
    refund = sdk_call(api, "POST", f"/payment-intents/{intent['id']}/refunds", {"amount": 100})
    assert refund.status_code == 400  # idempotencyKey is required; the SDK passes it as a header
    refund_headers_call = api.client.post(
        f"/payment-intents/{intent['id']}/refunds",
        content=json.dumps({"amount": 100, "refundReason": "No-show waived"}),
        headers={
            "version": PHP_VERSION,
            "idempotencyKey": "php-sdk-1",
            "Content-Type": "application/json",
            "Authorization": f"Basic {api.key}",
        },
    )
    assert refund_headers_call.status_code == 200, refund_headers_call.text
    assert api.intent(intent["id"])["status"] == "Refunded"

    secret = sdk_call(api, "POST", f"/customers/{customer}/create-secret").json()["secret"]
    methods_path = f"/customers/public/{customer}/payment-methods"
    saved = sdk_call(api, "GET", methods_path, authorization=f"Basic {secret}").json()["savedPaymentMethods"]
    assert [m["cardDetails"]["scheme"] for m in saved] == ["MASTERCARD"]
    removed = sdk_call(api, "DELETE", f"{methods_path}/{saved[0]['id']}", authorization=f"Basic {secret}")
    assert removed.status_code == 204
    canceled = sdk_call(api, "DELETE", f"/setup-intents/{setup_id}")
    assert canceled.status_code == 400  # Completed by the charge: nothing to cancel
