"""Masking card data in recorded bodies and query strings (``payintents.web.card_masking``): on
decoded values, whatever escape or encoding hides a number, keeping a body without card data as
sent, and never producing text a store refuses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payintents.web.card_masking import _JSON_TOKEN, _JsonMasker, _may_hold_card_data, mask_body, mask_query

CARD = "4111111111111111"
MASKED = "411111******1111"


@pytest.mark.parametrize(
    ("body", "masked"),
    [
        ('{"notes": "\\u0034111111111111111"}', f'{{"notes": "{MASKED}"}}'),
        ('{"a":[1,"\\u0034111 1111 1111 1111"]}', f'{{"a":[1,"{MASKED}"]}}'),
        (f'{{"{CARD}": true}}', f'{{"{MASKED}": true}}'),  # a key
        (f'{{"\\u0034{CARD[1:]}" :1}}', f'{{"{MASKED}" :1}}'),
        (f'{{"n": {CARD}}}', f'{{"n": "{MASKED}"}}'),  # a JSON number becomes a string
        ('{"n": 4.111111111111111e15}', f'{{"n": "{MASKED}"}}'),
        (f'{{"n": -{CARD}.0}}', f'{{"n": "-{MASKED}"}}'),
        ('{"n": 41111111111111111111}', '{"n": 41111111111111111111}'),  # 20 digits: no card
        ('{"CardNumber": "x4111-1111.1111.1111"}', f'{{"CardNumber": "{MASKED}"}}'),  # masked whole
        ('{"cardNumber": 501800000009}', '{"cardNumber": "50******0009"}'),
        ('{"cardNumber": "none"}', '{"cardNumber": "none"}'),
        (
            '{"cardNumber": "520000******1005", "n": "\\u0034"}',
            '{"cardNumber": "520000******1005", "n": "\\u0034"}',
        ),
        ('{"cvv": "737", "CVV": 737, "cvc": ""}', '{"cvv": "***", "CVV": "***", "cvc": ""}'),
        ('{"a": "x", "a": "\\u0034111111111111111"}', f'{{"a": "x", "a": "{MASKED}"}}'),  # duplicates
    ],
)
def test_json_is_masked_token_by_token(body: str, masked: str) -> None:
    assert mask_body(body, "application/json") == masked


@pytest.mark.parametrize(
    "body",
    [
        '{ "amount" :100,\n "notes":"caf\\u00e9 \\"12\\" \\ud800"}',
        '[1.5e3, -0, null, true, NaN, "2026-03-01T12:00:00Z"]',
        '{"cardNumber":"520000******1005","CardNumber":null,"cardNumber":"50******0009"}',  # masks
        '{"traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}',
        "",
        "plain text, order 1234",
    ],
)
def test_a_body_without_card_data_is_kept_as_sent(body: str) -> None:
    assert mask_body(body, "application/json") == body


@pytest.mark.parametrize(
    ("body", "masked"),
    [
        ('{"notes": "\\u0034111111111111111",', f'{{"notes": "{MASKED}",'),  # not JSON
        ("notes=%34" + "%31" * 15, f"notes={MASKED}"),  # a form sent as something else
        (f"card {CARD} and \\u0034111111111111111", f"card {MASKED} and {MASKED}"),
        ("cardNumber=4111+1111+1111+1111", f"cardNumber={MASKED}"),
        ("[" * 5000 + f'"{CARD}"', "[" * 5000 + f'"{MASKED}"'),  # too deep to parse
        ('{"a": "\\ud800", "b": "\\u0034111111111111111"', f'{{"a": "\\ud800", "b": "{MASKED}"'),
    ],
)
def test_text_that_is_not_json_is_masked_with_its_escapes_decoded(body: str, masked: str) -> None:
    assert mask_body(body, "text/plain") == masked


def test_json_sent_as_a_form_is_masked_as_json() -> None:
    body = '{"notes": "\\u0034111111111111111"}'
    assert mask_body(body, "application/x-www-form-urlencoded") == f'{{"notes": "{MASKED}"}}'


def test_a_lone_surrogate_beside_a_card_number_stays_storable() -> None:
    masked = mask_body('{"a": "\\ud800", "b": 4111111111111111}')
    assert masked == f'{{"a": "\\ud800", "b": "{MASKED}"}}'
    masked.encode("utf-8")


def test_a_long_body_is_masked_whole() -> None:
    body = json.dumps({"notes": "x " * 30_000 + CARD, "more": ["\\u0034"] * 1000})
    assert CARD not in mask_body(body) and MASKED in mask_body(body)


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        (f"cardNumber={CARD}&reference=a", f"cardNumber={MASKED}&reference=a"),
        (f"reference=%34{CARD[1:]}", f"reference={MASKED}"),
        (f"{CARD}=1", f"{MASKED}=1"),
        ("cvv=020&cardNumber=4111%201111%201111%201111", f"cvv=***&cardNumber={MASKED}"),
        ("limit=10&path=/payment-intents/x%20y", "limit=10&path=/payment-intents/x%20y"),  # as sent
        ("notes=\\u0034111111111111111", f"notes={MASKED}"),
    ],
)
def test_query_strings_and_form_bodies_are_masked_when_decoded(query: str, masked: str) -> None:
    assert mask_query(query) == masked
    assert mask_body(query, "application/x-www-form-urlencoded; charset=utf-8") == masked


keys = st.sampled_from(["cardNumber", "CARDNUMBER", "cvv", "Cvc", "securityCode", "note", "4111111111111111"])
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False)
    | st.text(alphabet='0123456789 -eE*x"\\é٤', max_size=40)
    | st.sampled_from(["520000******1005", "4111 1111 1111 1111", CARD])
)
documents = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)
)


@given(documents, st.booleans(), st.sampled_from([None, 1]))
def test_the_quick_check_never_skips_what_the_careful_pass_would_mask(
    document: object, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    careful = _JSON_TOKEN.sub(_JsonMasker().token, text)
    assert mask_body(text) == careful
    assert careful == text or _may_hold_card_data(text)
