"""Request validation on the payment-intent endpoints (docs/api.md, "Amounts", "Request bodies" and
the create table): every rule refused with a 400/413/415 in Dojo's error shape, naming the field in
``errors`` for validation failures, and nothing created or changed. Also what must be accepted:
case-insensitive property names and version-gated ``isNotOnlineCheckout``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support import Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
MAX_BODY = 64 * 1024


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["type"].startswith("https://tools.ietf.org/html/rfc")
    assert body["title"] and body["status"] == status
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    return body


def assert_validation_problem(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    body = assert_problem(response, 400)
    assert body["title"] == "One or more validation errors occurred."
    errors = body["errors"]
    assert isinstance(errors, dict) and errors
    assert all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in errors.values())
    if field is not None:
        assert field in errors, errors
    return body


def check_each(cases: dict[str, Callable[[], None]]) -> None:
    """Run every case and report all that fail (cheaper than one database per case)."""
    failures = []
    for name, check in cases.items():
        try:
            check()
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


def visible_ids(api: Api) -> set[str]:
    found = api.post("/payment-intents/search", {"cursor": {"limit": 100}})
    assert found.status_code == 200, found.text
    return {intent["id"] for intent in found.json()["data"]}


@pytest.fixture
def unchanged(api: Api) -> Iterator[None]:
    """Whatever the test sends, no intent appears and none changes."""
    before = api.post("/payment-intents/search", {"cursor": {"limit": 100}}).json()["data"]
    yield
    after = api.post("/payment-intents/search", {"cursor": {"limit": 100}}).json()["data"]
    assert after == before


def send_raw(
    api: Api, path: str, raw: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = api.headers(**({"Content-Type": content_type} if content_type else {}))
    return api.client.post(path, content=raw, headers=headers)


def body_with(value: str = "1000", currency: str = '"GBP"', extra: str = "") -> bytes:
    text = f'{{"amount":{{"value":{value},"currencyCode":{currency}}},"reference":"Order 1"{extra}}}'
    return text.encode()


CREATE_REFUSALS: list[tuple[str, bytes, str]] = [
    # (case, raw body, field named in errors; "$" for the body as a whole)
    ("float", body_with("10.0"), "amount.value"),
    ("exponent", body_with("1e2"), "amount.value"),
    ("boolean", body_with("true"), "amount.value"),
    ("string", body_with('"1000"'), "amount.value"),
    ("null", body_with("null"), "amount.value"),
    ("zero", body_with("0"), "amount.value"),
    ("negative", body_with("-5"), "amount.value"),
    ("over-2^53-1", body_with(str(2**53)), "amount.value"),
    ("huge", body_with("1" + "0" * 40), "amount.value"),
    ("currency-USD", body_with(currency='"USD"'), "amount.currencyCode"),
    ("currency-lowercase", body_with(currency='"gbp"'), "amount.currencyCode"),
    ("amount-missing", b'{"reference":"Order 1"}', "amount"),
    ("amount-not-object", b'{"amount":1000,"reference":"Order 1"}', "amount"),
    ("reference-missing", b'{"amount":{"value":1000,"currencyCode":"GBP"}}', "reference"),
    ("reference-empty", body_with().replace(b'"Order 1"', b'""'), "reference"),
    ("reference-61", body_with().replace(b'"Order 1"', json.dumps("r" * 61).encode()), "reference"),
    ("reference-number", body_with().replace(b'"Order 1"', b"234"), "reference"),
    ("unknown-property", body_with(extra=',"colour":"red"'), "colour"),
    (
        "unknown-nested",
        body_with(extra=',"config":{"payment":{"surcharge":true}}'),
        "config.payment.surcharge",
    ),
    ("duplicate-key", body_with(extra=',"reference":"Order 2"'), "$"),
    ("duplicate-any-case", body_with(extra=',"Reference":"Order 2"'), "Reference"),
    ("NaN", body_with("NaN"), "$"),
    ("Infinity", body_with("Infinity"), "$"),
    ("-Infinity", body_with("-Infinity"), "$"),
    ("invalid-utf8", body_with().replace(b"Order 1", b"Order \xff\xfe"), "$"),
    ("lone-surrogate", body_with().replace(b"Order 1", b"Order \\ud800"), "$"),
    ("NUL", body_with().replace(b"Order 1", b"Order \\u0000"), "$"),
    ("NUL-in-key", body_with(extra=',"a\\u0000":"x"'), "$"),
    ("not-json", b'{"amount":', "$"),
    ("array-body", b"[]", "$"),
    ("null-body", b"null", "$"),
    ("item-line-missing-total", body_with(extra=',"itemLines":[{"name":"Tea"}]'), "itemLines[0].amountTotal"),
    ("capture-mode", body_with(extra=',"captureMode":"Sometimes"'), "captureMode"),
    ("auto-expire-format", body_with(extra=',"autoExpireIn":"5 minutes"'), "autoExpireIn"),
    ("auto-expire-minutes-60", body_with(extra=',"autoExpireIn":"00:60:00"'), "autoExpireIn"),
    ("auto-expire-30s", body_with(extra=',"autoExpireIn":"00:00:30"'), "autoExpireIn"),
    ("auto-expire-1s", body_with(extra=',"autoExpireIn":"00:00:01"'), "autoExpireIn"),
    ("auto-expire-7d", body_with(extra=',"autoExpireIn":"7.00:00:00"'), "autoExpireIn"),
    ("auto-expire-30d", body_with(extra=',"autoExpireIn":"30.00:00:00"'), "autoExpireIn"),
    ("auto-expire-action", body_with(extra=',"autoExpireAction":"Keep"'), "autoExpireAction"),
    ("expire-at-past", body_with(extra=',"expireAt":"2020-01-01T00:00:00Z"'), "expireAt"),
    ("expire-at-garbage", body_with(extra=',"expireAt":"tomorrow"'), "expireAt"),
    (
        "tips-other-currency",
        body_with(extra=',"tipsAmount":{"value":100,"currencyCode":"EUR"}'),
        "currencyCode",
    ),
    ("tips-negative", body_with(extra=',"tipsAmount":{"value":-1,"currencyCode":"GBP"}'), "tipsAmount.value"),
    ("metadata-not-strings", body_with(extra=',"metadata":{"n":1}'), "metadata.n"),
    (
        "redirect-url",
        body_with(extra=',"config":{"redirectUrl":"javascript:alert(1)"}'),
        "config.redirectUrl",
    ),
]


def test_create_refuses_bad_input(api: Api, unchanged: None) -> None:
    def check(raw: bytes, field: str) -> None:
        assert_validation_problem(send_raw(api, "/payment-intents", raw), field)

    check_each({name: (lambda r=raw, f=field: check(r, f)) for name, raw, field in CREATE_REFUSALS})


def test_every_problem_is_reported_at_once(api: Api, unchanged: None) -> None:
    raw = b'{"amount":{"value":1.5,"currencyCode":"USD"},"colour":"red"}'
    errors = assert_validation_problem(send_raw(api, "/payment-intents", raw))["errors"]
    assert {"amount.value", "amount.currencyCode", "colour", "reference"} <= set(errors)


def test_empty_body_is_refused(api: Api, unchanged: None) -> None:
    assert_problem(send_raw(api, "/payment-intents", b""), 400)
    assert_problem(send_raw(api, "/payment-intents", b"  \n"), 400)


def test_non_json_media_type_is_415(api: Api, unchanged: None) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", None):
        assert_problem(send_raw(api, "/payment-intents", body_with(), content_type), 415)


def test_json_media_type_with_charset_is_accepted(api: Api) -> None:
    response = send_raw(api, "/payment-intents", body_with(), "application/json; charset=utf-8")
    assert response.status_code == 200, response.text


def _padded_body(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes (padding lives in metadata values)."""
    base = {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "Big"}
    metadata = {f"k{i:02d}": "" for i in range(100)}
    raw = json.dumps({**base, "metadata": metadata}).encode()
    per_value, rest = divmod(size - len(raw), 100)
    for i in range(100):
        metadata[f"k{i:02d}"] = "x" * (per_value + (1 if i < rest else 0))
    raw = json.dumps({**base, "metadata": metadata}).encode()
    assert len(raw) == size
    return raw


