"""The payment list's query string: search fields in, a PaymentFilter and cursors out, and links
back to the same search on the next or previous page.

Pagination is by keyset: a cursor is the (createdAt, id) of the last row shown, so page 50 costs
the same as page 1 and no OFFSET ever scans the rows before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from payintents.domain.intent import Status
from payintents.service.dashboard_ports import PaymentFilter, PaymentSummary
from payintents.web.amounts import AmountInputError, parse_amount
from payintents.web.cursors import Position, decode_cursor, encode_cursor
from payintents.web.wire import enum_values

SEARCH_FIELDS = ("q", "status", "from", "to", "min", "max")
MAX_TEXT = 100
STATUSES = enum_values(Status)


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A parsed list request; ``errors`` maps a search field to what is wrong with it."""

    values: dict[str, str]
    payment_filter: PaymentFilter
    after: Position | None = None
    before: Position | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        return any(self.values.values())

    def page_link(self, **cursor: str) -> str:
        params = {k: v for k, v in self.values.items() if v}
        return "/dashboard/payments?" + urlencode({**params, **cursor})


def parse_list_request(params: Mapping[str, str]) -> ListRequest:
    values = {name: params.get(name, "").strip() for name in SEARCH_FIELDS}
    errors: dict[str, str] = {}
    text = values["q"]
    if len(text) > MAX_TEXT:
        errors["q"] = f"Search with at most {MAX_TEXT} characters."
    status = values["status"]
    if status and status not in STATUSES:
        errors["status"] = "Choose a status from the list."
    start, end = _day(values, "from", errors), _day(values, "to", errors)
    if start and end and end < start:
        errors["to"] = "The end date must be on or after the start date."
    low, high = _amount(values, "min", errors), _amount(values, "max", errors)
    if low is not None and high is not None and high < low:
        errors["max"] = "The largest amount must be at least the smallest amount."
    payment_filter = PaymentFilter(
        text=text or None,
        statuses=frozenset({Status(status)}) if status in STATUSES else frozenset(),
        created_from=_midnight(start),
        created_before=_midnight(end + timedelta(days=1)) if end and end < date.max else None,
        amount_min=low,
        amount_max=high,
    )
    after = _cursor(params.get("after"), errors)
    before = _cursor(params.get("before"), errors)
    return ListRequest(values, payment_filter, after, before, errors)


def encode_row_cursor(row: PaymentSummary) -> str:
    return encode_cursor(row.created_at, row.id)


def _cursor(text: str | None, errors: dict[str, str]) -> Position | None:
    if not text:
        return None
    position = decode_cursor(text)
    if position is None:
        errors["cursor"] = "This page link is not one the dashboard made; start from the first page."
    return position


def _day(values: dict[str, str], name: str, errors: dict[str, str]) -> date | None:
    if not values[name]:
        return None
    try:
        return date.fromisoformat(values[name])
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def _amount(values: dict[str, str], name: str, errors: dict[str, str]) -> int | None:
    if not values[name]:
        return None
    try:
        return parse_amount(values[name], allow_zero=True)
    except AmountInputError as problem:
        errors[name] = str(problem)
        return None
