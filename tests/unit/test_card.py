"""The one card-number mask (``payintents.domain.card``): at most the first 6 and last 4 digits
shown and at least 6 always hidden, whatever the length; and which text counts as a card number
(12-19 digits, plain, spaced or dashed, standing alone)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payintents.domain.card import mask_card_number, mask_card_numbers, shown_last_digits

card_numbers = st.text(alphabet="0123456789", min_size=8, max_size=19)


@given(card_numbers)
def test_at_least_six_digits_are_hidden_and_at_most_six_plus_four_shown(number: str) -> None:
    masked = mask_card_number(number)
    assert len(masked) == len(number)
    first = len(masked) - len(masked.lstrip("0123456789"))
    last = len(masked) - len(masked.rstrip("0123456789"))
    assert masked.count("*") >= 6
    assert masked == number[:first] + "*" * (len(number) - first - last) + number[len(number) - last :]
    assert first <= 6 and last <= 4


@given(card_numbers)
def test_last4pan_is_what_the_mask_shows_at_the_end(number: str) -> None:
    last = shown_last_digits(number)
    assert mask_card_number(number).endswith(last) and len(last) <= 4
    assert "*" not in last and len(number) - len(last) >= 6


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("5200000000001005", "520000******1005"),  # 16 digits: 6 + 4, as PCI DSS allows
        ("4111111111111111111", "411111*********1111"),  # 19 digits
        ("5018000000009", "501******0009"),  # 13 digits: 3 + 4, the check digit no help
        ("501800000009", "50******0009"),  # 12 digits: once shown whole
        ("4111111111", "******1111"),  # 10 digits: the last 4 only
        ("41111111", "******11"),  # 8 digits: 2 shown
        ("411111", "******"),
        ("", ""),
        ("4111 1111 1111 1111", "411111******1111"),  # separators are not digits
    ],
)
def test_short_numbers_show_less(number: str, masked: str) -> None:
    assert mask_card_number(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", "411111******1111"),
        ("4111 1111 1111 1111", "411111******1111"),
        ("4111-1111-1111-1111", "411111******1111"),
        ('{"cardNumber":"5200000000001005"}', '{"cardNumber":"520000******1005"}'),
        ("123456789012", "12******9012"),  # 12 digits, the shortest masked
        ("4111111111111111111", "411111*********1111"),  # 19 digits, the longest
        ("cards 4456530000001013 and 5200 0000 0000 1096.", "cards 445653******1013 and 520000******1096."),
        # a UUID is kept, a card beside it is not
        (
            "a4ef0742-4563-4643-8763-7e380882b351 4111-1111-1111-1111",
            "a4ef0742-4563-4643-8763-7e380882b351 411111******1111",
        ),
        ("x4ef0742-4563-4643-8763-7e380882b351", "x4ef0742-45******8763-7e380882b351"),  # not a UUID
    ],
)
def test_card_numbers_in_text_keep_at_most_first_six_and_last_four(text: str, masked: str) -> None:
    assert mask_card_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"amount": 1000, "currencyCode": "GBP"}',
        "12345678901",  # 11 digits: too short for a card
        "12345678901234567890",  # 20 digits: too long for a card
        "2026-03-01T12:00:00.123456Z",
        "020 7946 0958",  # a phone number: 11 digits
        "pi_sandbox_AbCdEfGhIjKlMnOpQrStUv",
        "4111  1111  1111  1111",  # double spaces break the grouping
        "order 1234, cvv 020, expiry 12/29",
        # UUIDs (transactionId) whose digit groups would make a card number's length
        "a4ef0742-4563-4643-8763-7e380882b351",
        "12345678-1234-1234-1234-123456789012",
        '{"transactionId":"4563A643-1234-5678-9012-7E380882B351"}',
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert mask_card_numbers(text) == text
