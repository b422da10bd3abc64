"""The SDK against the OpenAPI document a running ``payintents serve`` publishes at /openapi.json, so
the two cannot drift: every response model's fields are the documented properties (names and
required-ness), every request model matches its documented request body, every SDK method calls a
documented path and method and returns the model of that operation's documented answer, and every
documented operation has an SDK method."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from payintents_client import (
    AsyncClient,
    Client,
    Money,
    customer_models,
    models,
    sandbox_models,
    terminal_models,
)
from payintents_client import _client as resources
from payintents_client import request_models as rm
from payintents_client.request_models import camel_case
from sdk_support import ServerUnderTest

pytestmark = pytest.mark.e2e
Schema = dict[str, Any]

RESPONSE_MODELS: dict[type, str] = {
    Money: "#/components/schemas/Money",
    models.CaptureDetails: "#/components/schemas/CaptureDetails",
    models.PaymentEvent: "#/components/schemas/PaymentEvent",
    models.PaymentIntent: "#/components/schemas/PaymentIntent",
    models.PaymentIntentPage: "#/components/schemas/PagedPaymentIntent",
    models.Capture: "#/components/schemas/Capture",
    models.Reversal: "#/components/schemas/Reversal",
    models.Refund: "#/components/schemas/Refund",
    models.RefundCreated: "#/components/schemas/RefundCreated",
    models.RefundListItem: "#/components/schemas/RefundList/properties/data/items",
    models.WebhookEventGroup: "#/components/schemas/WebhookEvents/items",
    models.SubscriptionSecret: "#/components/schemas/SubscriptionSecret",
    models.Subscription: "#/components/schemas/Subscription",
    models.SubscriptionSecrets: "#/components/schemas/SecretsResponse",
    models.Delivery: "#/components/schemas/DeliveryList/properties/data/items",
    models.RetryScheduled: "#/components/schemas/RetryScheduled",
    sandbox_models.FailNext: "#/components/schemas/FailNext",
    sandbox_models.SandboxClock: "#/components/schemas/SandboxClock",
    sandbox_models.ClockAdvanced: "#/components/schemas/ClockAdvanced",
    sandbox_models.SandboxReset: "#/components/schemas/Reset",
    sandbox_models.RequestLogEntry: "#/components/schemas/RequestLog/properties/data/items",
    sandbox_models.SandboxReceipt: "#/components/schemas/ReceiptList/properties/data/items",
    terminal_models.Terminal: "#/components/schemas/Terminal",
    terminal_models.TerminalSettings: "#/components/schemas/TerminalSettings",
    terminal_models.TerminalSession: "#/components/schemas/TerminalSession",
    customer_models.Customer: "#/components/schemas/CustomerFull",
    customer_models.CustomerSecret: "#/components/schemas/CustomerSecret",
    customer_models.CustomerPage: "#/components/schemas/PagedCustomer",
    customer_models.CustomerPaymentMethods: "#/components/schemas/CustomerPaymentMethods",
    customer_models.SavedPaymentMethod: (
        "#/components/schemas/CustomerPaymentMethods/properties/savedPaymentMethods/items"
    ),
    customer_models.SetupIntent: "#/components/schemas/SetupIntent",
    customer_models.SetupIntentPublic: "#/components/schemas/SetupIntentPublic",
    customer_models.ChargeResponse: "#/components/schemas/ChargeResponse",
}
REQUEST_MODELS: dict[type, tuple[str, str, tuple[str, ...]]] = {
    rm.CreatePaymentIntentRequest: ("post", "/payment-intents", ()),
    rm.CreateCaptureRequest: ("post", "/payment-intents/{paymentIntentId}/captures", ()),
    rm.CreateRefundRequest: ("post", "/payment-intents/{paymentIntentId}/refunds", ()),
    rm.SetAmountRequest: ("post", "/payment-intents/{paymentIntentId}/amount", ()),
    rm.SetTipsAmountRequest: ("post", "/payment-intents/{paymentIntentId}/tips-amount", ()),
    rm.SearchPaymentIntentsRequest: ("post", "/payment-intents/search", ()),
    rm.SearchCursor: ("post", "/payment-intents/search", ("cursor",)),
    rm.SubscribeRequest: ("post", "/webhooks", ()),
    rm.UpdateSubscriptionRequest: ("patch", "/webhooks/{subscriptionId}", ()),
    rm.FailNextRequest: ("post", "/sandbox/payment-intents/{paymentIntentId}/fail-next", ()),
    rm.AdvanceClockRequest: ("post", "/sandbox/clock/advance", ()),
}
SYNC_RESOURCES = {
    "payment_intents": resources.PaymentIntents,
    "refunds": resources.Refunds,
    "webhooks": resources.Webhooks,
    "sandbox": resources.Sandbox,
    "terminals": resources.Terminals,
    "terminal_sessions": resources.TerminalSessions,
    "customers": resources.Customers,
    "setup_intents": resources.SetupIntents,
}
ASYNC_RESOURCES = {
    "payment_intents": resources.AsyncPaymentIntents,
    "refunds": resources.AsyncRefunds,
    "webhooks": resources.AsyncWebhooks,
    "sandbox": resources.AsyncSandbox,
    "terminals": resources.AsyncTerminals,
    "terminal_sessions": resources.AsyncTerminalSessions,
    "customers": resources.AsyncCustomers,
    "setup_intents": resources.AsyncSetupIntents,
}


@pytest.fixture(scope="module")
def document(server: ServerUnderTest) -> Schema:
    response = httpx.get(f"{server.base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    return dict(response.json())


def resolve(document: Schema, pointer: str) -> Schema:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node["$ref"] and resolve(document, node["$ref"])) if "$ref" in node else dict(node)


def wire_fields(model: type) -> tuple[set[str], set[str]]:
    """The wire names of a dataclass's fields, and those without a default (always present)."""
    names, required = set(), set()
    for f in dataclasses.fields(model):
        if f.metadata.get("wire", True) is False:
            continue
        names.add(camel_case(f.name))
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.add(camel_case(f.name))
    return names, required


