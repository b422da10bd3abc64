"""Dojo's webhook subscription API over HTTP on both stores (docs/webhooks.md): the event
catalogue, subscribe / update / delete with the one-subscription-per-event 409 (held by the store's
unique index even under a race), URL and body validation, secrets, 404s that reveal nothing about
other accounts, 405s, and the delivery inspection and retry extensions."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest

from payintents.domain import webhooks as rules
from payintents.domain.errors import StateConflictError
from payintents.domain.intent import Environment, Scope
from payintents.service import webhooks
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import Api

URL = "https://hooks.example.com/dojo"
ALL = ["payment_intent.created", "payment_intent.status_updated", "refund.created"]
SUB_ID = re.compile(r"^ws_sandbox_[A-Za-z0-9_-]{22}$")
SECRET_ID = re.compile(r"^sc_[A-Za-z0-9_-]{22}$")
MISSING = "ws_sandbox_AAAAAAAAAAAAAAAAAAAAAA"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert {"type", "title", "status", "traceId"} <= set(body)
    assert body["status"] == status
    return body


def call(api: Api, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = api.headers(**({"Content-Type": "application/json"} if body is not None else {}))
    content = None if body is None else (body if isinstance(body, str | bytes) else httpx_json(body))
    return api.client.request(method, path, content=content, headers=headers)


def httpx_json(body: Any) -> bytes:
    return json.dumps(body).encode()


def subscribe(api: Api, events: list[str] | None = None, url: str = URL, **extra: Any) -> dict[str, Any]:
    response = api.post("/webhooks", {"events": events or ALL, "url": url, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_events_catalogue_shape(api: Api) -> None:
    response = api.get("/webhooks/events")
    assert response.status_code == 200
    assert response.json() == [
        {"model": "PaymentIntent", "events": ["payment_intent.created", "payment_intent.status_updated"]},
        {"model": "Refund", "events": ["refund.created"]},
    ]
    problem(call(api, "DELETE", "/webhooks/events"), 405)
    problem(call(api, "POST", "/webhooks/events", {}), 405)


def test_subscribe_returns_a_subscription_with_one_active_secret(api: Api) -> None:
    sub = subscribe(api, description="orders")
    assert set(sub) == {
        "id",
        "accountId",
        "events",
        "url",
        "description",
        "secrets",
        "createdAt",
        "updatedAt",
    }
    assert SUB_ID.match(sub["id"]) and sub["accountId"].startswith("acc_")
    assert (sub["events"], sub["url"], sub["description"]) == (ALL, URL, "orders")
    (secret,) = sub["secrets"]
    assert SECRET_ID.match(secret["id"]) and secret["isActive"] is True and len(secret["value"]) >= 22
    assert set(secret) == {"id", "value", "createdAt", "isActive"}
    listed = api.get("/webhooks").json()
    assert listed == [sub]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["payment.successful"], "url": URL}, "events"),
        ({"events": [], "url": URL}, "events"),
        ({"events": ["refund.created", "refund.created"], "url": URL}, "events"),
        ({"events": ALL, "url": "http://hooks.example.com/"}, "url"),
        ({"events": ALL, "url": "https://169.254.169.254/"}, "url"),
        ({"events": ALL, "url": "https://08.0.0.1/"}, "url"),
        ({"events": ALL, "url": "https://a.example.com/\n"}, "url"),
        ({"events": ALL, "url": ""}, "url"),
        ({"events": ALL}, "url"),
        ({"url": URL}, "events"),
        ({"events": "refund.created", "url": URL}, "events"),
        ({"events": ALL, "url": URL, "colour": "red"}, None),
        ({"events": ALL, "url": 5}, "url"),
        ({"events": [None], "url": URL}, None),
        ({"events": ALL, "url": URL, "description": "a\u0000b"}, None),
        ({"events": ["refund.created\u0000"], "url": URL}, None),
        ({"events": ALL, "url": "https://a.example.com/\u0000"}, None),
    ],
)
def test_bad_subscriptions_are_400_and_write_nothing(
    api: Api, body: dict[str, Any], field: str | None
) -> None:
    refused = problem(api.post("/webhooks", body), 400)
    if field is not None:
        assert field in {k.lower() for k in refused.get("errors", {})}, refused
    assert api.get("/webhooks").json() == []


@pytest.mark.parametrize("raw", ["", "{", "[]", '{"events": ["refund.created"], "events": [], "url": "x"}'])
def test_malformed_bodies_are_400(api: Api, raw: str) -> None:
    problem(call(api, "POST", "/webhooks", raw), 400)
    assert api.get("/webhooks").json() == []


def test_non_json_body_is_415(api: Api) -> None:
    response = api.client.post(
        "/webhooks", content=b"events=x", headers=api.headers(**{"Content-Type": "text/plain"})
    )
    problem(response, 415)


def test_second_subscription_for_a_subscribed_event_is_409(api: Api, other_api: Api) -> None:
    subscribe(api, ["payment_intent.created"])
    problem(api.post("/webhooks", {"events": ["refund.created", "payment_intent.created"], "url": URL}), 409)
    assert len(api.get("/webhooks").json()) == 1
    subscribe(other_api, ["payment_intent.created"])  # another account is free to
    assert subscribe(api, ["refund.created"])["events"] == ["refund.created"]


def test_the_stores_unique_index_alone_refuses_a_second_subscriber(
    api: Api, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(api, ["refund.created"])
    monkeypatch.setattr(rules, "check_one_subscription_per_event", lambda *args, **kwargs: None)
    problem(api.post("/webhooks", {"events": ["refund.created"], "url": URL}), 409)
    second = subscribe(api, ["payment_intent.created"])
    problem(call(api, "PATCH", f"/webhooks/{second['id']}", {"events": ["refund.created"]}), 409)
    assert [s["events"] for s in api.get("/webhooks").json()] == [
        ["refund.created"],
        ["payment_intent.created"],
    ]


def race_subscribers(deps: Dependencies, scope: Scope, event: str, racers: int) -> list[str]:
    """``racers`` threads subscribe to ``event`` at once; each outcome "ok" or "409"."""
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def race() -> None:
        barrier.wait()
        try:
            webhooks.subscribe(deps, scope, [event], URL, None)
            outcomes.append("ok")
        except StateConflictError:
            outcomes.append("409")

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.parametrize("precheck", [True, False], ids=["service-check", "store-index-only"])
def test_concurrent_subscriptions_to_one_event_let_exactly_one_win(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch, precheck: bool
) -> None:
    if not precheck:  # every racer passes the service's read-then-check; only the index can refuse
        monkeypatch.setattr(rules, "check_one_subscription_per_event", lambda *args, **kwargs: None)
    account = create_account(deps, "racer")
    scope = Scope(account.account_id, Environment.SANDBOX)
    for round_ in range(6):
        assert race_subscribers(deps, scope, ALL[round_ % 3], 4) == ["409", "409", "409", "ok"]
        (winner,) = webhooks.list_subscriptions(deps, scope)
        webhooks.delete_subscription(deps, scope, winner.id)


def test_patch_changes_events_url_and_description(api: Api) -> None:
    sub = subscribe(api, ["payment_intent.created"], description="first")
    path = f"/webhooks/{sub['id']}"
    changed = call(api, "PATCH", path, {"events": ["refund.created"], "url": "https://b.example.com/x"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["events"], body["url"], body["description"]) == (
        ["refund.created"],
        "https://b.example.com/x",
        "first",
    )
    assert (
        body["id"] == sub["id"]
        and body["secrets"] == sub["secrets"]
        and body["createdAt"] == sub["createdAt"]
    )
    body = call(api, "PATCH", path, {"description": "second"}).json()
    assert body["description"] == "second" and body["events"] == ["refund.created"]
    assert api.get("/webhooks").json() == [body]


def test_patch_refuses_bad_input_and_anothers_event(api: Api) -> None:
    first = subscribe(api, ["payment_intent.created"])
    second = subscribe(api, ["refund.created"])
    path = f"/webhooks/{second['id']}"
    problem(call(api, "PATCH", path, {"events": ["payment_intent.created"]}), 409)
    assert "events" in problem(call(api, "PATCH", path, {"events": []}), 400)["errors"]
    assert "events" in problem(call(api, "PATCH", path, {"events": ["nope"]}), 400)["errors"]
    assert "url" in problem(call(api, "PATCH", path, {"url": "https://10.0.0.1/"}), 400)["errors"]
    problem(call(api, "PATCH", path, {"secrets": []}), 400)
    problem(call(api, "PATCH", path), 400)
    assert api.get("/webhooks").json() == [first, second]


def test_delete_is_204_then_404(api: Api) -> None:
    sub = subscribe(api)
    response = call(api, "DELETE", f"/webhooks/{sub['id']}")
    assert response.status_code == 204 and response.content == b""
    assert api.get("/webhooks").json() == []
    problem(call(api, "DELETE", f"/webhooks/{sub['id']}"), 404)
    subscribe(api)  # its events are free again


def test_secrets_lifecycle(api: Api) -> None:
    sub = subscribe(api)
    base = f"/webhooks/{sub['id']}/secrets"
    assert api.get(base).json() == {"id": sub["id"], "secrets": sub["secrets"]}
    first = sub["secrets"][0]
    for count in range(2, 6):
        generated = api.post(base)
        assert generated.status_code == 200, generated.text
        secrets = generated.json()["secrets"]
        assert generated.json()["id"] == sub["id"] and len(secrets) == count
        assert secrets[-1]["isActive"] is False and SECRET_ID.match(secrets[-1]["id"])
    problem(api.post(base), 409)
    newest = secrets[-1]
    assert call(api, "PUT", f"{base}/{newest['id']}/activate").status_code == 204
    after = api.get(base).json()["secrets"]
    assert [s["id"] for s in after if s["isActive"]] == [newest["id"]]
    problem(call(api, "DELETE", f"{base}/{newest['id']}"), 409)
    assert call(api, "DELETE", f"{base}/{first['id']}").status_code == 204
    assert first["id"] not in [s["id"] for s in api.get(base).json()["secrets"]]
    assert api.post(base).status_code == 200  # room again
    for method, path in [("PUT", f"{base}/sc_AAAAAAAAAAAAAAAAAAAAAA/activate"), ("DELETE", f"{base}/nope")]:
        problem(call(api, method, path), 404)
    problem(call(api, "PUT", f"{base}/{newest['id']}"), 405)
    problem(call(api, "GET", f"{base}/{newest['id']}/activate"), 405)


def test_other_accounts_subscriptions_are_indistinguishable_from_missing(api: Api, other_api: Api) -> None:
    sub = subscribe(api)
    secret = sub["secrets"][0]["id"]
    requests = [
        ("PATCH", "{}", {"description": "x"}),
        ("DELETE", "{}", None),
        ("GET", "{}/secrets", None),
        ("POST", "{}/secrets", None),
        ("PUT", "{}/secrets/" + secret + "/activate", None),
        ("DELETE", "{}/secrets/" + secret, None),
        ("GET", "{}/deliveries", None),
    ]
    for method, template, body in requests:
        theirs = problem(call(other_api, method, "/webhooks/" + template.format(sub["id"]), body), 404)
        missing = problem(call(other_api, method, "/webhooks/" + template.format(MISSING), body), 404)
        assert {k: v for k, v in theirs.items() if k != "traceId"} == {
            k: v for k, v in missing.items() if k != "traceId"
        }
    assert other_api.get("/webhooks").json() == []
    assert api.get("/webhooks").json() == [sub]


def test_production_keys_do_not_see_sandbox_subscriptions(api: Api, deps: Dependencies) -> None:
    account = create_account(deps, "both")
    sandbox, prod = Api(api.client, account.sandbox_key), Api(api.client, account.prod_key)
    sub = subscribe(sandbox)
    problem(call(prod, "DELETE", f"/webhooks/{sub['id']}"), 404)
    assert prod.get("/webhooks").json() == []
    refused = problem(prod.post("/webhooks", {"events": ALL, "url": "http://127.0.0.1:9000/"}), 400)
    assert "url" in refused["errors"]
    created = subscribe(prod, url="https://hooks.example.com/prod")
    assert created["id"].startswith("ws_") and not created["id"].startswith("ws_sandbox_")


def test_sandbox_accepts_a_local_receiver(api: Api) -> None:
    assert subscribe(api, url="http://127.0.0.1:8123/hooks")["url"] == "http://127.0.0.1:8123/hooks"


def test_unauthenticated_calls_are_401(api: Api) -> None:
    assert api.client.get("/webhooks", headers={"Version": "2024-02-05"}).status_code == 401
    assert api.client.get("/webhooks/events", headers={"Authorization": "Basic nope"}).status_code == 401


def test_deliveries_are_listed_and_can_be_retried(api: Api, other_api: Api) -> None:
    sub = subscribe(api)
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 300).status_code == 200
    listing = api.get(f"/webhooks/{sub['id']}/deliveries")
    assert listing.status_code == 200
    deliveries = listing.json()["data"]
    assert sorted(d["event"] for d in deliveries) == [
        "payment_intent.created",
        "payment_intent.status_updated",
        "refund.created",
    ]
    for delivery in deliveries:
        assert delivery["status"] == "pending" and delivery["attempts"] == []
        assert delivery["eventId"].startswith("evt_") and delivery["nextAttemptAt"]
    event_id = deliveries[0]["eventId"]
    retried = api.post(f"/webhooks/deliveries/{event_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"eventId": event_id, "deliveriesScheduled": 1}
    problem(other_api.post(f"/webhooks/deliveries/{event_id}/retry"), 404)
    problem(api.post("/webhooks/deliveries/evt_sandbox_AAAAAAAAAAAAAAAAAAAAAA/retry"), 404)
    problem(api.get(f"/webhooks/deliveries/{event_id}/retry"), 405)
    assert other_api.get(f"/webhooks/{sub['id']}/deliveries").status_code == 404


def test_events_come_back_in_one_order_from_post_patch_and_get(api: Api) -> None:
    created = subscribe(api, ["refund.created", "payment_intent.created"])
    assert created["events"] == ["payment_intent.created", "refund.created"]
    assert api.get("/webhooks").json()[0]["events"] == created["events"]
    patched = call(api, "PATCH", f"/webhooks/{created['id']}", {"events": ALL[::-1]}).json()
    assert patched["events"] == ALL == api.get("/webhooks").json()[0]["events"]


@pytest.mark.parametrize("odd", ["%00", "a%00b", "%F0%9F%98%80", "%ff", "x" * 3000])
def test_odd_ids_in_the_path_are_404_never_500(api: Api, odd: str) -> None:
    sub = subscribe(api, ["refund.created"])
    for method, path, body in [
        ("DELETE", f"/webhooks/{odd}", None),
        ("PATCH", f"/webhooks/{odd}", {"description": "x"}),
        ("GET", f"/webhooks/{odd}/secrets", None),
        ("POST", f"/webhooks/{odd}/secrets", None),
        ("GET", f"/webhooks/{odd}/deliveries", None),
        ("PUT", f"/webhooks/{sub['id']}/secrets/{odd}/activate", None),
        ("DELETE", f"/webhooks/{sub['id']}/secrets/{odd}", None),
        ("POST", f"/webhooks/deliveries/{odd}/retry", None),
    ]:
        problem(call(api, method, path, body), 404)
    assert api.get("/webhooks").json() == [sub]
