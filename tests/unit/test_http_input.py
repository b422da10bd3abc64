"""Reading what a caller sent, without a server: the ``version`` header's resolution to a supported
API version, strict JSON parsing (media type, UTF-8, duplicates, NaN, surrogates, NUL), and whole
numbers in query strings, forms and headers."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.requests import Request

from payintents.web.http_input import SUPPORTED_VERSIONS, parse_json, resolve_version, whole_number
from payintents.web.problems import RequestRefusedError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2022-04-07", date(2022, 4, 7)),
        ("2024-02-04", date(2022, 4, 7)),
        ("2024-02-05", date(2024, 2, 5)),
        ("2024-12-31", date(2024, 2, 5)),
        ("2025-01-01", date(2024, 2, 5)),
        ("2025-09-09", date(2024, 2, 5)),
        ("2025-09-10", date(2025, 9, 10)),
        ("2026-02-26", date(2025, 9, 10)),
        ("2026-02-27", date(2026, 2, 27)),
        ("2030-01-01", date(2026, 2, 27)),
        (" 2024-02-05 ", date(2024, 2, 5)),
    ],
)
def test_a_date_resolves_to_the_newest_version_on_or_before_it(header: str, expected: date) -> None:
    assert resolve_version(header) == expected
    assert expected in SUPPORTED_VERSIONS


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "2022-04-06",
        "2021-12-31",
        "2024-2-5",
        "20240205",
        "2024-02-30",
        "2024-13-01",
        "v2024-02-05",
        "2024-02-05T00:00:00",
        "latest",
        "２０２４-０２-０５",
    ],
)
def test_a_missing_early_or_malformed_version_is_a_400_on_version(header: str | None) -> None:
    with pytest.raises(RequestRefusedError) as raised:
        resolve_version(header)
    assert raised.value.status == 400
    assert raised.value.errors is not None and list(raised.value.errors) == ["version"]


def request_with(content_type: str | None) -> Request:
    headers = {} if content_type is None else {"content-type": content_type}
    fake: Any = SimpleNamespace(headers=Headers(headers))
    return fake  # type: ignore[no-any-return]


def parse(raw: bytes, content_type: str | None = "application/json", *, required: bool = True) -> Any:
    return parse_json(request_with(content_type), raw, body_required=required)


def refused(raw: bytes, content_type: str | None = "application/json") -> RequestRefusedError:
    with pytest.raises(RequestRefusedError) as raised:
        parse(raw, content_type)
    return raised.value


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json"],
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    assert parse(b'{"amount": 400, "notes": "caf\xc3\xa9"}', content_type) == {"amount": 400, "notes": "café"}


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_other_media_types_are_415(content_type: str | None) -> None:
    refusal = refused(b'{"amount": 400}', content_type)
    assert refusal.status == 415


def test_an_empty_body_is_400_when_required_and_empty_object_otherwise() -> None:
    assert refused(b"").status == 400
    assert refused(b"  \r\n").status == 400
    assert parse(b"", None, required=False) == {}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"amount": 1, "amount": 2}', "more than once"),
        (b'{"a": {"b": 1, "b": 1}}', "more than once"),
        (b'{"amount": NaN}', "NaN"),
        (b'{"amount": Infinity}', "Infinity"),
        (b'{"amount": -Infinity}', "Infinity"),
        (b'{"notes": "\\ud800"}', "surrogates"),
        (b'{"\\udfff": 1}', "surrogates"),
        (b'{"notes": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'{"notes": "\xff\xfe"}', "UTF-8"),
        (b'{"notes": "\xed\xa0\x80"}', "UTF-8"),
        (b"\xef\xbb\xbf{}", "JSON"),
        (b'{"amount": 400', "JSON"),
        (b"{'amount': 400}", "JSON"),
        (b'{"amount": 400} x', "JSON"),
        (b'{"amount": ' + b"1" * 5000 + b"}", "JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        (b"[" * 100 + b"]" * 100, "nested"),
    ],
)
def test_malformed_json_is_400_never_an_exception(raw: bytes, words: str) -> None:
    refusal = refused(raw)
    assert refusal.status == 400
    assert refusal.detail is not None and words in refusal.detail
    assert refusal.errors is not None and list(refusal.errors) == ["$"]


def test_paired_surrogate_escapes_are_fine() -> None:
    assert parse(b'{"notes": "\\ud83d\\ude00"}') == {"notes": "\U0001f600"}


def test_json_that_is_not_an_object_is_left_to_schema_validation() -> None:
    assert parse(b"[1, 2]") == [1, 2]
    assert parse(b"null") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("200", 200),
        ("007", 7),
        ("0" * 5000 + "42", 42),  # padding is not size: no ValueError from int()
        ("0", None),  # below the range
        ("201", None),  # above it
        ("9" * 5000, None),  # past int()'s 4,300-digit limit
        ("\u0661", None),  # another script's digit: str.isdecimal() would take it
        ("\u00b2", None),  # superscript two: str.isdigit() would take it
        ("", None),
        ("-1", None),
        ("1.0", None),
        (" 1", None),
    ],
)
def test_whole_numbers_are_ascii_digits_within_the_range(raw: str, expected: int | None) -> None:
    assert whole_number(raw, 1, 200) == expected
