"""The sandbox checkout in a real browser (docs/sandbox.md, "The hosted
checkout"): Playwright drives
Debian's headless chromium against a real ``payintents serve`` on both stores, and a small "shop"
on another loopback port stands in for the merchant's ``redirectUrl`` and ``cancelUrl``.

A shopper types (or clicks) each test card and presses Pay: the success card pays, the 3-D Secure
card shows its own page where Authenticate pays (and the browser lands on the shop) and Fail
declines, the decline cards say why and offer the form again, the processor-error and timeout
cards say "try again"; the intent's status is checked through the API with the key. Throughout,
no URL the browser asks for holds the card number, and the page raises no script error or
console error (a CSP violation is one). The pages fit a 375 px phone, every field has a label,
focus is visible, and a browser with JavaScript switched off pays too. Screenshots at desktop and
phone widths go to ``screenshots/`` (ignored).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from payintents.testbed.processes import free_port
from tests.browser import (
    BROWSER_TEST_MARKS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    SCREENSHOTS,
    assert_fits_and_is_labelled,
)
from tests.support import Api, RunningServer, backend_database_url, running_server

PHONE = {"width": 375, "height": 740}
SUCCESS, CHALLENGE, DECLINED = "5200 0000 0000 1005", "5200 0000 0000 1096", "4456 5300 0000 1013"
INSUFFICIENT, PROCESSOR_ERROR, TIMEOUT = "4111 1100 0000 0051", "4111 1100 0000 0119", "4111 1100 0000 0127"
ALL_CARDS = (SUCCESS, CHALLENGE, DECLINED, INSUFFICIENT, PROCESSOR_ERROR, TIMEOUT)

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


class _ShopHandler(BaseHTTPRequestHandler):
    server: _ShopServer

    def do_GET(self) -> None:
        self.server.visited.append(self.path)
        body = b"<!doctype html><title>Shop</title><h1>Thank you for your order</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return


class _ShopServer(ThreadingHTTPServer):
    daemon_threads = True
    visited: list[str]


@contextmanager
def running_shop() -> Iterator[_ShopServer]:
    """The merchant's site on another origin (another port of 127.0.0.1), noting each path."""
    shop = _ShopServer(("127.0.0.1", free_port()), _ShopHandler)
    shop.visited = []
    thread = threading.Thread(target=shop.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop
    finally:
        shop.shutdown()
        shop.server_close()


@pytest.fixture(scope="module")
def shop() -> Iterator[_ShopServer]:
    with running_shop() as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("checkout-browser")
    database = backend_database_url(request.param, folder, "checkout")
    with pytest.MonkeyPatch.context() as env, database as url:
        env.setenv("PAYINTENTS_SANDBOX_TIMEOUT_S", "1")  # the timeout card, quickly
        with running_server(url, folder, workers=2) as started:
            yield started


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Api(http, server.new_account()["sandboxKey"])


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Shopper:
    """One browser tab, and everything it asked for or complained about."""

    tab: Any
    urls: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    failed_resources: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.tab.on("request", lambda request: self.urls.append(request.url))
        self.tab.on("pageerror", lambda error: self.script_errors.append(str(error)))
        self.tab.on("console", self._console)
        self.tab.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A page answered 502 or 504 on purpose ("try again") is logged as a resource that failed
        # to load; any other console error (a CSP violation, a script error) counts.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.script_errors.append(message.text)

    def _response(self, response: Any) -> None:
        # Scripts, stylesheets and images must load (the documents' statuses are the tests' own).
        if response.request.resource_type != "document" and response.status != 200:
            self.failed_resources.append(f"{response.status} {response.url}")

    def pay_with(self, number: str, *, click: bool = False) -> None:
        if click:
            self.tab.get_by_role("button", name=f"Use {number}").click()
        else:
            self.tab.get_by_label("Card number").fill(number)
            self.tab.get_by_label("Expiry date").fill("12/29")
            self.tab.get_by_label("Security code").fill("020")
        self.tab.get_by_label("Name on card").fill("Ada Lovelace")
        self.tab.get_by_role("button", name="Pay").click()
        self.tab.wait_for_load_state()
        self.check_nothing_leaked()

    def check_nothing_leaked(self) -> None:
        """No URL ever held a card number (as typed or without spaces), and no script failed."""
        for number in ALL_CARDS:
            for url in self.urls:
                assert number not in url and number.replace(" ", "") not in url, url
        assert self.script_errors == []
        assert self.failed_resources == []

    def alert(self) -> str:
        return " ".join(self.tab.get_by_role("alert").inner_text().split())


@contextmanager
def shopper_in(chromium: Any, server: RunningServer, *, javascript: bool = True) -> Iterator[Shopper]:
    context = chromium.new_context(base_url=server.base_url, viewport=DESKTOP, java_script_enabled=javascript)
    context.set_default_timeout(15_000)
    shopper = Shopper(context.new_page())
    shopper.watch()
    try:
        yield shopper
        shopper.check_nothing_leaked()
    finally:
        context.close()


@pytest.fixture
def shopper(chromium: Any, server: RunningServer) -> Iterator[Shopper]:
    with shopper_in(chromium, server) as made:
        yield made


def shop_config(shop: _ShopServer) -> dict[str, str]:
    base = f"http://127.0.0.1:{shop.server_address[1]}"
    return {"redirectUrl": f"{base}/thanks?order=7", "cancelUrl": f"{base}/basket"}


def test_the_success_card_typed_pays(shopper: Shopper, api: Api) -> None:
    intent_id = str(api.create_intent(4999, reference="Order 1")["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    assert shopper.tab.get_by_role("heading", level=1).inner_text() == "Pay £49.99"
    shopper.pay_with(SUCCESS)
    assert shopper.tab.get_by_role("heading", name="Payment received").is_visible()
    assert api.intent(intent_id)["status"] == "Captured"


def test_a_clicked_test_card_fills_the_form(shopper: Shopper, api: Api) -> None:
    intent_id = str(api.create_intent(1200, captureMode="Manual")["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    shopper.tab.get_by_role("button", name=f"Use {SUCCESS}").click()
    assert shopper.tab.get_by_label("Card number").input_value() == SUCCESS
    assert shopper.tab.get_by_label("Expiry date").input_value() == "12/29"
    shopper.pay_with(SUCCESS, click=True)
    assert shopper.tab.get_by_role("heading", name="Payment authorised").is_visible()
    assert api.intent(intent_id)["status"] == "Authorized"


def test_three_d_secure_authenticated_pays_and_lands_on_the_shop(
    shopper: Shopper, api: Api, shop: _ShopServer
) -> None:
    config = shop_config(shop)
    intent_id = str(api.create_intent(2500, config=config)["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    shopper.pay_with(CHALLENGE)
    assert shopper.tab.url.endswith(f"/checkout/{intent_id}/challenge")
    assert "card ending 1096" in shopper.tab.locator("main").inner_text()
    shopper.tab.get_by_role("button", name="Authenticate").click()
    shopper.tab.wait_for_url(config["redirectUrl"])
    assert shopper.tab.get_by_role("heading").inner_text() == "Thank you for your order"
    assert "/thanks?order=7" in shop.visited
    assert api.intent(intent_id)["status"] == "Captured"


def test_three_d_secure_failed_declines_and_another_card_pays(shopper: Shopper, api: Api) -> None:
    intent_id = str(api.create_intent(1000)["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    shopper.pay_with(CHALLENGE)
    shopper.tab.get_by_role("button", name="Fail").click()
    shopper.tab.wait_for_load_state()
    assert shopper.alert() == "Your card was declined: Authentication failed. Try another card."
    intent = api.intent(intent_id)
    assert (intent["status"], intent["paymentEvents"][-1]["eventType"]) == ("Created", "Declined")
    shopper.pay_with(SUCCESS)
    assert api.intent(intent_id)["status"] == "Captured"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (DECLINED, "Your card was declined. Try another card."),
        (INSUFFICIENT, "Your card was declined: Insufficient funds. Try another card."),
        (PROCESSOR_ERROR, "The card processor had a problem; nothing was charged. Try again."),
        (TIMEOUT, "The card processor did not answer in time; nothing was charged. Try again."),
    ],
)
def test_declines_and_failures_say_why_and_offer_the_form(
    shopper: Shopper, api: Api, number: str, message: str
) -> None:
    intent_id = str(api.create_intent(1000)["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    shopper.pay_with(number)
    assert shopper.alert() == message
    assert shopper.tab.get_by_label("Card number").input_value() == ""  # never echoed back
    assert api.intent(intent_id)["status"] == "Created"


def test_cancel_returns_to_the_shop(shopper: Shopper, api: Api, shop: _ShopServer) -> None:
    intent_id = str(api.create_intent(1000, config=shop_config(shop))["id"])
    shopper.tab.goto(f"/checkout/{intent_id}")
    shopper.tab.get_by_role("link", name="Cancel").click()
    shopper.tab.wait_for_url("**/basket")
    assert api.intent(intent_id)["status"] == "Created"


def test_without_javascript_a_shopper_pays_through_three_d_secure(
    chromium: Any, server: RunningServer, api: Api, shop: _ShopServer
) -> None:
    config = shop_config(shop)
    intent_id = str(api.create_intent(1000, config=config)["id"])
    with shopper_in(chromium, server, javascript=False) as shopper:
        shopper.tab.goto(f"/checkout/{intent_id}")
        assert shopper.tab.get_by_role("button", name=f"Use {SUCCESS}").count() == 0  # hidden, inert
        shopper.pay_with(DECLINED)
        assert shopper.alert() == "Your card was declined. Try another card."
        shopper.pay_with(CHALLENGE)
        shopper.tab.get_by_role("button", name="Authenticate").click()
        shopper.tab.wait_for_url(config["redirectUrl"])
    assert api.intent(intent_id)["status"] == "Captured"


def test_phone_width_labels_focus_and_screenshots(shopper: Shopper, api: Api, shop: _ShopServer) -> None:
    lines = [
        {
            "name": "Ceramic mug, hand-glazed, blue",
            "quantity": 2,
            "amountTotal": {"value": 3000, "currencyCode": "GBP"},
        },
        {"name": "Gift wrapping", "quantity": 1, "amountTotal": {"value": 1999, "currencyCode": "GBP"}},
    ]
    described = {"description": "Two mugs and wrapping, delivered to the office", "itemLines": lines}
    shown = str(api.create_intent(4999, reference="Order 2041", config=shop_config(shop), **described)["id"])
    challenged = str(api.create_intent(4999, reference="Order 2042")["id"])
    tab = shopper.tab
    tab.goto(f"/checkout/{challenged}")
    shopper.pay_with(CHALLENGE)
    pages = {"form": f"/checkout/{shown}", "challenge": f"/checkout/{challenged}/challenge"}
    SCREENSHOTS.mkdir(exist_ok=True)
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        tab.set_viewport_size(viewport)
        for name, path in pages.items():
            tab.goto(path)
            assert_fits_and_is_labelled(tab, viewport["width"])
            tab.screenshot(path=str(SCREENSHOTS / f"checkout-{name}-{width_name}.png"), full_page=True)
    tab.goto(f"/checkout/{shown}")
    tab.keyboard.press("Tab")
    focused = tab.evaluate(
        "() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["cardNumber", "solid"]