@pytest.mark.parametrize("model", list(RESPONSE_MODELS), ids=lambda m: m.__name__)
def test_response_model_fields_are_the_documented_properties(document: Schema, model: type) -> None:
    schema = resolve(document, RESPONSE_MODELS[model])
    names, required = wire_fields(model)
    assert names == set(schema["properties"]), f"{model.__name__} differs from {RESPONSE_MODELS[model]}"
    assert required == set(schema.get("required", [])), f"required members of {model.__name__}"


@pytest.mark.parametrize("model", list(REQUEST_MODELS), ids=lambda m: m.__name__)
def test_request_model_fields_are_the_documented_request_body(document: Schema, model: type) -> None:
    method, path, inner = REQUEST_MODELS[model]
    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    for name in inner:
        schema = schema["properties"][name]
    names, required = wire_fields(model)
    assert names == set(schema["properties"])
    assert required == set(schema.get("required", []))


class RequestRecordedError(Exception):
    def __init__(self, request: httpx.Request) -> None:
        self.request = request


def _record(request: httpx.Request) -> httpx.Response:
    raise RequestRecordedError(request)


DUMMIES: dict[str, Any] = {
    "str": "x_1",
    "int": 100,
    "bool": True,
    "Money": Money(100, "GBP"),
    "Sequence[str]": ["e"],
}


def _call_and_record(method: Callable[..., Any]) -> httpx.Request:
    """Call a bound SDK method with placeholder values for its required arguments; the request it sent."""
    args = [
        DUMMIES[str(p.annotation)]
        for p in inspect.signature(method).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    with pytest.raises(RequestRecordedError) as recorded:
        method(*args)
    return recorded.value.request


def _operation(document: Schema, method: str, path: str) -> tuple[str, Schema]:
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not a documented operation")


def _sdk_methods() -> list[tuple[str, str, Callable[..., Any]]]:
    found = []
    for resource_name, resource in SYNC_RESOURCES.items():
        for name, value in vars(resource).items():
            if hasattr(value, "__wrapped__"):  # built from an operation in _operations
                found.append((resource_name, name, value.__wrapped__))
    return found


def _documented_answer(document: Schema, operation: Schema) -> Schema | None:
    success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
    content = success.get("content")
    return None if content is None else resolve(document, content["application/json"]["schema"]["$ref"])


def _answer_model(op: Callable[..., Any]) -> Any:
    returned = typing.get_type_hints(op)["return"]  # Call[X]
    (model,) = typing.get_args(returned)
    return model


def test_every_sdk_method_calls_a_documented_operation_and_returns_its_documented_answer(
    document: Schema,
) -> None:
    client = Client("sk_sandbox_x", base_url="http://api.test", transport=httpx.MockTransport(_record))
    covered = set()
    for resource_name, name, op in _sdk_methods():
        request = _call_and_record(getattr(getattr(client, resource_name), name))
        template, operation = _operation(document, request.method, request.url.path)
        covered.add((request.method.lower(), template))
        answer, model = _documented_answer(document, operation), _answer_model(op)
        if model is type(None):
            assert answer is None, f"{resource_name}.{name}: the API documents an answer body"
            continue
        if typing.get_origin(model) is tuple:  # a list answer: a JSON array or {"data": [...]}
            model = typing.get_args(model)[0]
            assert answer is not None
            answer = (
                answer["items"] if answer.get("type") == "array" else answer["properties"]["data"]["items"]
            )
            answer = resolve(document, answer["$ref"]) if "$ref" in answer else answer
        assert answer == resolve(document, RESPONSE_MODELS[model]), f"{resource_name}.{name} returns {model}"
        if request.content:
            sent = set(httpx.Response(200, content=request.content).json())
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert sent <= set(body["properties"]) and set(body.get("required", [])) <= sent
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert documented == covered, "documented operations without an SDK method"


def test_refunds_send_the_idempotency_key_the_document_requires(document: Schema) -> None:
    operation = document["paths"]["/payment-intents/{paymentIntentId}/refunds"]["post"]
    key = next(
        p for p in operation["parameters"] if p["in"] == "header" and p["name"].lower() == "idempotencykey"
    )
    assert key["required"] is True
    client = Client("sk_sandbox_x", base_url="http://api.test", transport=httpx.MockTransport(_record))
    assert _call_and_record(client.refunds.create).headers["IdempotencyKey"]


def test_the_async_client_has_exactly_the_sync_clients_methods() -> None:
    for name, sync_resource in SYNC_RESOURCES.items():
        public = {n for n in vars(sync_resource) if not n.startswith("_")}
        assert public == {n for n in vars(ASYNC_RESOURCES[name]) if not n.startswith("_")}
        for method in public:
            sync_sig = inspect.signature(getattr(sync_resource, method))
            async_sig = inspect.signature(getattr(ASYNC_RESOURCES[name], method))
            assert list(sync_sig.parameters) == list(async_sig.parameters), f"{name}.{method}"
    assert set(vars(AsyncClient("k"))) >= set(SYNC_RESOURCES)
