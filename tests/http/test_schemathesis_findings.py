"""Regressions for what schemathesis (tests/conformance/test_schemathesis.py) found: places where
/openapi.json and the server disagreed. Each test pins the document and the server to each other."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from payintents.domain.webhooks import KNOWN_EVENTS
from payintents.web.http_input import SUPPORTED_VERSIONS
from tests.support import Api, running_server

INTENT_OPS = "/payment-intents/{paymentIntentId}"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    return next(p for p in document["paths"][path][method]["parameters"] if p["name"] == name)


def body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return dict(document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])


def test_a_null_field_of_a_newer_version_counts_as_left_out(api: Api) -> None:
    """Found: {"isNotOnlineCheckout": null} on version 2024-02-05 was refused, though null means
    "not sent" everywhere else; a client writing every optional field as null broke."""
    body = {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "Order 234"}
    older = {"Version": "2024-02-05"}
    created = api.post("/payment-intents", {**body, "isNotOnlineCheckout": None}, **older)
    assert created.status_code == 200, created.text
    refused = api.post("/payment-intents", {**body, "isNotOnlineCheckout": True}, **older)
    assert refused.status_code == 400 and "isNotOnlineCheckout" in refused.json()["errors"]
    captured = api.captured_intent(1000)
    legacy = {"Version": "2022-04-07", "IdempotencyKey": "k-null"}
    refund = api.post(
        f"/payment-intents/{captured}/refunds", {"amount": 1, "previousTransactionId": None}, **legacy
    )
    assert refund.status_code == 200, refund.text


def test_the_version_header_lists_the_published_versions(api: Api, document: dict[str, Any]) -> None:
    """Found: documented as any date, but a date before the oldest version is refused."""
    schema = parameter(document, "/payment-intents/search", "post", "version")["schema"]
    assert schema["enum"] == [v.isoformat() for v in SUPPORTED_VERSIONS]
    for version in schema["enum"]:
        assert api.post("/payment-intents/search", {}, Version=version).status_code == 200
    assert api.post("/payment-intents/search", {}, Version="2000-01-01").status_code == 400


def test_the_idempotency_key_schema_says_what_the_server_takes(api: Api, document: dict[str, Any]) -> None:
    """Found: a required key of spaces was documented as valid (the server trims it to nothing and
    refuses it), and an empty optional key as invalid (the server takes it as no key)."""
    required = parameter(document, f"{INTENT_OPS}/refunds", "post", "idempotencyKey")["schema"]
    optional = parameter(document, "/payment-intents", "post", "idempotencyKey")["schema"]
    assert re.search(required["pattern"], "   ") is None and required["minLength"] == 1
    assert re.search(optional["pattern"], "") and "minLength" not in optional
    captured = api.captured_intent(1000)
    spaces = api.post(f"/payment-intents/{captured}/refunds", {"amount": 1}, IdempotencyKey="   ")
    assert spaces.status_code == 400 and "idempotencyKey" in spaces.json()["errors"]
    body = {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "Order 234"}
    assert api.post("/payment-intents", body, IdempotencyKey="").status_code == 200


@pytest.mark.parametrize("method", ["post", "patch"])
def test_subscription_schemas_say_which_events_and_urls_are_taken(
    document: dict[str, Any], method: str
) -> None:
    """Found: events and url were documented as any strings; the server takes the known events,
    at least one, each once, and https receivers (http only to the sandbox's own machine)."""
    path = "/webhooks" if method == "post" else "/webhooks/{subscriptionId}"
    properties = body_schema(document, path, method)["properties"]
    events = properties["events"]
    assert set(events["items"]["enum"]) == KNOWN_EVENTS
    assert events["minItems"] == 1 and events["uniqueItems"] is True
    shape = properties["url"]["pattern"]
    for url in (
        "https://hooks.example.com/dojo",
        "https://a.example.com:8443/x?y=1",
        "http://localhost:9000/h",
    ):
        assert re.search(shape, url), url
    for url in (
        "http://",
        "https://",
        "http://hooks.example.com/dojo",
        "https://user@example.com/",
        "ftp://a.com",
    ):
        assert re.search(shape, url) is None, url


def test_the_server_refuses_what_the_subscription_schema_refuses(api: Api, document: dict[str, Any]) -> None:
    shape = body_schema(document, "/webhooks", "post")["properties"]["url"]["pattern"]
    for url in ("http://", "http://hooks.example.com/dojo", "https://user@example.com/"):
        assert re.search(shape, url) is None
        refused = api.post("/webhooks", {"events": ["refund.created"], "url": url})
        assert refused.status_code == 400 and "url" in refused.json()["errors"], url
    assert api.post("/webhooks", {"events": [], "url": "https://hooks.example.com/"}).status_code == 400
    duplicated = {"events": ["refund.created", "refund.created"], "url": "https://hooks.example.com/"}
    assert api.post("/webhooks", duplicated).status_code == 400
    accepted = api.post("/webhooks", {"events": ["refund.created"], "url": "https://hooks.example.com/dojo"})
    assert accepted.status_code == 200, accepted.text


def test_links_lead_from_a_new_intent_and_refund_to_their_operations(document: dict[str, Any]) -> None:
    """Stateful testing follows these: create an intent, then get, capture, refund… it by id."""
    operation_ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    links = document["paths"]["/payment-intents"]["post"]["responses"]["200"]["links"]
    assert links["GetPaymentIntent"]["parameters"] == {"paymentIntentId": "$response.body#/id"}
    assert links["RefundPaymentIntent"]["operationId"] == parameter_owner(
        document, f"{INTENT_OPS}/refunds", "post"
    )
    refund_links = document["paths"][f"{INTENT_OPS}/refunds"]["post"]["responses"]["200"]["links"]
    assert refund_links["GetRefund"]["parameters"] == {"refundId": "$response.body#/refundId"}
    every_link = [
        link
        for item in document["paths"].values()
        for op in item.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert len(every_link) >= 30 and {link["operationId"] for link in every_link} <= operation_ids


def parameter_owner(document: dict[str, Any], path: str, method: str) -> str:
    return str(document["paths"][path][method]["operationId"])


MALFORMED_HEADERS = (b"content-length: 1yn~", b"t;: x", b"Sy51 [*bn_H+")


@pytest.mark.e2e
def test_a_request_the_http_parser_cannot_read_gets_dojos_error_body(tmp_path: Path) -> None:
    """Found: uvicorn answered these before any route, in plain text; now Dojo's JSON, like any bad input."""
    with running_server(f"sqlite:///{tmp_path / 'p.db'}", tmp_path, workers=1) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        answers = [raw_exchange(port, header) for header in MALFORMED_HEADERS]
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head.lower(), head
        problem = json.loads(body)
        assert problem["status"] == 400 and problem["detail"]
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", problem["traceId"])


def raw_exchange(port: int, header: bytes) -> bytes:
    """Send one GET carrying ``header`` as written and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /payment-intents/x HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n\r\n")
        return b"".join(iter(lambda: conn.recv(4096), b""))
