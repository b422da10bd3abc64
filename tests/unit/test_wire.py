"""The request-body schema walker ``payintents.web.wire.validate`` on Dojo's real request schemas:
case-insensitive names, unknown and duplicate properties, required vs nullable, error paths into
nested objects and arrays, and strict integers."""

from __future__ import annotations

from typing import Any

import pytest

from payintents.domain.errors import ValidationError
from payintents.domain.money import MAX_AMOUNT
from payintents.web import request_schemas as schemas
from payintents.web.wire import Field, Obj, integer, string, validate

GBP_10 = {"value": 1000, "currencyCode": "GBP"}


def errors_of(schema: Obj, body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        validate(schema, body)
    return raised.value.errors


def test_names_are_matched_case_insensitively_and_returned_canonical() -> None:
    body = {
        "AMOUNT": {"Value": 1000, "CURRENCYCODE": "GBP"},
        "Reference": "Order 1",
        "AutoExpireIn": "00:05:00",
    }
    assert validate(schemas.CREATE_PAYMENT_INTENT.shape, body) == {
        "amount": GBP_10,
        "reference": "Order 1",
        "autoExpireIn": "00:05:00",
    }


def test_a_refund_body_comes_back_canonical_with_nulls_kept() -> None:
    body = {"Amount": 400, "refundreason": None, "NOTES": "n"}
    assert validate(schemas.CREATE_REFUND.shape, body) == {"amount": 400, "refundReason": None, "notes": "n"}


def test_unknown_properties_are_refused_by_name() -> None:
    errors = errors_of(schemas.CREATE_REFUND.shape, {"amount": 1, "amountt": 2})
    assert list(errors) == ["amountt"]
    assert "not allowed" in errors["amountt"][0]


def test_unknown_nested_property_is_reported_at_its_path() -> None:
    body = {"amount": {**GBP_10, "extra": 1}, "reference": "r"}
    assert list(errors_of(schemas.CREATE_PAYMENT_INTENT.shape, body)) == ["amount.extra"]


def test_duplicates_by_case_are_refused() -> None:
    errors = errors_of(schemas.CREATE_REFUND.shape, {"amount": 1, "Amount": 2})
    assert list(errors) == ["Amount"]
    assert "more than once" in errors["Amount"][0]


def test_required_fields_are_reported_missing() -> None:
    errors = errors_of(schemas.CREATE_PAYMENT_INTENT.shape, {})
    assert set(errors) == {"amount", "reference"}
    assert errors["amount"] == ["The amount field is required."]


def test_required_fields_must_not_be_null_but_optional_ones_may() -> None:
    errors = errors_of(schemas.CREATE_REFUND.shape, {"amount": None})
    assert errors == {"amount": ["The amount field must not be null."]}
    assert validate(schemas.CREATE_REFUND.shape, {"amount": 1, "notes": None})["notes"] is None


def test_nested_paths_name_array_items() -> None:
    body = {
        "amount": GBP_10,
        "reference": "r",
        "itemLines": [
            {"name": "ok", "amountTotal": GBP_10},
            {"name": "missing total"},
            {"amountTotal": {"value": 1.0, "currencyCode": "USD"}},
        ],
    }
    errors = errors_of(schemas.CREATE_PAYMENT_INTENT.shape, body)
    assert set(errors) == {
        "itemLines[1].amountTotal",
        "itemLines[2].amountTotal.value",
        "itemLines[2].amountTotal.currencyCode",
    }


def test_every_problem_is_reported_at_once() -> None:
    body = {"amount": {"value": 0, "currencyCode": "XXX"}, "reference": "", "captureMode": "Sometimes"}
    assert set(errors_of(schemas.CREATE_PAYMENT_INTENT.shape, body)) == {
        "amount.value",
        "amount.currencyCode",
        "reference",
        "captureMode",
    }


@pytest.mark.parametrize("value", [1, 400, MAX_AMOUNT])
def test_amounts_accept_integers_in_range(value: int) -> None:
    assert validate(schemas.CREATE_REFUND.shape, {"amount": value})["amount"] == value


@pytest.mark.parametrize(
    "value", [0, -1, MAX_AMOUNT + 1, 10.0, 1e2, 1.5, True, False, "400", [400], {"v": 1}]
)
def test_amounts_refuse_anything_else(value: Any) -> None:
    assert list(errors_of(schemas.CREATE_REFUND.shape, {"amount": value})) == ["amount"]


def test_integer_check_is_strict_about_bool_and_float() -> None:
    schema = Obj({"n": Field(integer(0, 10))})
    assert validate(schema, {"n": 10}) == {"n": 10}
    for bad in (True, 3.0, "3", 11, -1):
        assert list(errors_of(schema, {"n": bad})) == ["n"]


def test_strings_check_type_and_length() -> None:
    schema = Obj({"s": Field(string(3, 1))})
    assert validate(schema, {"s": "abc"}) == {"s": "abc"}
    for bad in ("", "abcd", 1, True, ["a"]):
        assert list(errors_of(schema, {"s": bad})) == ["s"]


@pytest.mark.parametrize("body", [[], "amount", 1, None, True])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    assert list(errors_of(schemas.CREATE_REFUND.shape, body)) == ["$"]


def test_nested_objects_must_be_objects() -> None:
    errors = errors_of(schemas.CREATE_PAYMENT_INTENT.shape, {"amount": 1000, "reference": "r"})
    assert list(errors) == ["amount"]


def test_uri_and_date_time_formats() -> None:
    base = {"amount": GBP_10, "reference": "r"}
    ok = {**base, "config": {"redirectUrl": "https://example.com/x"}, "expireAt": "2026-04-01T00:00:00Z"}
    assert validate(schemas.CREATE_PAYMENT_INTENT.shape, ok)["expireAt"] == "2026-04-01T00:00:00Z"
    bad = {**base, "config": {"redirectUrl": "javascript:alert(1)"}, "expireAt": "tomorrow"}
    assert set(errors_of(schemas.CREATE_PAYMENT_INTENT.shape, bad)) == {"config.redirectUrl", "expireAt"}


@pytest.mark.parametrize(
    "moment", ["tomorrow", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_impossible_date_times_are_validation_errors(moment: str) -> None:
    body = {"amount": GBP_10, "reference": "r", "expireAt": moment}
    assert list(errors_of(schemas.CREATE_PAYMENT_INTENT.shape, body)) == ["expireAt"]


def test_extreme_but_real_date_times_are_accepted() -> None:
    body = {"amount": GBP_10, "reference": "r", "expireAt": "9999-12-31T23:59:59Z"}
    assert validate(schemas.CREATE_PAYMENT_INTENT.shape, body)["expireAt"] == "9999-12-31T23:59:59Z"


def test_metadata_values_must_be_strings() -> None:
    body = {"amount": GBP_10, "reference": "r", "metadata": {"a": "1", "b": 2}}
    assert list(errors_of(schemas.CREATE_PAYMENT_INTENT.shape, body)) == ["metadata.b"]