def test_body_of_exactly_64_kib_is_accepted(api: Api) -> None:
    response = send_raw(api, "/payment-intents", _padded_body(MAX_BODY))
    assert response.status_code == 200, response.text


def test_body_over_64_kib_is_413(api: Api, unchanged: None) -> None:
    assert_problem(send_raw(api, "/payment-intents", _padded_body(MAX_BODY + 1)), 413)


def test_streamed_body_over_64_kib_is_413(api: Api, unchanged: None) -> None:
    chunks = [b'{"reference":"', *([b"a" * 8192] * 9), b'"}']
    response = api.client.post(
        "/payment-intents",
        content=iter(chunks),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert_problem(response, 413)


def test_property_names_are_case_insensitive(api: Api) -> None:
    raw = (
        b'{"Amount":{"Value":1000,"CurrencyCode":"GBP"},"REFERENCE":"Order 5",'
        b'"CaptureMode":"Manual","AutoExpireIn":"00:05:00","AutoExpireAction":"Release"}'
    )
    response = send_raw(api, "/payment-intents", raw)
    assert response.status_code == 200, response.text
    intent = response.json()
    assert intent["amount"] == {"value": 1000, "currencyCode": "GBP"} and intent["reference"] == "Order 5"
    assert intent["captureMode"] == "Manual"
    assert intent["autoExpireIn"] == "00:05:00" and intent["autoExpireAction"] == "Release"


def test_auto_expire_in_inside_the_range_is_accepted(api: Api) -> None:
    for value in ("00:00:31", "00:05:00", "6.23:59:59", "1.00:00:00.5"):
        intent = api.create_intent(captureMode="Manual", autoExpireIn=value, autoExpireAction="Capture")
        assert intent["autoExpireIn"] == value


def test_itemised_request_is_accepted(api: Api) -> None:
    line = {"id": "1", "name": "Tea", "quantity": 2, "amountTotal": {"value": 400, "currencyCode": "GBP"}}
    intent = api.create_intent(400, itemLines=[line])
    assert intent["itemLines"] == [line]


VERSIONS_FOR_NOT_ONLINE = {
    "2024-02-05": False,
    "2025-09-10": False,
    "2026-02-26": False,
    "2026-02-27": True,
    "2030-01-01": True,
}


def test_is_not_online_checkout_needs_version_2026_02_27(api: Api) -> None:
    body = {
        "amount": {"value": 1000, "currencyCode": "GBP"},
        "reference": "Till 1",
        "isNotOnlineCheckout": True,
    }

    def check(version: str, accepted: bool) -> None:
        before = visible_ids(api)
        response = api.client.post(
            "/payment-intents", json=body, headers={**api.headers(), "Version": version}
        )
        if accepted:
            assert response.status_code == 200, response.text
            assert len(visible_ids(api) - before) == 1
        else:
            assert_validation_problem(response, "isNotOnlineCheckout")
            assert visible_ids(api) == before

    check_each({v: (lambda v=v, a=a: check(v, a)) for v, a in VERSIONS_FOR_NOT_ONLINE.items()})


OTHER_REFUSALS: list[tuple[str, str, bytes, str]] = [
    # (case, path suffix, raw body, field)
    ("capture-float", "/captures", b'{"amount":10.0}', "amount"),
    ("capture-zero", "/captures", b'{"amount":0}', "amount"),
    ("capture-string", "/captures", b'{"amount":"100"}', "amount"),
    ("capture-missing", "/captures", b"{}", "amount"),
    ("capture-unknown", "/captures", b'{"amount":100,"reason":"x"}', "reason"),
    ("capture-tips-negative", "/captures", b'{"amount":100,"tipsAmount":-1}', "tipsAmount"),
    ("amount-zero", "/amount", b'{"amount":{"value":0,"currencyCode":"GBP"}}', "amount.value"),
    ("amount-currency", "/amount", b'{"amount":{"value":10,"currencyCode":"USD"}}', "amount.currencyCode"),
    ("amount-missing", "/amount", b'{"itemLines":[]}', "amount"),
    ("amount-other-currency", "/amount", b'{"amount":{"value":10,"currencyCode":"EUR"}}', "amount"),
    ("tips-float", "/tips-amount", b'{"tipsAmount":{"value":1.5,"currencyCode":"GBP"}}', "tipsAmount.value"),
    ("tips-other-currency", "/tips-amount", b'{"tipsAmount":{"value":1,"currencyCode":"EUR"}}', "tipsAmount"),
    ("reversal-with-body", "/reversal", b'{"reason":"x"}', "reason"),
]


def test_other_operations_refuse_bad_input(api: Api) -> None:
    config = {"config": {"payment": {"customAmountAllowed": True, "tipsAllowed": True}}}

    def check(suffix: str, raw: bytes, field: str) -> None:
        intent_id = str(api.create_intent(1000, captureMode="Manual", **config)["id"])
        if suffix in ("/captures", "/reversal"):
            assert api.pay(intent_id).status_code == 200
        before = api.intent(intent_id)
        assert_validation_problem(send_raw(api, f"/payment-intents/{intent_id}{suffix}", raw), field)
        assert api.intent(intent_id) == before

    check_each({name: (lambda s=s, r=r, f=f: check(s, r, f)) for name, s, r, f in OTHER_REFUSALS})


def test_get_refuses_a_malformed_return_canceled(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    assert_validation_problem(api.get(f"/payment-intents/{intent_id}?returnCanceled=maybe"), "returnCanceled")
