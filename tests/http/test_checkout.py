"""The sandbox's hosted checkout (docs/sandbox.md, docs/api.md), in-process: the shopper's pages and
their forms (card form, 3-D Secure page, paid page, HTML "not found"), their security headers, the
JSON twin ``POST /checkout/{id}/pay`` with its validation, state rules and payer-only answer, the
3DS step's refusals and the cap on card attempts. The same pages in a real browser:
tests/e2e/test_checkout_browser.py."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from payintents.adapters.sandbox_processor import SandboxProcessor
from payintents.domain.lifecycle import MAX_CARD_ATTEMPTS
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.support import CHALLENGE_CARD, DECLINED_CARD, SUCCESS_CARD, Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
MISSING_ID = "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA"
FORM = {"cardNumber": "5200 0000 0000 1005", "expiryDate": "12/29", "cvv": "020"}
PAYER_FIELDS = {"id", "status", "amount", "totalAmount", "reference", "description", "lastPaymentEvent"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["type"].startswith("https://tools.ietf.org/html/rfc")
    assert body["title"] and body["status"] == status
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    return body


def assert_secured(response: httpx.Response) -> None:
    """The dashboard's page headers: strict CSP, no framing, no sniffing, no caching."""
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def assert_page(response: httpx.Response, status: int, *texts: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert_secured(response)
    text = " ".join(response.text.split())
    for expected in texts:
        assert expected in text, (expected, text)
    return text


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.label_for: set[str] = set()
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(attributes)
        elif tag == "input" and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        self._in_script = tag == "script" and "src" not in attributes

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def parsed(response: httpx.Response) -> FormParser:
    page = FormParser()
    page.feed(response.text)
    return page


def post_form(api: Api, path: str, form: dict[str, str]) -> httpx.Response:
    return api.client.post(path, data=form, follow_redirects=False)


# the card form ----------------------------------------------------------------------------------


def test_checkout_page_is_a_labelled_card_form_that_posts(api: Api) -> None:
    intent_id = api.create_intent(4999, reference="Order 99", description="Two mugs")["id"]
    response = api.client.get(f"/checkout/{intent_id}")
    assert_page(response, 200, "£49.99", "Order 99", "Two mugs", "Sandbox", "5200 0000 0000 1096")
    page = parsed(response)
    assert page.forms == [
        {"method": "post", "action": f"/checkout/{intent_id}", "class": "panel card-form", "id": "card-form"}
    ]
    assert page.inline_scripts == []  # script comes from /checkout/static only (the CSP)
    assert {"cardNumber", "expiryDate", "cvv", "cardName"} == set(page.inputs)
    for name, attributes in page.inputs.items():
        assert attributes.get("id") in page.label_for, f"input {name} has no label"
    assert {name: page.inputs[name]["autocomplete"] for name in page.inputs} == {
        "cardNumber": "cc-number",
        "expiryDate": "cc-exp",
        "cvv": "cc-csc",
        "cardName": "cc-name",
    }
    assert page.inputs["cardNumber"]["inputmode"] == page.inputs["cvv"]["inputmode"] == "numeric"
    script = api.client.get("/checkout/static/checkout.js")
    assert script.status_code == 200 and "use-card" in script.text


def test_checkout_page_shows_item_lines_euros_title_and_cancel_link(api: Api) -> None:
    lines = [
        {"name": "Tea", "quantity": 2, "amountTotal": {"value": 700, "currencyCode": "EUR"}},
        {"name": "Cake", "quantity": 1, "amountTotal": {"value": 500, "currencyCode": "EUR"}},
    ]
    config = {"title": "Café Nord", "cancelUrl": "https://shop.example/basket"}
    body = {"amount": {"value": 1200, "currencyCode": "EUR"}, "itemLines": lines, "config": config}
    intent_id = api.post("/payment-intents", {**body, "reference": "Table 4"}).json()["id"]
    page = assert_page(api.client.get(f"/checkout/{intent_id}"), 200, "€12.00", "€7.00", "€5.00", "Café Nord")
    assert '<td>Tea</td><td class="num">2</td>' in page
    assert '<a href="https://shop.example/basket">Cancel</a>' in page


def test_checkout_page_escapes_the_reference(api: Api) -> None:
    intent_id = api.create_intent(reference='<script>alert("x")</script>')["id"]
    response = api.client.get(f"/checkout/{intent_id}")
    assert response.status_code == 200
    assert '<script>alert("x")</script>' not in response.text
    assert "&lt;script&gt;" in response.text


def test_unknown_canceled_or_expired_payments_get_an_html_not_found_page(api: Api) -> None:
    missing = assert_page(api.client.get(f"/checkout/{MISSING_ID}"), 404, "Payment not found")
    canceled = api.create_intent()["id"]
    assert api.client.delete(f"/payment-intents/{canceled}", headers=api.headers()).status_code == 200
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiring = api.create_intent(expireAt=in_an_hour)["id"]
    assert api.post("/sandbox/clock/advance", {"seconds": 7200}).status_code == 200
    for intent_id in (canceled, expiring, "pi_%00x"):
        assert assert_page(api.client.get(f"/checkout/{intent_id}"), 404) == missing
        assert assert_page(post_form(api, f"/checkout/{intent_id}", FORM), 404) == missing
    assert_problem(api.pay(canceled), 404)  # the JSON twin keeps Dojo's error body


def test_a_paid_payment_shows_the_paid_page_not_the_form(api: Api) -> None:
    intent_id = api.captured_intent(1999, reference="Order 5")
    response = api.client.get(f"/checkout/{intent_id}")
    assert_page(response, 200, "Payment received", "£19.99 for Order 5.")
    assert parsed(response).forms == []


# paying with the form -----------------------------------------------------------------------------


def test_the_success_card_pays_and_lands_on_the_paid_page(api: Api) -> None:
    intent_id = api.create_intent(1000)["id"]
    paid = post_form(api, f"/checkout/{intent_id}", {**FORM, "cardName": "Ada Lovelace"})
    assert paid.status_code == 303 and paid.headers["location"] == f"/checkout/{intent_id}"
    assert_secured(paid)
    intent = api.intent(intent_id)
    assert intent["status"] == "Captured"
    assert intent["paymentDetails"]["card"]["cardName"] == "Ada Lovelace"
    assert_page(api.client.get(paid.headers["location"]), 200, "Payment received")
    # Pay pressed again (or the form resent): the same answer, nothing new happens.
    again = post_form(api, f"/checkout/{intent_id}", FORM)
    assert (again.status_code, again.headers["location"]) == (303, f"/checkout/{intent_id}")
    assert api.intent(intent_id) == intent


def test_after_paying_the_browser_goes_to_the_redirect_url(api: Api) -> None:
    config = {"redirectUrl": "https://shop.example:8443/thanks?order=7"}
    intent_id = api.create_intent(1000, config=config, captureMode="Manual")["id"]
    form_page = api.client.get(f"/checkout/{intent_id}")
    # A browser applies form-action to the redirect that answers the form: the shop's origin too.
    assert "form-action 'self' https://shop.example:8443;" in form_page.headers["content-security-policy"]
    paid = post_form(api, f"/checkout/{intent_id}", FORM)
    assert paid.status_code == 303 and paid.headers["location"] == config["redirectUrl"]
    assert api.intent(intent_id)["status"] == "Authorized"
    paid_page = assert_page(api.client.get(f"/checkout/{intent_id}"), 200, "Payment authorised")
    assert f'<a href="{config["redirectUrl"]}">Return to the shop</a>' in paid_page


def test_three_d_secure_has_its_own_page_whose_buttons_pass_or_fail_it(api: Api) -> None:
    for outcome, status in (("pass", "Captured"), ("fail", "Created")):
        intent_id = api.create_intent(1000)["id"]
        challenged = post_form(api, f"/checkout/{intent_id}", {**FORM, "cardNumber": "5200000000001096"})
        assert challenged.status_code == 303
        assert challenged.headers["location"] == f"/checkout/{intent_id}/challenge"
        page = api.client.get(challenged.headers["location"])
        assert_page(page, 200, "3-D Secure", "card ending 1096", ">Authenticate</button>", ">Fail</button>")
        assert parsed(page).forms[0]["action"] == f"/checkout/{intent_id}/challenge"
        answered = post_form(api, f"/checkout/{intent_id}/challenge", {"outcome": outcome})
        assert api.intent(intent_id)["status"] == status
        if outcome == "pass":
            assert (answered.status_code, answered.headers["location"]) == (303, f"/checkout/{intent_id}")
        else:
            assert_page(answered, 200, "Your card was declined: Authentication failed. Try another card.")
            assert parsed(answered).forms[0]["action"] == f"/checkout/{intent_id}"
        # No challenge waits any more: its page sends the shopper back to the payment.
        gone = api.client.get(f"/checkout/{intent_id}/challenge", follow_redirects=False)
        assert (gone.status_code, gone.headers["location"]) == (303, f"/checkout/{intent_id}")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4456 5300 0000 1013", "Your card was declined. Try another card."),
        ("4111110000000051", "Your card was declined: Insufficient funds. Try another card."),
    ],
)
def test_a_declined_card_shows_why_and_the_form_again(api: Api, number: str, message: str) -> None:
    intent_id = api.create_intent(1000)["id"]
    declined = post_form(api, f"/checkout/{intent_id}", {**FORM, "cardNumber": number})
    assert_page(declined, 200, message)
    assert parsed(declined).inputs["cardNumber"].get("value") is None  # never echoed back
    assert api.intent(intent_id)["status"] == "Created"
    assert post_form(api, f"/checkout/{intent_id}", FORM).status_code == 303  # another card pays


