"""Listener subscriptions (extension, what ``webhooks listen`` makes) over HTTP on both stores: a
listener gets its own copy of every event beside the account's subscription for the same events
(Dojo's one-per-event 409 still holds between ordinary subscriptions), sandbox keys only, at most
``MAX_LISTENERS``, renewed by any PATCH, and removed by housekeeping once it expires."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import httpx
from starlette.testclient import TestClient

from payintents.domain import webhooks as rules
from payintents.domain.intent import Environment, Scope
from payintents.service import webhooks
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.http.test_webhook_api import ALL, URL, call, problem, subscribe
from tests.support import Api

LISTENER_URL = "http://127.0.0.1:9/webhooks"


def listen(api: Api, events: list[str] | None = None) -> dict[str, object]:
    return subscribe(api, events or ALL, LISTENER_URL, listener=True)


def delivered_events(api: Api, subscription_id: object) -> list[str]:
    response = api.get(f"/webhooks/{subscription_id}/deliveries")
    assert response.status_code == 200, response.text
    return sorted(d["eventId"] for d in response.json()["data"])


def test_a_listener_beside_the_apps_subscription_gets_its_own_copy_of_every_event(api: Api) -> None:
    app = subscribe(api, ALL)
    listener = listen(api)
    assert listener["listener"] is True and listener["events"] == ALL
    assert "listener" not in app and "expiresAt" not in app  # Dojo's shape for ordinary ones
    api.captured_intent(1000)
    app_events, listener_events = delivered_events(api, app["id"]), delivered_events(api, listener["id"])
    assert len(app_events) == 2 and app_events == listener_events  # created + status_updated
    assert {s["id"] for s in api.get("/webhooks").json()} == {app["id"], listener["id"]}


def test_an_app_may_subscribe_while_a_listener_runs_and_the_rule_still_holds_between_apps(api: Api) -> None:
    listen(api, ["payment_intent.created"])
    listen(api, ["payment_intent.created"])  # two terminals listening at once
    app = subscribe(api, ["payment_intent.created"])
    problem(api.post("/webhooks", {"events": ["payment_intent.created"], "url": URL}), 409)
    other = subscribe(api, ["refund.created"])
    problem(call(api, "PATCH", f"/webhooks/{other['id']}", {"events": ["payment_intent.created"]}), 409)
    assert app["events"] == ["payment_intent.created"]


def test_a_listener_may_change_its_events_freely_and_each_change_renews_it(api: Api) -> None:
    subscribe(api, ALL)
    listener = listen(api, ["refund.created"])
    changed = call(api, "PATCH", f"/webhooks/{listener['id']}", {"events": ALL})
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ALL and changed.json()["listener"] is True
    assert changed.json()["expiresAt"] >= str(listener["expiresAt"])


def test_listeners_are_for_sandbox_keys_and_bounded_per_account(
    client: TestClient, deps: Dependencies
) -> None:
    account = create_account(deps, "listening")
    prod = Api(client, account.prod_key)
    refused = api_post_listener(prod, "https://hooks.example.com/dojo")
    assert "listener" in problem(refused, 400)["errors"]
    assert prod.get("/webhooks").json() == []
    sandbox = Api(client, account.sandbox_key)
    for _ in range(rules.MAX_LISTENERS):
        listen(sandbox)
    assert "at most" in problem(api_post_listener(sandbox, LISTENER_URL), 409)["detail"]
    assert len(sandbox.get("/webhooks").json()) == rules.MAX_LISTENERS


def api_post_listener(api: Api, url: str) -> httpx.Response:
    return api.post("/webhooks", {"events": ALL, "url": url, "listener": True})


def test_a_listener_flag_that_is_not_a_boolean_is_400(api: Api) -> None:
    body = {"events": ALL, "url": LISTENER_URL, "listener": "yes"}
    assert "listener" in problem(api.post("/webhooks", body), 400)["errors"]
    assert api.get("/webhooks").json() == []


@dataclasses.dataclass
class ClockAhead:
    """The real clock moved ``ahead`` into the future (what housekeeping sees later on)."""

    inner: object
    ahead: timedelta

    def now(self) -> datetime:
        return self.inner.now() + self.ahead  # type: ignore[attr-defined,no-any-return]


def test_housekeeping_removes_only_listeners_nobody_renewed_in_time(deps: Dependencies) -> None:
    account = create_account(deps, "housekeeping")
    scope = Scope(account.account_id, Environment.SANDBOX)
    app = webhooks.subscribe(deps, scope, ALL, URL, None)
    stale = webhooks.subscribe(deps, scope, ALL, LISTENER_URL, None, listener=True)
    fresh = webhooks.subscribe(deps, scope, ALL, LISTENER_URL, None, listener=True)
    assert webhooks.remove_expired_listeners(deps) == 0
    later = dataclasses.replace(deps, clock=ClockAhead(deps.clock, rules.LISTENER_TTL - timedelta(minutes=5)))
    webhooks.update_subscription(later, scope, fresh.id, None, None, "renewed")
    past_expiry = dataclasses.replace(
        deps, clock=ClockAhead(deps.clock, rules.LISTENER_TTL + timedelta(minutes=1))
    )
    assert webhooks.remove_expired_listeners(past_expiry) == 1
    remaining = {s.id for s in webhooks.list_subscriptions(deps, scope)}
    assert remaining == {app.id, fresh.id} and stale.id not in remaining
