"""Dojo's Pay at Counter walk-through end to end (docs/terminals.md): an EPOS drives a real
``payintents serve`` (2 workers) on SQLite and on PostgreSQL, one server per database for the
module, and plays the customer through the sandbox's card driver.

List terminals; a sale polled to Captured; a matched refund (held at creation, confirmed at the
card, in the intent's refunds); an unlinked refund; cancel before the card and 422 after; a
signature accepted and one rejected; a session expiring when the sandbox clock passes expireAt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.e2e.webhook_receiver import WebhookReceiver, running_receiver, subscribe
from tests.support import Api, RunningServer, backend_database_url, cli, running_server

pytestmark = pytest.mark.e2e

EPOS = {"software-house-id": "softwareHouse1", "reseller-id": "reseller1"}
POLL_S = 10.0


class Epos:
    """An EPOS speaking Dojo's terminal API with one key (and the sandbox's card driver)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def call(self, method: str, path: str, body: Any = None, **extra: str) -> httpx.Response:
        headers = {**self.api.headers(), **EPOS, **extra}
        return self.api.client.request(method, path, json=body, headers=headers)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start(self, terminal_id: str, details: dict[str, Any]) -> httpx.Response:
        return self.call("POST", "/terminal-sessions", {"terminalId": terminal_id, "details": details})

    def card(self, session_id: str, outcome: str, **extra: str) -> dict[str, Any]:
        body = {"outcome": outcome, **extra}
        return self.ok("POST", f"/sandbox/terminal-sessions/{session_id}/present-card", body)

    def poll(self, session_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + POLL_S
        while True:
            session = self.ok("GET", f"/terminal-sessions/{session_id}")
            if session["status"] == status or time.monotonic() > deadline:
                assert session["status"] == status, session
                return session
            time.sleep(0.05)


def _sale(intent_id: str) -> dict[str, Any]:
    return {"sessionType": "Sale", "sale": {"paymentIntentId": intent_id}}


def _matched(intent_id: str, value: int, currency: str = "GBP") -> dict[str, Any]:
    amount = {"value": value, "currencyCode": currency}
    return {"sessionType": "MatchedRefund", "matchedRefund": {"paymentIntentId": intent_id, "amount": amount}}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("terminals")
    with (
        backend_database_url(request.param, folder) as url,
        running_server(url, folder, workers=2) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def account(server: RunningServer) -> dict[str, str]:
    """One account for the module (creating one runs the CLI, ~1 s): every test ends its sessions."""
    return server.new_account()


@pytest.fixture
def epos(server: RunningServer, account: dict[str, str]) -> Iterator[Epos]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield Epos(Api(client, account["sandboxKey"]))


def _terminal(epos: Epos) -> str:
    listed = epos.call("GET", "/terminals?statuses=Available")
    assert listed.status_code == 200, listed.text
    return str(listed.json()[0]["id"])


def test_terminals_listed_and_headers_required(
    epos: Epos, server: RunningServer, account: dict[str, str]
) -> None:
    response = epos.call("GET", "/terminals")
    assert response.status_code == 200, response.text
    terminals = response.json()
    assert len(terminals) == 2
    for terminal in terminals:
        assert terminal["id"].startswith("tm_sandbox_") and len(terminal["id"]) == len("tm_sandbox_") + 24
        assert terminal["status"] == "Available" and len(terminal["properties"]["tid"]) == 8
    one = epos.ok("GET", f"/terminals/{terminals[0]['id']}")
    assert one["id"] == terminals[0]["id"]
    missing = epos.api.client.get("/terminals", headers=epos.api.headers())
    assert missing.status_code == 400
    assert set(missing.json()) == {"type", "title", "status", "detail", "traceId", "errors"}
    assert "software-house-id" in missing.json()["errors"]
    assert epos.call("GET", "/terminals?statuses=InUse").json() == []
    prod = account["prodKey"]
    prod_list = epos.api.client.get("/terminals", headers={**Api(epos.api.client, prod).headers(), **EPOS})
    assert prod_list.status_code == 200 and prod_list.json() == []


def test_sale_then_matched_and_unlinked_refunds(epos: Epos) -> None:
    terminal = _terminal(epos)
    intent_id = str(epos.api.create_intent(1000)["id"])
    started = epos.start(terminal, _sale(intent_id))
    assert started.status_code == 200, started.text
    session = started.json()
    assert session["id"].startswith("ts_sandbox_") and session["status"] == "InitiateRequested"
    assert epos.ok("GET", f"/terminals/{terminal}")["status"] == "InUse"
    busy = epos.start(terminal, _sale(intent_id))
    assert busy.status_code == 400, busy.text
    epos.poll(session["id"], "Initiated")
    epos.card(session["id"], "Approved")
    done = epos.poll(session["id"], "Captured")
    assert done["paymentDetails"]["card"]["cardNumber"].endswith("1005")
    assert [n["notificationType"] for n in done["notificationEvents"]] == ["PresentCard", "Approved"]
    intent = epos.api.intent(intent_id)
    assert intent["status"] == "Captured"
    assert [s["terminalSession"]["id"] for s in intent["terminalSessionHistory"]] == [session["id"]]
    assert intent["terminalSessionHistory"][0]["payment"]["cardNumber"].endswith("1005")
    assert epos.ok("GET", f"/terminals/{terminal}")["status"] == "Available"

    refund = epos.start(terminal, _matched(intent_id, 400)).json()
    # Held at once: an API refund of the rest plus one minor unit is refused while it waits.
    assert epos.api.refund(intent_id, 601).status_code == 400
    assert epos.api.intent(intent_id)["refundedAmount"] == 0
    epos.card(refund["id"], "Approved", cardNumber="5200000000001005")
    epos.poll(refund["id"], "Captured")
    intent = epos.api.intent(intent_id)
    assert intent["refundedAmount"] == 400 and intent["status"] == "Captured"
    listed = epos.api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    assert [r["amount"] for r in listed] == [400]
    assert epos.start(terminal, _matched(intent_id, 601)).status_code == 400
    assert epos.start(terminal, _matched(intent_id, 100, "EUR")).status_code == 400

    unlinked = {
        "sessionType": "UnlinkedRefund",
        "unlinkedRefund": {"amount": {"value": 5000, "currencyCode": "GBP"}},
    }
    loose = epos.start(terminal, unlinked).json()
    epos.card(loose["id"], "Approved")
    assert epos.poll(loose["id"], "Captured")["details"]["unlinkedRefund"]["amount"]["value"] == 5000


def test_declined_refund_gives_its_hold_back(epos: Epos, server: RunningServer) -> None:
    terminal = _terminal(epos)
    intent_id = epos.api.captured_intent(1000)
    refund = epos.start(terminal, _matched(intent_id, 1000)).json()
    assert epos.api.refund(intent_id, 1).status_code == 400
    # The audit counts the session's hold as reserved (it exits non-zero on any finding).
    cli(server.database_url, "audit")
    epos.card(refund["id"], "Declined")
    epos.poll(refund["id"], "Declined")
    assert epos.api.refund(intent_id, 1000).status_code == 200
    assert epos.api.intent(intent_id)["status"] == "Refunded"


def test_cancel_before_the_card_and_422_after(epos: Epos) -> None:
    terminal = _terminal(epos)
    intent_id = str(epos.api.create_intent(700)["id"])
    session = epos.start(terminal, _sale(intent_id)).json()
    canceled = epos.ok("PUT", f"/terminal-sessions/{session['id']}/cancel")
    assert canceled["status"] == "CancelRequested"
    epos.poll(session["id"], "Canceled")
    assert epos.api.intent(intent_id)["status"] == "Created"
    again = epos.start(terminal, _sale(intent_id)).json()
    epos.card(again["id"], "Approved")
    late = epos.call("PUT", f"/terminal-sessions/{again['id']}/cancel")
    assert late.status_code == 422, late.text
    assert set(late.json()) == {"type", "title", "status", "detail", "traceId", "errors"}


def test_signature_accepted_and_rejected(epos: Epos) -> None:
    terminal = _terminal(epos)
    accepted_intent = str(epos.api.create_intent(900)["id"])
    session = epos.start(terminal, _sale(accepted_intent)).json()
    assert (
        epos.call("PUT", f"/terminal-sessions/{session['id']}/signature", {"accepted": True}).status_code
        == 422
    )
    epos.card(session["id"], "SignatureRequired")
    epos.poll(session["id"], "SignatureVerificationRequired")
    answered = epos.ok("PUT", f"/terminal-sessions/{session['id']}/signature", {"accepted": True})
    assert answered["status"] == "Captured"
    assert "SignatureVerificationAccepted" in [e["status"] for e in answered["statusEvents"]]
    assert epos.api.intent(accepted_intent)["status"] == "Captured"

    rejected_intent = str(epos.api.create_intent(900)["id"])
    rejected = epos.start(terminal, _sale(rejected_intent)).json()
    epos.card(rejected["id"], "SignatureRequired")
    answer = epos.ok("PUT", f"/terminal-sessions/{rejected['id']}/signature", {"accepted": False})
    assert answer["status"] == "SignatureVerificationRejected"
    assert epos.api.intent(rejected_intent)["status"] == "Created"


def test_signature_accepted_by_itself_after_80_seconds_of_sandbox_clock(epos: Epos) -> None:
    terminal = _terminal(epos)
    intent_id = str(epos.api.create_intent(800)["id"])
    session = epos.start(terminal, _sale(intent_id)).json()
    epos.card(session["id"], "SignatureRequired")
    assert epos.api.post("/sandbox/clock/advance", {"seconds": 81}).status_code == 200
    assert (
        epos.poll(session["id"], "Captured")["statusEvents"][-2]["status"] == "SignatureVerificationAccepted"
    )


def test_expiry_follows_the_sandbox_clock(epos: Epos) -> None:
    terminal = _terminal(epos)
    intent_id = epos.api.captured_intent(1000)
    # Without an amount, a matched refund is for all that is left.
    whole = {"sessionType": "MatchedRefund", "matchedRefund": {"paymentIntentId": intent_id}}
    session = epos.start(terminal, whole).json()
    assert session["details"]["matchedRefund"]["amount"] == {"value": 1000, "currencyCode": "GBP"}
    assert epos.api.post("/sandbox/clock/advance", {"seconds": 301}).status_code == 200
    expired = epos.poll(session["id"], "Expired")
    assert expired["notificationEvents"][-1]["notificationType"] == "Expired"
    assert epos.ok("GET", f"/terminals/{terminal}")["status"] == "Available"
    # The hold went with it: the whole amount can be refunded again.
    assert epos.api.refund(intent_id, 1000).status_code == 200


def test_auto_pilot_and_offline(epos: Epos) -> None:
    terminal = _terminal(epos)
    auto = epos.ok("POST", f"/sandbox/terminals/{terminal}", {"autoOutcome": "Approved", "delayMs": 0})
    assert auto["status"] == "Available"
    intent_id = str(epos.api.create_intent(300)["id"])
    session = epos.start(terminal, _sale(intent_id)).json()
    epos.poll(session["id"], "Captured")
    epos.ok("POST", f"/sandbox/terminals/{terminal}", {"offline": True})
    assert epos.ok("GET", f"/terminals/{terminal}")["status"] == "Offline"
    refused = epos.start(terminal, _sale(str(epos.api.create_intent(300)["id"])))
    # Back as the other tests of the module's account expect it: online, no auto-pilot.
    settings = epos.ok("POST", f"/sandbox/terminals/{terminal}", {"offline": False, "autoOutcome": "Off"})
    assert settings["autoOutcome"] is None and settings["status"] == "Available"
    assert refused.status_code == 400, refused.text


def test_a_terminal_sale_and_refund_send_the_intents_webhooks(epos: Epos) -> None:
    with running_receiver() as receiver:
        subscribe(epos.api, receiver.url, ["payment_intent.status_updated", "refund.created"])
        terminal = _terminal(epos)
        intent_id = str(epos.api.create_intent(600)["id"])
        sale = epos.start(terminal, _sale(intent_id)).json()
        epos.card(sale["id"], "Approved")
        refund = epos.start(terminal, _matched(intent_id, 600)).json()
        epos.card(refund["id"], "Approved")
        deadline = time.monotonic() + POLL_S
        while time.monotonic() < deadline and len(_events_of(receiver, intent_id)) < 3:
            time.sleep(0.05)
        # Delivery order is not guaranteed (docs/webhooks.md): compare as sets.
        assert sorted(_events_of(receiver, intent_id), key=str) == sorted(
            [
                ("payment_intent.status_updated", "Captured"),
                ("refund.created", None),
                ("payment_intent.status_updated", "Refunded"),
            ],
            key=str,
        )


def _events_of(receiver: WebhookReceiver, intent_id: str) -> list[tuple[str, str | None]]:
    bodies = [json.loads(received.body) for received in receiver.delivered()]
    return [
        (body["event"], body["data"].get("paymentStatus"))
        for body in bodies
        if body["data"].get("paymentIntentId") == intent_id
    ]
