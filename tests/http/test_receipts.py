"""Receipts (docs/api.md "Receipts"), on SQLite and PostgreSQL: ``POST …/receipt`` answers 204
and, for sandbox keys, records the receipt in the outbox (``GET /sandbox/receipts``) instead of
mailing it; production keys mail it through the configured SMTP server (a real receiver on
loopback here) and are refused without one. Bad input and other accounts' intents change
nothing. Also Dojo's EPOS endpoints: 404 saying they are not served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from payintents.adapters.smtp_mailer import SmtpSettings
from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.http.test_intent_validation import assert_problem, assert_validation_problem
from tests.smtp_receiver import SmtpReceiver, smtp_receiver
from tests.support import Api

EMAILS = {"emails": ["ada@example.com", "bob@example.org"]}


def receipts(api: Api, intent_id: str | None = None) -> list[dict[str, Any]]:
    path = "/sandbox/receipts" + (f"?paymentIntentId={intent_id}" if intent_id else "")
    response = api.get(path)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_a_sandbox_receipt_is_recorded_not_mailed(api: Api) -> None:
    intent_id = api.captured_intent(1234, description="Two flat whites")
    sent = api.post(f"/payment-intents/{intent_id}/receipt", EMAILS)
    assert (sent.status_code, sent.content) == (204, b"")
    [receipt] = receipts(api)
    assert receipt["paymentIntentId"] == intent_id
    assert receipt["recipients"] == EMAILS["emails"]
    assert receipt["id"].startswith("rcpt_sandbox_")
    assert receipt["subject"] == "Your receipt for Order 234"
    for shown in ("12.34 GBP", "Two flat whites", "520000******1005", "Captured", intent_id):
        assert shown in receipt["text"] and shown in receipt["html"], shown
    # A second receipt after a refund shows it; the outbox lists newest first, per intent too.
    assert api.refund(intent_id, 234).status_code == 200
    again = api.post(f"/payment-intents/{intent_id}/receipt", {"emails": ["ada@example.com"]})
    assert again.status_code == 204
    other_id = api.captured_intent(500)
    assert api.post(f"/payment-intents/{other_id}/receipt", EMAILS).status_code == 204
    newest = receipts(api, intent_id)[0]
    assert "Refunded: 2.34 GBP" in newest["text"] and newest["recipients"] == ["ada@example.com"]
    assert [r["paymentIntentId"] for r in receipts(api)] == [other_id, intent_id, intent_id]


def test_a_sandbox_reset_empties_the_outbox(api: Api, other_api: Api) -> None:
    for key in (api, other_api):
        paid = key.captured_intent(100)
        assert key.post(f"/payment-intents/{paid}/receipt", EMAILS).status_code == 204
    assert api.post("/sandbox/reset").status_code == 200
    assert receipts(api) == []
    assert len(receipts(other_api)) == 1  # another account's outbox is not touched


def test_html_in_the_intent_is_escaped_in_the_receipt(api: Api) -> None:
    intent_id = api.captured_intent(100, description="<script>alert(1)</script>")
    assert api.post(f"/payment-intents/{intent_id}/receipt", EMAILS).status_code == 204
    html = receipts(api)[0]["html"]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_refused_receipts_record_nothing(api: Api, other_api: Api) -> None:
    paid = api.captured_intent(100)
    unpaid = str(api.create_intent(100)["id"])
    cases = {
        "no emails": (paid, {"emails": []}, 400, "emails"),
        "not an address": (paid, {"emails": ["ada@example.com", "not-an-address"]}, 400, "emails[1]"),
        "eleven": (paid, {"emails": [f"a{i}@example.com" for i in range(11)]}, 400, "emails"),
        "missing body field": (paid, {}, 400, "emails"),
        "unknown field": (paid, {**EMAILS, "cc": ["x@example.com"]}, 400, "cc"),
        "string not list": (paid, {"emails": "ada@example.com"}, 400, "emails"),
        "unpaid": (unpaid, EMAILS, 400, None),
        "unknown intent": ("pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA", EMAILS, 404, None),
    }
    for name, (intent_id, body, status, field) in cases.items():
        response = api.post(f"/payment-intents/{intent_id}/receipt", body)
        problem = assert_validation_problem(response, field) if field else assert_problem(response, status)
        assert problem["status"] == status, name
    assert "never paid" in api.post(f"/payment-intents/{unpaid}/receipt", EMAILS).json()["detail"]
    foreign = other_api.post(f"/payment-intents/{paid}/receipt", EMAILS)
    assert_problem(foreign, 404)
    assert receipts(api) == [] and receipts(other_api) == []


@pytest.fixture
def production(database_url: str) -> Iterator[tuple[Api, Api, SmtpReceiver]]:
    """A server whose production keys mail receipts to a real SMTP receiver on loopback."""
    with smtp_receiver() as receiver:
        smtp = SmtpSettings("127.0.0.1", receiver.port, False, "shop@example.com")
        engine = make_engine(database_url, pool_size=2)
        settings = Settings(database_url=database_url, production_checkout=True, smtp=smtp)
        deps = build_dependencies(settings, engine=engine)
        account = create_account(deps, "live")
        with TestClient(build_app(deps)) as client:
            yield Api(client, account.prod_key), Api(client, account.sandbox_key), receiver
        engine.dispose()


def test_production_receipts_are_mailed_through_smtp(production: tuple[Api, Api, SmtpReceiver]) -> None:
    prod, sandbox, receiver = production
    intent_id = prod.captured_intent(2500)
    sent = prod.post(f"/payment-intents/{intent_id}/receipt", EMAILS)
    assert sent.status_code == 204, sent.text
    [mail] = receiver.mail
    assert mail.recipients == EMAILS["emails"] and mail.sender == "shop@example.com"
    assert mail.message["Subject"] == "Your receipt for Order 234"
    # Production has no outbox: nothing recorded, and its listing is not there for production keys.
    assert_problem(prod.get("/sandbox/receipts"), 404)
    assert receipts(sandbox) == []
    sandbox_paid = sandbox.captured_intent(100)
    assert sandbox.post(f"/payment-intents/{sandbox_paid}/receipt", EMAILS).status_code == 204
    assert len(receiver.mail) == 1  # sandbox keys never send mail, even with SMTP configured


def test_production_receipts_are_refused_without_smtp(client: TestClient, deps: Any) -> None:
    prod = Api(client, create_account(deps, "live").prod_key)
    intent_id = str(prod.create_intent(100)["id"])
    refused = prod.post(f"/payment-intents/{intent_id}/receipt", EMAILS)
    problem = assert_problem(refused, 400)
    assert "PAYINTENTS_SMTP_URL" in problem["detail"]


def test_epos_endpoints_answer_404_naming_them_as_not_served(api: Api) -> None:
    paths = [
        ("POST", "/epos/events"),
        ("GET", "/epos/integrations"),
        ("PUT", "/epos/integrations/rest"),
        ("GET", "/epos/integrations/ws"),
        ("GET", "/epos/integrations/dojo"),
        ("DELETE", "/epos"),
    ]
    for method, path in paths:
        response = api.client.request(method, path, headers=api.headers())
        problem = assert_problem(response, 404)
        assert "EPOS" in problem["detail"] and "not served" in problem["detail"], path
