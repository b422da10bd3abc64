"""Idempotency decisions in the pure domain: the key's shape, request fingerprints, and whether a
stored answer is replayed or the reuse is a conflict."""

from __future__ import annotations

import pytest

from payintents.domain.errors import IdempotencyConflictError, ValidationError
from payintents.domain.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyRecord,
    StoredResponse,
    check_key,
    fingerprint,
    replay,
)


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_refused_when_required(key: str | None) -> None:
    with pytest.raises(ValidationError) as raised:
        check_key(key, required=True)
    assert list(raised.value.errors) == ["idempotencyKey"]


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_none_when_optional(key: str | None) -> None:
    assert check_key(key, required=False) is None


def test_key_of_100_characters_is_accepted_and_101_refused() -> None:
    assert MAX_KEY_LENGTH == 100
    assert check_key("k" * 100, required=True) == "k" * 100
    for required in (True, False):
        with pytest.raises(ValidationError) as raised:
            check_key("k" * 101, required=required)
        assert "100" in raised.value.errors["idempotencyKey"][0]


@pytest.mark.parametrize("key", ["656565gfyd65", "~!@#$%^&*()_+{}|:<>?", "a b", "x"])
def test_printable_ascii_keys_are_accepted(key: str) -> None:
    assert check_key(key, required=True) == key


def test_surrounding_spaces_are_dropped_as_a_server_drops_them() -> None:
    assert check_key("  abc \t", required=True) == "abc"
    assert check_key("   ", required=False) is None
    with pytest.raises(ValidationError):
        check_key("   ", required=True)


@pytest.mark.parametrize("key", ["tab\there", "nl\n", "nul\x00", "del\x7f", "esc\x1b", "bell\x07"])
def test_non_printable_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_key(key, required=False)
    assert list(raised.value.errors) == ["idempotencyKey"]


@pytest.mark.parametrize("key", ["clé", "ключ", "key\u00a0", "emoji🙂", "\ud800"])
def test_non_ascii_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        check_key(key, required=True)


def test_fingerprint_is_equal_for_equal_canonical_bodies() -> None:
    one = fingerprint("refund", {"amount": 400, "notes": "x", "refundReason": None})
    other = fingerprint("refund", {"refundReason": None, "notes": "x", "amount": 400})
    assert one == other
    assert len(one) == 64 and all(ch in "0123456789abcdef" for ch in one)


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("refund", {"amount": 401}),
        ("refund", {"amount": 400, "notes": "x"}),
        ("refund", {"amount": "400"}),
        ("capture", {"amount": 400}),
        ("refund", {"Amount": 400}),
        ("refund", [400]),
    ],
)
def test_fingerprint_differs_for_different_requests(operation: str, body: object) -> None:
    assert fingerprint(operation, body) != fingerprint("refund", {"amount": 400})


def test_replay_returns_the_stored_response() -> None:
    stored = StoredResponse(200, b'{"refundId":"rfnd_1"}')
    record = IdempotencyRecord(fingerprint("refund", {"amount": 1}), stored)
    assert replay(record, fingerprint("refund", {"amount": 1})) is stored


def test_replay_with_a_different_fingerprint_is_a_conflict() -> None:
    record = IdempotencyRecord(fingerprint("refund", {"amount": 1}), StoredResponse(200, b"{}"))
    with pytest.raises(IdempotencyConflictError):
        replay(record, fingerprint("refund", {"amount": 2}))


def test_replay_of_an_unfinished_record_is_a_conflict_not_an_empty_answer() -> None:
    same = fingerprint("refund", {"amount": 1})
    with pytest.raises(IdempotencyConflictError):
        replay(IdempotencyRecord(same, None), same)
