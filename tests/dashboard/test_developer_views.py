"""The sandbox developer view on both stores: the account's webhook deliveries with their status
and a retry button that goes through the webhook service; not offered in production."""

from __future__ import annotations

from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, fields, text_of
from tests.support import Api

EVENTS = ["payment_intent.created", "refund.created"]


def subscribe(api: Api) -> None:
    assert api.post("/webhooks", {"events": EVENTS, "url": "http://127.0.0.1:9/hook"}).status_code == 200


def test_deliveries_are_listed_newest_first_with_status(api: Api, other_api: Api, client: TestClient) -> None:
    subscribe(api)
    subscribe(other_api)
    intent_id = api.captured_intent(1000)
    api.refund(intent_id, 100)
    other_api.create_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    page = browser.get("/dashboard/developers/webhooks")
    assert page.status_code == 200
    words = text_of(page.text)
    assert words.index("refund.created") < words.index("payment_intent.created")
    assert words.count("pending") == 2 and words.count(intent_id) == 2
    assert page.text.count(">Retry</button>") == 2


def test_retry_reschedules_the_event(api: Api, client: TestClient, deps: Dependencies) -> None:
    subscribe(api)
    api.create_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    page = browser.get("/dashboard/developers/webhooks")
    event_id = fields(page.text)["event_id"]
    answer = browser.post(
        "/dashboard/developers/webhooks/retry", {"csrf_token": browser.csrf(), "event_id": event_id}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dashboard/developers/webhooks?retried={event_id}"
    assert f"Delivery of {event_id} scheduled again." in text_of(browser.get(answer.headers["location"]).text)


def test_retry_of_an_unknown_or_foreign_event_is_not_found(
    api: Api, other_api: Api, client: TestClient
) -> None:
    subscribe(other_api)
    other_api.create_intent(1000)
    theirs = Dashboard(client)
    theirs.sign_in_with_key(other_api.key)
    their_event = fields(theirs.get("/dashboard/developers/webhooks").text)["event_id"]
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    for event_id in (their_event, "evt_sandbox_unknown", "<script>"):
        answer = browser.post(
            "/dashboard/developers/webhooks/retry", {"csrf_token": browser.csrf(), "event_id": event_id}
        )
        assert answer.status_code == 404
    # The notice names only an event id; anything else in the link is ignored, never echoed.
    page = browser.get("/dashboard/developers/webhooks", retried="<b>x</b>")
    assert "scheduled again" not in page.text and "<b>x</b>" not in page.text


def test_developer_views_are_for_the_sandbox_only(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    browser = Dashboard(client)
    browser.sign_in_with_key(account.prod_key)
    assert "Webhooks" not in text_of(browser.get("/dashboard/payments").text)
    page = browser.get("/dashboard/developers/webhooks")
    assert page.status_code == 404
    assert "switch to sandbox" in text_of(page.text)
