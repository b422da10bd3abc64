"""The dashboard's payment list on both stores: search by reference or id, status, dates and amount,
totals of what matches, keyset pages, and only the signed-in account's environment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, text_of
from tests.support import Api


def listed(page: str) -> list[str]:
    """The payment ids in the list, in the order shown."""
    return re.findall(r'<a href="/dashboard/payments/(pi_[^"/]+)">', page)


@pytest.fixture
def shop(client: TestClient, api: Api) -> dict[str, str]:
    """Four payments of one sandbox account; the refunded one had 10.00 of 99.99 refunded."""
    ids = {
        "a1": api.captured_intent(1000, reference="Order A-1"),
        "b2": str(api.create_intent(2550, reference="Order B-2")["id"]),
        "a3": api.captured_intent(9999, reference="order a-3"),
        "sale": str(api.create_intent(500, reference="100% off_sale")["id"]),
    }
    assert api.refund(ids["a3"], 1000).status_code == 200
    return ids


@pytest.fixture
def browser(client: TestClient, api: Api) -> Dashboard:
    signed_in = Dashboard(client)
    signed_in.sign_in_with_key(api.key)
    return signed_in


def search(browser: Dashboard, **params: str) -> list[str]:
    page = browser.get("/dashboard/payments", **params)
    assert page.status_code == 200, page.text
    return listed(page.text)


def test_the_list_shows_every_payment_newest_first_with_totals(
    browser: Dashboard, shop: dict[str, str]
) -> None:
    page = browser.get("/dashboard/payments")
    assert listed(page.text) == [shop["sale"], shop["a3"], shop["b2"], shop["a1"]]
    words = text_of(page.text)
    # 4 payments: 10.00 + 25.50 + 99.99 + 5.00; captured 10.00 + 99.99; refunded 10.00.
    assert "Payments 4 Amount £140.49 Captured £109.99 Refunded £10.00 Net £99.99" in words
    assert "Order A-1 Captured £10.00" in words and "order a-3 Captured £99.99 £10.00" in words


def test_search_by_part_of_a_reference_ignores_case(browser: Dashboard, shop: dict[str, str]) -> None:
    assert search(browser, q="ORDER A") == [shop["a3"], shop["a1"]]
    assert search(browser, q="b-2") == [shop["b2"]]
    assert search(browser, q="nothing like it") == []


def test_search_wildcards_are_plain_characters(browser: Dashboard, shop: dict[str, str]) -> None:
    assert search(browser, q="%") == [shop["sale"]]
    assert search(browser, q="f_s") == [shop["sale"]]
    assert search(browser, q="_") == [shop["sale"]]


def test_search_by_payment_id_finds_exactly_that_payment(browser: Dashboard, shop: dict[str, str]) -> None:
    assert search(browser, q=shop["b2"]) == [shop["b2"]]
    assert search(browser, q=f"  {shop['a1']} ") == [shop["a1"]]


def test_filter_by_status_with_totals_of_the_matches(browser: Dashboard, shop: dict[str, str]) -> None:
    page = browser.get("/dashboard/payments", status="Captured")
    assert listed(page.text) == [shop["a3"], shop["a1"]]
    assert "Payments 2 Amount £109.99 Captured £109.99 Refunded £10.00" in text_of(page.text)
    assert search(browser, status="Created") == [shop["sale"], shop["b2"]]
    assert search(browser, status="Refunded") == []


def test_filter_by_amount_range_in_the_currency(browser: Dashboard, shop: dict[str, str]) -> None:
    assert search(browser, min="20", max="30") == [shop["b2"]]
    assert search(browser, min="25.50", max="25.50") == [shop["b2"]]
    assert search(browser, min="25.51") == [shop["a3"]]
    assert search(browser, max="10") == [shop["sale"], shop["a1"]]


def test_filter_by_creation_date(browser: Dashboard, shop: dict[str, str]) -> None:
    today = datetime.now(UTC).date()
    everything = [shop["sale"], shop["a3"], shop["b2"], shop["a1"]]
    assert search(browser, **{"from": today.isoformat(), "to": today.isoformat()}) == everything
    assert search(browser, **{"from": (today + timedelta(days=1)).isoformat()}) == []
    assert search(browser, to=(today - timedelta(days=1)).isoformat()) == []
    assert search(browser, to="9999-12-31") == everything


def test_filters_combine(browser: Dashboard, shop: dict[str, str]) -> None:
    assert search(browser, q="order", status="Captured", min="50") == [shop["a3"]]


def test_nothing_found_says_so(browser: Dashboard, shop: dict[str, str]) -> None:
    page = browser.get("/dashboard/payments", q="zzz")
    assert "No payments match this search." in text_of(page.text)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "Bogus"}, "Choose a status from the list."),
        ({"from": "2026-13-01"}, "Enter a date as YYYY-MM-DD."),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "The end date must be on or after the start date."),
        ({"min": "1.234"}, "Use at most 2 decimal places"),
        ({"max": "lots"}, "Enter the amount as a number"),
        ({"min": "20", "max": "10"}, "The largest amount must be at least the smallest amount."),
        ({"q": "x" * 101}, "Search with at most 100 characters."),
        ({"after": "bm90IGEgY3Vyc29y"}, "This page link is not one the dashboard made"),
        ({"before": "%%%"}, "This page link is not one the dashboard made"),
    ],
)
def test_bad_search_fields_are_explained_next_to_the_field(
    browser: Dashboard, params: dict[str, str], message: str
) -> None:
    page = browser.get("/dashboard/payments", **params)
    assert page.status_code == 400
    assert message in text_of(page.text)
    assert 'aria-invalid="true"' in page.text or "page link" in message


def test_pages_follow_keyset_cursors_both_ways(client: TestClient, api: Api, browser: Dashboard) -> None:
    created = [str(api.create_intent(100 + n, reference=f"Bulk {n:02d}")["id"]) for n in range(30)]
    newest_first = created[::-1]
    first = browser.get("/dashboard/payments")
    assert listed(first.text) == newest_first[:25]
    assert "Newer payments" not in first.text
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older is not None
    second = browser.get(older.group(1).replace("&amp;", "&"))
    assert listed(second.text) == newest_first[25:]
    assert 'rel="next"' not in second.text
    newer = re.search(r'href="([^"]+)" rel="prev"', second.text)
    assert newer is not None
    back = browser.get(newer.group(1).replace("&amp;", "&"))
    assert listed(back.text) == newest_first[:25]
    # Totals always cover every match, not just the page shown.
    assert "Payments 30" in text_of(second.text)


def test_page_links_keep_the_search(client: TestClient, api: Api, browser: Dashboard) -> None:
    for n in range(27):
        api.create_intent(100, reference=f"Keep {n:02d}")
    api.create_intent(100, reference="Other")
    first = browser.get("/dashboard/payments", q="keep")
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None and "q=keep" in link.group(1)
    second = browser.get(link.group(1).replace("&amp;", "&"))
    assert len(listed(second.text)) == 2


def test_the_list_shows_only_the_signed_in_environment_and_account(
    client: TestClient, deps: Dependencies, api: Api, other_api: Api, browser: Dashboard
) -> None:
    mine = api.create_intent(100, reference="Mine")["id"]
    other_api.create_intent(100, reference="Another account")
    elsewhere = create_account(deps, "third")
    Api(client, elsewhere.prod_key).create_intent(100, reference="Production elsewhere")
    assert search(browser) == [mine]
