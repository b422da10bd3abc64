"""/openapi.json: a valid OpenAPI 3.0 document of every API route, whose response schemas match
what the server really answers (so clients generated from it, and our SDK, stay in step)."""

from __future__ import annotations

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


def test_extensions_are_marked(document: dict[str, Any]) -> None:
    marked = {
        (path, method)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if op.get("x-payintents-extension")
    }
    assert ("/payment-intents/{paymentIntentId}/refunds", "get") in marked
    assert ("/payment-intents/{paymentIntentId}/refunds", "post") not in marked


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
