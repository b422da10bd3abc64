"""The dashboard's refund form on both stores: the amount typed as a decimal becomes exact minor
units, a confirmation step comes first, the API's rule-break messages are shown inline, and the
form's own idempotency key makes a double submit or a resubmitted form refund exactly once."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.dashboard.support import Dashboard, fields, refunds_of, text_of
from tests.support import Api


@pytest.fixture
def browser(client: TestClient, api: Api) -> Dashboard:
    signed_in = Dashboard(client)
    signed_in.sign_in_with_key(api.key)
    return signed_in


def test_the_form_is_prefilled_with_the_remaining_refundable_amount(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1234)
    api.refund(intent_id, 200)
    page = browser.get(f"/dashboard/payments/{intent_id}/refund")
    assert page.status_code == 200
    assert "Remaining refundable £10.34" in text_of(page.text)
    found = fields(page.text)
    assert found["amount"] == "10.34"
    assert found["refund_key"].startswith("dashboard-") and len(found["refund_key"]) <= 100
    assert (
        found["refund_key"]
        != fields(browser.get(f"/dashboard/payments/{intent_id}/refund").text)["refund_key"]
    )


def test_review_shows_a_confirmation_and_refunds_nothing(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    page = browser.review(intent_id, form, amount="4", reason="too big", notes="called")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Confirm the refund" in words and "Refund £4.00 of payment Order 234?" in words
    assert "Remaining after this refund £6.00" in words and "Reason too big" in words
    confirm = fields(page.text)
    assert confirm["refund_key"] == form["refund_key"] and confirm["amount"] == "4.00"
    assert refunds_of(api, intent_id) == []


def test_confirming_refunds_the_exact_amount_through_the_api_path(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    answer = browser.refund(intent_id, "0.29", reason="damaged", notes="box crushed")
    assert answer.status_code == 303
    [refund] = refunds_of(api, intent_id)
    assert (refund["amount"], refund["refundReason"], refund["notes"]) == (29, "damaged", "box crushed")
    assert answer.headers["location"] == f"/dashboard/payments/{intent_id}?refund={refund['refundId']}"
    page = text_of(browser.get(answer.headers["location"]).text)
    assert f"Refund of £0.29 recorded ({refund['refundId']})." in page
    assert "Refunded £0.29 Remaining refundable £9.71" in page
    assert api.intent(intent_id)["refundedAmount"] == 29


def test_a_full_refund_marks_the_payment_refunded(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    assert browser.refund(intent_id, "10.00").status_code == 303
    assert api.intent(intent_id)["status"] == "Refunded"
    page = browser.get(f"/dashboard/payments/{intent_id}/refund")
    assert "The payment intent has already been fully refunded." in text_of(page.text)
    assert 'name="amount"' not in page.text


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount."),
        ("abc", "Enter the amount as a number"),
        ("1.001", "Use at most 2 decimal places"),
        ("0", "Enter an amount greater than 0.00."),
        ("-5", "Enter the amount as a number"),
        ("1e2", "Enter the amount as a number"),
    ],
)
def test_bad_amounts_are_explained_inline_and_refund_nothing(
    api: Api, browser: Dashboard, amount: str, message: str
) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    for answer in (
        browser.review(intent_id, form, amount=amount),
        browser.confirm(intent_id, form, amount=amount),
    ):
        assert answer.status_code == 400
        assert message in text_of(answer.text)
        assert 'aria-invalid="true"' in answer.text
        assert fields(answer.text)["refund_key"] == form["refund_key"]
    assert refunds_of(api, intent_id) == []


def test_reason_and_notes_keep_the_apis_limits(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    answer = browser.review(intent_id, form, amount="1", reason="r" * 1025, notes="n" * 4097)
    assert answer.status_code == 400
    words = text_of(answer.text)
    assert "at most 1024 characters" in words and "at most 4096 characters" in words


def test_more_than_remains_shows_the_apis_rule_with_money_as_money(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    api.refund(intent_id, 700)
    form = browser.refund_form(intent_id)
    # The API speaks minor units; the dashboard says the same rule in pounds and pence.
    in_minor_units = "Refund amount 400 exceeds the remaining refundable amount 300."
    assert in_minor_units in api.refund(intent_id, 400).json()["detail"]
    expected = "Refund amount £4.00 exceeds the remaining refundable amount £3.00."
    reviewed = browser.review(intent_id, form, amount="4.00")
    assert reviewed.status_code == 400 and expected in text_of(reviewed.text)
    assert in_minor_units not in text_of(reviewed.text)
    # The same rule holds at confirmation, e.g. when an API refund landed after the review.
    confirmed = browser.confirm(intent_id, form, amount="4.00")
    assert confirmed.status_code == 400 and expected in text_of(confirmed.text)
    assert [r["amount"] for r in refunds_of(api, intent_id)] == [700]
    # A refused refund spends nothing: the same form may still refund what remains.
    assert browser.confirm(intent_id, form, amount="3.00").status_code == 303


def test_a_payment_not_captured_cannot_be_refunded(api: Api, browser: Dashboard) -> None:
    intent_id = str(api.create_intent(1000)["id"])
    page = browser.get(f"/dashboard/payments/{intent_id}/refund")
    assert "A refund needs a captured payment; this payment intent is Created." in text_of(page.text)
    forged = {"csrf_token": browser.csrf(), "refund_key": "dashboard-forged-key", "amount": "1.00"}
    answer = browser.confirm(intent_id, forged)
    assert answer.status_code == 400
    assert "A refund needs a captured payment" in text_of(answer.text)


def test_a_double_submit_refunds_once(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    first = browser.confirm(intent_id, form, amount="2.50", reason="dup")
    second = browser.confirm(intent_id, form, amount="2.50", reason="dup")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert [r["amount"] for r in refunds_of(api, intent_id)] == [250]
    assert api.intent(intent_id)["refundedAmount"] == 250


def test_the_api_replays_a_dashboard_refund_with_the_same_key(api: Api, browser: Dashboard) -> None:
    """One fingerprint for both doors: the stored answer is the API's own JSON."""
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    assert browser.confirm(intent_id, form, amount="2.50", reason="dup", notes="n").status_code == 303
    replay = api.refund(intent_id, 250, key=form["refund_key"], refundReason="dup", notes="n")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    [refund] = refunds_of(api, intent_id)
    assert replay.json() == {
        "paymentIntentId": intent_id,
        "refundId": refund["refundId"],
        "refundReason": "dup",
        "notes": "n",
        "message": "refund for Order 234",
    }


