"""The virtual terminal page in a real browser (docs/terminals.md): Playwright drives Debian's
headless chromium against a real ``payintents serve`` (SQLite, 2 workers). An EPOS starts a sale
through the API; the person at the page sees the screen ask for the card (by polling), presses
Approve, and the intent is Captured through the API. The page raises no script or console error
(a CSP violation is one), and the terminals list shows unlinked refunds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, SCREENSHOTS
from tests.dashboard.test_browser import sign_in
from tests.support import Api, RunningServer, backend_database_url, running_server

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
EPOS = {"software-house-id": "softwareHouse1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("terminal-browser")
    with backend_database_url("sqlite", folder) as url, running_server(url, folder, workers=2) as started:
        yield started


@pytest.fixture(scope="module")
def account(server: RunningServer) -> dict[str, str]:
    return server.new_account()


@pytest.fixture(scope="module")
def api(server: RunningServer, account: dict[str, str]) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Api(http, account["sandboxKey"])


@pytest.fixture
def tab(server: RunningServer, account: dict[str, str]) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.base_url, viewport=DESKTOP)
        context.set_default_timeout(15_000)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        # A failed load is reported by its response below (the browser's own favicon request aside).
        page.on("console", lambda msg: _note_console_error(problems, msg))
        page.on("response", lambda answer: _note_failed_load(problems, answer))
        sign_in(page, account["sandboxKey"])
        yield page
        assert problems == []
        browser.close()


def _note_console_error(problems: list[str], message: Any) -> None:
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


def _note_failed_load(problems: list[str], answer: Any) -> None:
    if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
        problems.append(f"{answer.status} {answer.url}")


def _epos(api: Api, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = api.client.request(method, path, json=body, headers={**api.headers(), **EPOS})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_sale_approved_on_the_virtual_terminal_captures_the_intent(tab: Any, api: Api) -> None:
    terminals = api.client.get("/terminals", headers={**api.headers(), **EPOS}).json()
    terminal = terminals[0]
    tab.goto("/dashboard/terminals")
    tab.get_by_role("link", name=terminal["id"]).click()
    screen = tab.locator("#screen-text")
    sync_api.expect(screen).to_have_text("READY")

    intent_id = str(api.create_intent(1250)["id"])
    details = {"sessionType": "Sale", "sale": {"paymentIntentId": intent_id}}
    session = _epos(api, "POST", "/terminal-sessions", {"terminalId": terminal["id"], "details": details})
    # The page polls: the screen asks for the card without a reload.
    sync_api.expect(screen).to_have_text("PRESENT CARD")
    sync_api.expect(tab.locator("#screen-amount")).to_have_text("GBP 12.50")
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "virtual-terminal.png"))

    tab.get_by_role("button", name="Approve").click()
    sync_api.expect(screen).to_have_text("APPROVED")
    assert _epos(api, "GET", f"/terminal-sessions/{session['id']}")["status"] == "Captured"
    assert api.intent(intent_id)["status"] == "Captured"


def test_unlinked_refunds_are_listed(tab: Any, api: Api) -> None:
    terminal = api.client.get("/terminals", headers={**api.headers(), **EPOS}).json()[1]
    amount = {"value": 4321, "currencyCode": "GBP"}
    details = {"sessionType": "UnlinkedRefund", "unlinkedRefund": {"amount": amount}}
    session = _epos(api, "POST", "/terminal-sessions", {"terminalId": terminal["id"], "details": details})
    _epos(api, "POST", f"/sandbox/terminal-sessions/{session['id']}/present-card", {"outcome": "Approved"})
    tab.goto("/dashboard/terminals")
    row = tab.locator("#unlinked-refunds tr", has_text=session["id"])
    sync_api.expect(row).to_contain_text("GBP 43.21")
    sync_api.expect(row).to_contain_text("Captured")