@pytest.fixture
def quick_timeouts(deps: Dependencies) -> Iterator[Api]:
    quick = dataclasses.replace(deps, processor=SandboxProcessor(timeout_s=0.05))
    with TestClient(build_app(quick), base_url="http://testserver") as client:
        yield Api(client, create_account(deps, "timeouts").sandbox_key)


@pytest.mark.parametrize(("number", "status"), [("4111110000000119", 502), ("4111110000000127", 504)])
def test_processor_error_and_timeout_cards_say_try_again(
    quick_timeouts: Api, number: str, status: int
) -> None:
    api = quick_timeouts
    intent_id = api.create_intent(1000)["id"]
    before = api.intent(intent_id)
    failed = post_form(api, f"/checkout/{intent_id}", {**FORM, "cardNumber": number})
    assert_page(failed, status, "nothing was charged. Try again.")
    assert parsed(failed).forms[0]["action"] == f"/checkout/{intent_id}"
    assert api.intent(intent_id) == before


def test_bad_card_forms_show_what_to_fix_and_change_nothing(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    before = api.intent(intent_id)
    missing_cvv = post_form(api, f"/checkout/{intent_id}", {**FORM, "cvv": ""})
    assert_page(missing_cvv, 400, "Check the card details.", "cvv")
    json_body = api.client.post(f"/checkout/{intent_id}", json=SUCCESS_CARD)
    assert_page(json_body, 415, "Only HTML form submissions are accepted here.")
    nul = api.client.post(
        f"/checkout/{intent_id}",
        content=b"cardNumber=5200000000001005%00&expiryDate=12/29&cvv=020",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_page(nul, 400, "The form could not be read.")
    assert_page(post_form(api, f"/checkout/{intent_id}/challenge", {"outcome": "maybe"}), 400)
    assert api.intent(intent_id) == before


def test_card_data_reaches_no_log_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    intent_id = api.create_intent()["id"]
    caplog.set_level(logging.DEBUG)
    post_form(api, f"/checkout/{intent_id}", {**FORM, "cardNumber": "4111110000000051"})
    post_form(api, f"/checkout/{intent_id}", FORM)
    logged = " ".join(record.getMessage() for record in caplog.records).replace(" ", "")
    assert "4111110000000051" not in logged and "5200000000001005" not in logged


# the JSON twin --------------------------------------------------------------------------------------


def test_the_json_twin_answers_only_what_a_payment_page_needs(api: Api) -> None:
    private = {
        "description": "Blue mug",
        "customer": {"emailAddress": "ada@example.com", "phoneNumber": "+44 20 7946 0000"},
        "billingAddress": {"address1": "1 High St", "city": "London", "countryCode": "GB"},
        "metadata": {"basket": "b-77"},
    }
    intent_id = api.create_intent(1000, **private)["id"]
    declined = api.pay(intent_id, DECLINED_CARD)
    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert set(body) == PAYER_FIELDS
    assert body["id"] == intent_id and body["status"] == "Created" and body["reference"] == "Order 234"
    assert body["amount"] == body["totalAmount"] == {"value": 1000, "currencyCode": "GBP"}
    full = api.intent(intent_id)
    assert body["lastPaymentEvent"] == full["paymentEvents"][-1]
    assert body["lastPaymentEvent"]["message"] == "DECLINED"
    for secret in ("clientSessionSecret", "ada@example.com", "High St", "b-77"):
        assert secret not in declined.text
    challenged = api.pay(intent_id, CHALLENGE_CARD).json()
    assert set(challenged) == PAYER_FIELDS | {"challengeUrl"}
    passed = api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "pass"}).json()
    assert set(passed) == PAYER_FIELDS and passed["status"] == "Captured"
    assert passed["lastPaymentEvent"] == api.intent(intent_id)["paymentEvents"][-1]


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


# the cap on attempts --------------------------------------------------------------------------------


def test_after_twenty_failed_attempts_the_checkout_refuses_and_changes_nothing(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    # A failed challenge is one attempt (its start and its decline), plain declines one each.
    assert api.pay(intent_id, CHALLENGE_CARD).status_code == 200
    assert api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "fail"}).status_code == 200
    for _ in range(MAX_CARD_ATTEMPTS - 1):
        assert api.pay(intent_id, DECLINED_CARD).status_code == 200
    spent = api.intent(intent_id)
    assert len(spent["paymentEvents"]) == MAX_CARD_ATTEMPTS + 1
    refused = assert_problem(api.pay(intent_id), 409)
    assert f"{MAX_CARD_ATTEMPTS} times" in refused["detail"]
    assert_problem(api.pay(intent_id, CHALLENGE_CARD), 409)
    page = post_form(api, f"/checkout/{intent_id}", FORM)
    assert_page(page, 409, "This payment cannot be made", f"{MAX_CARD_ATTEMPTS} times")
    assert parsed(page).forms == []
    assert api.intent(intent_id) == spent