def test_a_reused_form_with_another_amount_refunds_nothing_more(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    assert browser.confirm(intent_id, form, amount="1.00").status_code == 303
    answer = browser.confirm(intent_id, form, amount="2.00")
    assert answer.status_code == 409
    assert "This refund form was already used for a different refund" in text_of(answer.text)
    assert fields(answer.text)["refund_key"] != form["refund_key"]
    assert [r["amount"] for r in refunds_of(api, intent_id)] == [100]


def test_change_returns_to_the_form_with_the_same_key(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    page = browser.post(
        f"/dashboard/payments/{intent_id}/refund", {**form, "step": "edit", "amount": "3.00", "notes": "x"}
    )
    assert page.status_code == 200
    again = fields(page.text)
    assert (again["amount"], again["refund_key"]) == ("3.00", form["refund_key"])
    assert refunds_of(api, intent_id) == []


def test_refund_posts_need_the_csrf_token_and_a_dashboard_key(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000)
    form = browser.refund_form(intent_id)
    assert browser.confirm(intent_id, {**form, "csrf_token": "forged"}, amount="1").status_code == 403
    for key in ("", "chosen-by-hand", "dashboard-" + "x" * 100, "dashboard-\x7f"):
        assert browser.confirm(intent_id, {**form, "refund_key": key}, amount="1").status_code == 400
    assert refunds_of(api, intent_id) == []


def test_another_accounts_payment_cannot_be_refunded(api: Api, other_api: Api, browser: Dashboard) -> None:
    mine = api.captured_intent(1000)
    theirs = other_api.captured_intent(1000)
    form = browser.refund_form(mine)
    assert browser.review(theirs, form, amount="1").status_code == 404
    assert browser.confirm(theirs, form, amount="1").status_code == 404
    assert refunds_of(other_api, theirs) == []


@pytest.mark.parametrize(("outcome", "status"), [("declined", 400), ("processor_error", 502)])
def test_a_processor_failure_is_shown_inline_and_the_form_can_be_confirmed_again(
    api: Api, browser: Dashboard, outcome: str, status: int
) -> None:
    intent_id = api.captured_intent(1000)
    fail = api.post(
        f"/sandbox/payment-intents/{intent_id}/fail-next", {"operation": "refund", "outcome": outcome}
    )
    assert fail.status_code == 200, fail.text
    form = browser.refund_form(intent_id)
    failed = browser.confirm(intent_id, form, amount="2.00")
    assert failed.status_code == status
    assert "The card processor" in text_of(failed.text)
    assert refunds_of(api, intent_id) == []
    assert browser.confirm(intent_id, form, amount="2.00").status_code == 303
    assert [r["amount"] for r in refunds_of(api, intent_id)] == [200]
