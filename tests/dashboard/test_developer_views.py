"""The sandbox developer views on both stores: the request log, webhook deliveries with a retry
button, and the account's clock and reset controls, all through the sandbox's own services; none
of them offered in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, fields, refunds_of, text_of
from tests.support import Api

EVENTS = ["payment_intent.created", "refund.created"]
RESET = {"confirmation": "Delete everything"}


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
    for path in ("webhooks", "requests", "sandbox"):
        page = browser.get(f"/dashboard/developers/{path}")
        assert page.status_code == 404
        assert "switch to sandbox" in text_of(page.text)
    csrf = browser.csrf()
    for path, form in (("sandbox/advance", {"amount": "1", "unit": "days"}), ("sandbox/reset", RESET)):
        assert browser.post(f"/dashboard/developers/{path}", {"csrf_token": csrf, **form}).status_code == 404


def test_the_request_log_shows_what_the_integration_sent(api: Api, client: TestClient) -> None:
    intent_id = str(api.create_intent(1000, reference="Logged order")["id"])
    assert api.post("/payment-intents", {"amount": 5}).status_code == 400
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    words = text_of(browser.get("/dashboard/developers/requests").text)
    assert "400 POST /payment-intents" in words and "200 POST /payment-intents" in words
    assert "Logged order" in words and intent_id in words
    only_failures = text_of(browser.get("/dashboard/developers/requests", status="400").text)
    assert "400 POST" in only_failures and "200 POST" not in only_failures
    bad = browser.get("/dashboard/developers/requests", status="abc")
    assert bad.status_code == 400 and "Enter an HTTP status from 100 to 599." in text_of(bad.text)
    # Past int()'s 4,300-digit limit, and another script's digits: refused, never a 500.
    for status in ("4" * 5000, "\u0664\u0660\u0660"):
        assert browser.get("/dashboard/developers/requests", status=status).status_code == 400


def test_moving_the_clock_moves_dashboard_refunds_too(api: Api, client: TestClient) -> None:
    intent_id = api.captured_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    assert "Ahead of real time by 0:00:00" in text_of(browser.get("/dashboard/developers/sandbox").text)
    form = {"csrf_token": browser.csrf(), "amount": "2", "unit": "days"}
    moved = browser.post("/dashboard/developers/sandbox/advance", form)
    assert moved.status_code == 303
    page = text_of(browser.get(moved.headers["location"]).text)
    assert "Clock moved: 0 payments expired" in page and "Ahead of real time by 2 days, 0:00:00" in page
    assert browser.refund(intent_id, "1.00").status_code == 303
    [refund] = refunds_of(api, intent_id)
    assert refund["createdAt"] > (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for amount in ("-1", "9" * 5000, "\u0662"):
        bad = {"csrf_token": browser.csrf(), "amount": amount, "unit": "days"}
        assert browser.post("/dashboard/developers/sandbox/advance", bad).status_code == 400
    # The report the redirect carries is read back the same way: a huge figure is left out.
    assert browser.get("/dashboard/developers/sandbox", expired="7" * 5000).status_code == 200


def test_reset_deletes_the_sandbox_after_typed_confirmation(api: Api, client: TestClient) -> None:
    intent_id = api.captured_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    assert browser.refund(intent_id, "1.00").status_code == 303  # a refund with its dashboard log row
    wrong = browser.post(
        "/dashboard/developers/sandbox/reset", {"csrf_token": browser.csrf(), "confirmation": "yes"}
    )
    assert wrong.status_code == 400 and "Nothing was deleted" in text_of(wrong.text)
    assert browser.get(f"/dashboard/payments/{intent_id}").status_code == 200
    done = browser.post("/dashboard/developers/sandbox/reset", {"csrf_token": browser.csrf(), **RESET})
    assert done.status_code == 303
    assert "Sandbox reset:" in text_of(browser.get(done.headers["location"]).text)
    assert browser.get(f"/dashboard/payments/{intent_id}").status_code == 404
    assert "No payments." in text_of(browser.get("/dashboard/payments").text)
