"""The sandbox's hosted checkout (design "sandbox payment"): the HTML card form, its JSON twin
``POST /checkout/{id}/pay`` with its validation and state rules, and the 3DS step's refusals."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.support import CHALLENGE_CARD, SUCCESS_CARD, Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
MISSING_ID = "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["type"].startswith("https://tools.ietf.org/html/rfc")
    assert body["title"] and body["status"] == status
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    return body


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms = 0
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.label_for: set[str] = set()
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms += 1
        elif tag == "input" and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_checkout_page_is_a_labelled_card_form(api: Api) -> None:
    intent_id = api.create_intent(1234, reference="Order 99")["id"]
    response = api.client.get(f"/checkout/{intent_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = FormParser()
    page.feed(response.text)
    assert page.forms == 1
    assert {"cardNumber", "expiryDate", "cvv", "cardName"} <= set(page.inputs)
    for name, attributes in page.inputs.items():
        assert attributes.get("id") in page.label_for, f"input {name} has no label"
    assert "12.34" in response.text and "GBP" in response.text and "Order 99" in response.text


def test_checkout_page_escapes_the_reference(api: Api) -> None:
    intent_id = api.create_intent(reference='<script>alert("x")</script>')["id"]
    response = api.client.get(f"/checkout/{intent_id}")
    assert response.status_code == 200
    assert '<script>alert("x")</script>' not in response.text
    assert "&lt;script&gt;" in response.text


def test_checkout_page_of_unknown_or_canceled_intent_is_404(api: Api) -> None:
    assert_problem(api.client.get(f"/checkout/{MISSING_ID}"), 404)
    intent_id = api.create_intent()["id"]
    assert api.client.delete(f"/payment-intents/{intent_id}", headers=api.headers()).status_code == 200
    assert_problem(api.client.get(f"/checkout/{intent_id}"), 404)
    assert_problem(api.pay(intent_id), 404)


BAD_CARDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing-cvv", {"cardNumber": "5200000000001005", "expiryDate": "12/29"}, "cvv"),
    ("missing-number", {"expiryDate": "12/29", "cvv": "020"}, "cardNumber"),
    ("missing-expiry", {"cardNumber": "5200000000001005", "cvv": "020"}, "expiryDate"),
    ("short-cvv", {**SUCCESS_CARD, "cvv": "02"}, "cvv"),
    ("long-cvv", {**SUCCESS_CARD, "cvv": "02020"}, "cvv"),
    ("short-number", {**SUCCESS_CARD, "cardNumber": "5200"}, "cardNumber"),
    ("number-as-integer", {**SUCCESS_CARD, "cardNumber": 5200000000001005}, "cardNumber"),
    ("unknown-property", {**SUCCESS_CARD, "pin": "1234"}, "pin"),
    ("long-name", {**SUCCESS_CARD, "cardName": "n" * 101}, "cardName"),
]


def test_pay_refuses_bad_card_details(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    before = api.intent(intent_id)
    for name, card, field in BAD_CARDS:
        problem = assert_problem(api.client.post(f"/checkout/{intent_id}/pay", json=card), 400)
        assert field in problem["errors"], (name, problem)
    assert api.intent(intent_id) == before


MALFORMED_PAYMENTS: list[tuple[bytes, str, int]] = [
    (b"", "application/json", 400),
    (b"{", "application/json", 400),
    (
        b'{"cardNumber":"5200000000001005","cardNumber":"x","expiryDate":"12/29","cvv":"020"}',
        "application/json",
        400,
    ),
    (b'{"cardNumber":"5200000000001005","expiryDate":"12/29","cvv":"0\\u00000"}', "application/json", 400),
    (b"cardNumber=5200000000001005&expiryDate=12/29&cvv=020", "application/x-www-form-urlencoded", 415),
    (b"{" + b" " * (64 * 1024) + b"}", "application/json", 413),
]


def test_pay_refuses_malformed_bodies(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    before = api.intent(intent_id)
    for raw, content_type, status in MALFORMED_PAYMENTS:
        headers = {"Content-Type": content_type}
        assert_problem(api.client.post(f"/checkout/{intent_id}/pay", content=raw, headers=headers), status)
    assert api.intent(intent_id) == before


def test_pay_accepts_a_spaced_card_number_and_keeps_the_name(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    card = {**SUCCESS_CARD, "cardNumber": "5200 0000 0000 1005", "cardName": "Ada Lovelace"}
    paid = api.client.post(f"/checkout/{intent_id}/pay", json=card)
    assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
    details = api.intent(intent_id)["paymentDetails"]
    assert details["card"]["cardNumber"] == "520000******1005"
    assert details["card"]["cardName"] == "Ada Lovelace"
    assert "5200000000001005" not in paid.text and "cvv" not in paid.text.lower()


def test_paying_twice_is_409(api: Api) -> None:
    for mode in ("Auto", "Manual"):
        intent_id = api.create_intent(captureMode=mode)["id"]
        assert api.pay(intent_id).status_code == 200
        after_first = api.intent(intent_id)
        assert_problem(api.pay(intent_id), 409)
        assert_problem(api.pay(intent_id, CHALLENGE_CARD), 409)
        assert api.intent(intent_id) == after_first


def test_pay_of_unknown_intent_is_404(api: Api) -> None:
    assert_problem(api.pay(MISSING_ID), 404)
    assert_problem(api.client.post(f"/checkout/{MISSING_ID}/3ds", json={"outcome": "pass"}), 404)


def test_three_d_secure_step_refusals(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    assert_problem(api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "pass"}), 409)
    assert api.pay(intent_id, CHALLENGE_CARD).status_code == 200
    problem = assert_problem(api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "maybe"}), 400)
    assert "outcome" in problem["errors"]
    assert_problem(api.client.post(f"/checkout/{intent_id}/3ds", json={}), 400)
    assert api.intent(intent_id)["status"] == "Created"
    assert api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "pass"}).status_code == 200
    assert api.intent(intent_id)["status"] == "Captured"
