"""/openapi.json: a valid OpenAPI 3.0 document of every API route, whose response schemas match
what the server really answers (so clients generated from it, and our SDK, stay in step)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from payintents.web.endpoint import ApiRoute
from tests.support import Api


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def conforms(document: dict[str, Any], schema_name: str, body: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS30Validator(schema).validate(body)


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_api_route_and_method_is_documented(client: TestClient, document: dict[str, Any]) -> None:
    served = {
        (route.path, method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, ApiRoute)
        for method in route.operations
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert served == documented
    assert len(served) >= 18


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_extensions_are_marked(document: dict[str, Any]) -> None:
    marked = {(path, method) for path, method, op in operations(document) if op.get("x-payintents-extension")}
    assert ("/payment-intents/{paymentIntentId}/refunds", "get") in marked
    assert ("/payment-intents/{paymentIntentId}/refunds", "post") not in marked


def test_extensions_are_tagged_as_such(document: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in document["tags"]}
    assert declared == {"Dojo API", "payintents extension"}
    for path, method, op in operations(document):
        expected = "payintents extension" if op.get("x-payintents-extension") else "Dojo API"
        assert op["tags"] == [expected], f"{method.upper()} {path}"


def test_every_operation_documents_its_real_failure_statuses(document: dict[str, Any]) -> None:
    """Bad version or body (400), key (401), body too large (413) or not JSON (415), busy (503)
    anywhere; 404 where a path names an object; 409 where an idempotency key can be reused; 502
    where the processor is called. Every failure answers the one error body."""
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        documented = set(op["responses"])
        assert {"400", "401", "413", "415", "503"} <= documented, where
        assert "{" not in path or "404" in documented, where
        if any(p["name"] == "idempotencyKey" for p in op["parameters"]):
            assert "409" in documented, where
        # Dojo's terminal API has its own error schema, with every member present.
        problem = "ProblemDetailsTerminals" if path.startswith("/terminal") else "Problem"
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": f"#/components/schemas/{problem}"
                }
    for path in ("/payment-intents/{paymentIntentId}/refunds", "/payment-intents/{paymentIntentId}/captures"):
        assert "502" in document["paths"][path]["post"]["responses"]


def test_every_operation_answers_413_and_415_as_documented(api: Api, document: dict[str, Any]) -> None:
    customer = api.post("/customers", {}).json()["id"]
    secret = api.post(f"/customers/{customer}/create-secret").json()["secret"]
    for path, method, op in operations(document):
        url = re.sub(r"{\w+}", "x_1", path)
        # Each operation authorised as it documents: an API key, or a customer secret.
        key = secret if op.get("security") == [{"CustomerSecretAuth": []}] else api.key
        auth = {"Authorization": f"Basic {key}"}
        not_json = api.client.request(
            method, url, content=b"amount=1", headers=api.headers(**{"Content-Type": "text/plain", **auth})
        )
        too_large = api.client.request(
            method, url, content=b"{}", headers=api.headers(**{"Content-Length": "70000", **auth})
        )
        assert not_json.status_code == 415, f"{method.upper()} {path}: {not_json.text}"
        assert too_large.status_code == 413, f"{method.upper()} {path}: {too_large.text}"
        for answer in (not_json, too_large):
            documented = op["responses"][str(answer.status_code)]
            schema = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            conforms(document, schema, answer.json())


def test_refund_request_schema_carries_dojo_limits(document: dict[str, Any]) -> None:
    post = document["paths"]["/payment-intents/{paymentIntentId}/refunds"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["amount"] and schema["additionalProperties"] is False
    assert schema["properties"]["refundReason"]["maxLength"] == 1024
    assert schema["properties"]["notes"]["maxLength"] == 4096
    assert schema["properties"]["previousTransactionId"]["maxLength"] == 100
    key = next(p for p in post["parameters"] if p["name"] == "idempotencyKey")
    assert key["required"] is True and key["schema"]["maxLength"] == 100


def test_real_answers_match_the_documented_schemas(api: Api, document: dict[str, Any]) -> None:
    intent_id = api.captured_intent(1000, description="schema check", metadata={"k": "v"})
    conforms(document, "PaymentIntent", api.intent(intent_id))
    created = api.refund(intent_id, 400, refundReason="r", notes="n")
    conforms(document, "RefundCreated", created.json())
    refund_id = created.json()["refundId"]
    conforms(document, "Refund", api.get(f"/payment-intents/refunds/{refund_id}").json())
    conforms(document, "RefundList", api.get(f"/payment-intents/{intent_id}/refunds").json())
    conforms(document, "PagedPaymentIntent", api.post("/payment-intents/search", {}).json())
    conforms(document, "Problem", api.refund(intent_id, 10_000).json())
    manual = api.create_intent(1000, captureMode="Manual")["id"]
    api.pay(manual)
    conforms(document, "Capture", api.post(f"/payment-intents/{manual}/captures", {"amount": 500}).json())
    other = api.create_intent(1000, captureMode="Manual")["id"]
    api.pay(other)
    conforms(document, "Reversal", api.post(f"/payment-intents/{other}/reversal").json())
    conforms(document, "WebhookEvents", api.get("/webhooks/events").json())
    subscribed = api.post("/webhooks", {"events": ["refund.created"], "url": "http://127.0.0.1:9/hook"})
    conforms(document, "Subscription", subscribed.json())
    subscription_id = subscribed.json()["id"]
    conforms(document, "SecretsResponse", api.get(f"/webhooks/{subscription_id}/secrets").json())
    conforms(document, "DeliveryList", api.get(f"/webhooks/{subscription_id}/deliveries").json())
    conforms(document, "SubscriptionList", api.get("/webhooks").json())


ECHOED = {
    "customer": {
        "id": "c1",
        "emailAddress": "a@example.com",
        "phoneNumber": None,
        "secret": "s",
        "savedCardId": "k",
    },
    "billingAddress": {"countryCode": "GB", "city": "London", "postcode": None},
    "shippingDetails": {"name": "A", "address": {"countryCode": "GB", "address1": "1 Road"}},
    "requestSecurity": {"userAgent": "ua", "ipAddress": None},
    "itemLines": [
        {
            "id": "l1",
            "quantity": 2,
            "name": None,
            "amountTotal": {"value": 800, "currencyCode": "GBP"},
            "modifiers": [
                {
                    "id": "m",
                    "name": "extra",
                    "quantity": 1,
                    "amountPerModifier": {"value": 0, "currencyCode": "GBP"},
                }
            ],
        }
    ],
    "taxLines": [{"caption": "VAT", "amountTotal": {"value": 200, "currencyCode": "GBP"}}],
    "config": {"title": "Shop", "redirectUrl": None, "payment": {"tipsAllowed": True}},
    "actionLink": {"url": "https://example.com/r", "label": "Receipt", "action": "OpenLink"},
    "orderDetails": {"id": "o1", "isUpdate": None},
    "metadata": {"k": "v"},
}


def test_echoed_request_objects_match_the_documented_answer(api: Api, document: dict[str, Any]) -> None:
    """Objects sent at creation come back as documented: without nulls, the customer without its
    secret or saved card (Dojo answers its Customer schema), payment details once paid."""
    intent = api.intent(api.captured_intent(1000, **ECHOED))
    conforms(document, "PaymentIntent", intent)
    assert intent["customer"] == {"id": "c1", "emailAddress": "a@example.com"}
    assert intent["billingAddress"] == {"countryCode": "GB", "city": "London"}
    assert "name" not in intent["itemLines"][0] and intent["config"] == {
        "title": "Shop",
        "payment": {"tipsAllowed": True},
    }
    assert set(intent["paymentDetails"]) == {"transactionId", "transactionDateTime", "message", "card"}
