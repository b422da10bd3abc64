"""The dashboard in a real browser: Playwright drives Debian's headless chromium (/usr/bin/chromium,
never a downloaded browser) against a real ``payintents serve`` on both stores.

A merchant signs in, finds a captured payment, refunds part of it, sees the remaining amount and
the refund in the history; a double click (with and without script) and a resubmitted form still
make one refund; refunding more than remains shows the API's error inline. The pages are usable
by keyboard, every field has a label, and at phone width nothing scrolls sideways. Screenshots of
the list, the detail and the refund form at desktop and phone widths go to ``screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import (
    BROWSER_TEST_MARKS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    SCREENSHOTS,
    assert_fits_and_is_labelled,
)
from tests.support import (
    Api,
    RunningServer,
    backend_database_url,
    running_server,
)

PHONE = {"width": 390, "height": 844}

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("browser")
    database = backend_database_url(request.param, folder, "dashboard")
    with database as url, running_server(url, folder, workers=2) as started:
        yield started


@pytest.fixture(scope="module")
def account(server: RunningServer) -> dict[str, str]:
    return server.new_account()


@pytest.fixture(scope="module")
def api(server: RunningServer, account: dict[str, str]) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Api(http, account["sandboxKey"])


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, server: RunningServer, account: dict[str, str]) -> Iterator[Any]:
    """A fresh browser context, signed in with the sandbox key through the sign-in form."""
    context = chromium.new_context(base_url=server.base_url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    sign_in(tab, account["sandboxKey"])
    yield tab
    context.close()


def sign_in(tab: Any, key: str) -> None:
    tab.goto("/dashboard/payments")
    assert "/dashboard/sign-in" in tab.url
    tab.get_by_label("Secret API key").fill(key)
    tab.get_by_role("button", name="Sign in with key").click()
    tab.wait_for_url("**/dashboard/payments")


def open_payment(tab: Any, reference: str) -> None:
    """Find the payment by its reference with the search form (Enter submits) and open it."""
    tab.goto("/dashboard/payments")
    tab.get_by_label("Reference or payment ID").fill(reference)
    tab.get_by_label("Reference or payment ID").press("Enter")
    tab.wait_for_url("**q=*")
    tab.get_by_role("link", name=reference, exact=True).click()
    tab.wait_for_url("**/dashboard/payments/pi_*")


def review_refund(tab: Any, amount: str, reason: str = "") -> None:
    tab.get_by_role("link", name="Refund this payment").click()
    tab.get_by_label("Amount to refund (GBP)").fill(amount)
    if reason:
        tab.get_by_label("Reason").fill(reason)
    tab.get_by_role("button", name="Review refund").click()


def refund_rows(tab: Any) -> list[str]:
    rows = tab.locator("#refunds tbody tr")
    return [" ".join(rows.nth(i).inner_text().split()) for i in range(rows.count())]


def test_refund_part_of_a_payment_then_a_double_submit_then_too_much(page: Any, api: Api) -> None:
    intent_id = api.captured_intent(2500, reference="Browser order")
    api.captured_intent(900, reference="Another order")
    open_payment(page, "Browser order")
    assert page.locator("#remaining").inner_text() == "£25.00"

    review_refund(page, "7.50", reason="Damaged")
    assert "Refund £7.50 of payment Browser order?" in page.locator("main").inner_text()
    page.get_by_role("button", name="Refund £7.50").click()
    page.wait_for_url("**?refund=rfnd_*")
    assert "Refund of £7.50 recorded" in page.get_by_role("status").inner_text()
    assert page.locator("#remaining").inner_text() == "£17.50"
    assert [row for row in refund_rows(page) if "£7.50 Damaged" in row and "dashboard: API key" in row]

    # A double click on the confirmation, then the same form resubmitted twice: one refund.
    review_refund(page, "2.00")
    sent = page.eval_on_selector_all(
        "#confirm-form input", "els => Object.fromEntries(els.map(e => [e.name, e.value]))"
    )
    page.get_by_role("button", name="Refund £2.00").dblclick()
    page.wait_for_url("**?refund=rfnd_*")
    action = f"/dashboard/payments/{intent_id}/refund/confirm"
    for _ in range(2):
        again = page.request.post(action, form=sent, max_redirects=0)
        assert again.status == 303
    page.reload()
    assert len(refund_rows(page)) == 2
    assert page.locator("#remaining").inner_text() == "£15.50"
    assert api.intent(intent_id)["refundedAmount"] == 950

    review_refund(page, "100.00")
    alert = page.get_by_role("alert")
    assert "Refund amount £100.00 exceeds the remaining refundable amount £15.50." in alert.inner_text()
    assert page.locator("#remaining").inner_text() == "£15.50"
    assert api.intent(intent_id)["refundedAmount"] == 950


def test_without_script_a_double_click_still_refunds_once(
    chromium: Any, server: RunningServer, api: Api
) -> None:
    intent_id = api.captured_intent(1000, reference="No script order")
    context = chromium.new_context(base_url=server.base_url, viewport=DESKTOP, java_script_enabled=False)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        sign_in(tab, api.key)
        open_payment(tab, "No script order")
        review_refund(tab, "3.00")
        tab.get_by_role("button", name="Refund £3.00").dblclick()
        tab.wait_for_url("**?refund=rfnd_*")
        assert len(refund_rows(tab)) == 1
    finally:
        context.close()
    assert api.intent(intent_id)["refundedAmount"] == 300


def test_keyboard_labels_and_phone_width_with_screenshots(page: Any, api: Api) -> None:
    api.captured_intent(4200, reference="Screenshot order")
    captured = api.captured_intent(1999, reference="Order 1001")
    api.refund(captured, 500, refundReason="Wrong size")
    api.create_intent(1500, reference="Order 1002")
    page.goto("/dashboard/payments")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to main content", "solid"]
    shots = {
        "list": "/dashboard/payments",
        "detail": f"/dashboard/payments/{captured}",
        "refund-form": f"/dashboard/payments/{captured}/refund",
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, path in shots.items():
            page.goto(path)
            assert_fits_and_is_labelled(page, viewport["width"])
            page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}-{width_name}.png"), full_page=True)
        for path in (
            "/dashboard/developers/requests",
            "/dashboard/developers/webhooks",
            "/dashboard/developers/sandbox",
            "/dashboard/customers",
        ):
            page.goto(path)
            assert_fits_and_is_labelled(page, viewport["width"])


def test_a_payments_receipts_show_in_the_sandbox_outbox(page: Any, api: Api) -> None:
    intent_id = api.captured_intent(1999, reference="Receipt order")
    page.goto(f"/dashboard/payments/{intent_id}")
    receipts = page.get_by_role("region", name="Receipts (sandbox outbox)")
    assert "No receipts for this payment." in receipts.inner_text()
    sent = api.post(f"/payment-intents/{intent_id}/receipt", {"emails": ["shopper@example.com"]})
    assert sent.status_code == 204, sent.text
    page.reload()
    shown = receipts.inner_text()
    assert "Your receipt for Receipt order" in shown
    assert "To shopper@example.com" in shown
    assert "Total: 19.99 GBP" in receipts.locator("pre").inner_text()
