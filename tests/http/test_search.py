"""``POST /payment-intents/search`` (docs/api.md): the statuses and date filters, the cursor's
limit (1-100, default 50), keyset paging with ``after`` / ``before`` that yields every intent exactly
once newest first, and refusal of bad cursors and bodies. Runs on an app with a fake clock so
creation times are exact (and some are equal, to exercise the tie-break)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.fakes import FakeClock
from tests.support import Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def assert_validation_problem(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["status"] == 400 and body["title"] and body["type"].startswith("https://tools.ietf.org/")
    assert TRACE_ID.match(body["traceId"])
    if field is not None:
        assert field in body["errors"], body
    return body


class Clocked:
    def __init__(self, api: Api, clock: FakeClock) -> None:
        self.api, self.clock = api, clock

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post("/payment-intents/search", body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ids(self, body: dict[str, Any]) -> list[str]:
        return [intent["id"] for intent in self.search(body)["data"]]


@pytest.fixture
def clocked(database_url: str) -> Iterator[Clocked]:
    clock = FakeClock()  # 2026-03-02T12:00:00Z
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine, clock=clock)
    with TestClient(build_app(deps), base_url="http://testserver") as client:
        yield Clocked(Api(client, create_account(deps, "search").sandbox_key), clock)
    engine.dispose()


def create_at_hours(clocked: Clocked, hours: int) -> list[str]:
    """One intent per hour from 12:00, returned oldest first."""
    made = []
    for _ in range(hours):
        made.append(str(clocked.api.create_intent()["id"]))
        clocked.clock.advance(hours=1)
    return made


def test_statuses_filter(clocked: Clocked) -> None:
    api = clocked.api
    created = str(api.create_intent()["id"])
    captured = api.captured_intent()
    manual = str(api.create_intent(captureMode="Manual")["id"])
    assert api.pay(manual).status_code == 200
    canceled = str(api.create_intent()["id"])
    assert api.client.delete(f"/payment-intents/{canceled}", headers=api.headers()).status_code == 200
    assert set(clocked.ids({"statuses": ["Captured"]})) == {captured}
    assert set(clocked.ids({"statuses": ["Created", "Authorized"]})) == {created, manual}
    assert set(clocked.ids({"statuses": ["Canceled"]})) == {canceled}
    assert clocked.ids({"statuses": ["Refunded", "Reversed"]}) == []
    assert {created, captured, manual} <= set(clocked.ids({}))


def test_start_and_end_dates_are_inclusive(clocked: Clocked) -> None:
    first, second, third = create_at_hours(clocked, 3)
    assert clocked.ids({"startDate": "2026-03-02T13:00:00Z"}) == [third, second]
    assert clocked.ids({"endDate": "2026-03-02T13:00:00Z"}) == [second, first]
    assert clocked.ids({"startDate": "2026-03-02T13:00:00Z", "endDate": "2026-03-02T13:00:00Z"}) == [second]
    assert clocked.ids({"startDate": "2026-03-02T14:00:01Z"}) == []
    assert clocked.ids({"startDate": "2026-03-02T14:00:00+01:00"}) == [third, second]


def test_limit_defaults_to_fifty(clocked: Clocked) -> None:
    for _ in range(51):
        clocked.api.create_intent()
    page = clocked.search({})
    assert len(page["data"]) == 50 and page["after"] and page["before"] is None
    assert len(clocked.search({"cursor": {"limit": 100}})["data"]) == 51
    assert len(clocked.search({"cursor": {"limit": 1}})["data"]) == 1


def test_limit_out_of_range_is_refused(clocked: Clocked) -> None:
    for limit in (0, -1, 101, 2**31, 1.0, "10", True):
        response = clocked.api.post("/payment-intents/search", {"cursor": {"limit": limit}})
        assert_validation_problem(response, "cursor.limit")


def _page_through(clocked: Clocked, direction: str, start: str | None, limit: int) -> list[list[str]]:
    pages = []
    cursor = start
    while True:
        body: dict[str, Any] = {"cursor": {"limit": limit}}
        if cursor is not None:
            body["cursor"][direction] = cursor
        page = clocked.search(body)
        pages.append([intent["id"] for intent in page["data"]])
        cursor = page[direction]
        if cursor is None:
            return pages


def test_paging_returns_every_intent_once_newest_first(clocked: Clocked) -> None:
    for batch in (3, 1, 2, 1):  # several intents share a creation time
        for _ in range(batch):
            clocked.api.create_intent()
        clocked.clock.advance(minutes=1)
    everything = clocked.search({"cursor": {"limit": 100}})["data"]
    created = [intent["createdAt"] for intent in everything]
    assert len(everything) == 7 and created == sorted(created, reverse=True)
    expected = [intent["id"] for intent in everything]
    for limit in (1, 2, 3, 7, 9):
        _check_paging(clocked, limit, expected)


def _check_paging(clocked: Clocked, limit: int, expected: list[str]) -> None:
    forward = _page_through(clocked, "after", None, limit)
    assert [i for page in forward for i in page] == expected
    assert all(0 < len(page) <= limit for page in forward)

    last = clocked.search({"cursor": {"limit": limit, "after": _cursor_before_last_page(clocked, limit)}})
    assert last["after"] is None
    backward = _page_through(clocked, "before", last["before"], limit) if last["before"] else []
    seen_backward = [i for page in reversed(backward) for i in page] + [i["id"] for i in last["data"]]
    assert seen_backward == expected


def _cursor_before_last_page(clocked: Clocked, limit: int) -> str | None:
    """The ``after`` cursor that leads to the last page (None when there is a single page)."""
    cursor = None
    while True:
        body: dict[str, Any] = {"cursor": {"limit": limit, **({"after": cursor} if cursor else {})}}
        page = clocked.search(body)
        if page["after"] is None:
            return cursor
        following = clocked.search({"cursor": {"limit": limit, "after": page["after"]}})
        if following["after"] is None:
            return str(page["after"])
        cursor = page["after"]


def test_first_page_has_no_before_and_a_single_page_has_no_cursors(clocked: Clocked) -> None:
    create_at_hours(clocked, 2)
    page = clocked.search({"cursor": {"limit": 10}})
    assert len(page["data"]) == 2 and page["before"] is None and page["after"] is None
    first = clocked.search({"cursor": {"limit": 1}})
    assert first["before"] is None and first["after"]
    second = clocked.search({"cursor": {"limit": 1, "after": first["after"]}})
    assert second["after"] is None and second["before"]
    back = clocked.search({"cursor": {"limit": 1, "before": second["before"]}})
    assert back["data"] == first["data"] and back["before"] is None


def test_intents_created_while_paging_do_not_repeat_items(clocked: Clocked) -> None:
    made = create_at_hours(clocked, 4)
    first = clocked.search({"cursor": {"limit": 2}})
    clocked.api.create_intent()
    rest = clocked.search({"cursor": {"limit": 10, "after": first["after"]}})
    seen = [i["id"] for i in first["data"]] + [i["id"] for i in rest["data"]]
    assert seen == list(reversed(made))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


GARBAGE_CURSORS = ["!!!", "garbage", _b64("not a date|pi_x"), _b64("no separator"), "ÿÿ", "a" * 201, 42]


def test_garbage_cursor_is_refused(clocked: Clocked) -> None:
    clocked.api.create_intent()
    for direction in ("after", "before"):
        for cursor in GARBAGE_CURSORS:
            response = clocked.api.post("/payment-intents/search", {"cursor": {direction: cursor}})
            assert_validation_problem(response)
        # An empty cursor is the same as none: the first page.
        assert len(clocked.search({"cursor": {direction: ""}})["data"]) == 1


def test_before_and_after_together_are_refused(clocked: Clocked) -> None:
    create_at_hours(clocked, 3)
    middle = clocked.search({"cursor": {"limit": 1}})["after"]
    body = {"cursor": {"before": middle, "after": middle}}
    assert_validation_problem(clocked.api.post("/payment-intents/search", body), "cursor")


BAD_BODIES: list[tuple[Any, str]] = [
    ({"statuses": ["Pending"]}, "statuses[0]"),
    ({"statuses": "Created"}, "statuses"),
    ({"startDate": "yesterday"}, "startDate"),
    ({"endDate": 20260302}, "endDate"),
    ({"cursor": {"page": 2}}, "cursor.page"),
    ({"cursor": 5}, "cursor"),
    ({"sort": "asc"}, "sort"),
    ([], "$"),
]


def test_bad_search_bodies_are_refused(clocked: Clocked) -> None:
    for body, field in BAD_BODIES:
        assert_validation_problem(clocked.api.post("/payment-intents/search", body), field)


def test_search_needs_a_body(clocked: Clocked) -> None:
    response = clocked.api.client.post("/payment-intents/search", headers=clocked.api.headers())
    assert_validation_problem(response)
