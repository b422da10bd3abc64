"""Card data in what the server stores and shows (ADR 0018), on both stores.

A card number is shown with at most its first 6 and last 4 digits and at least 6 hidden, in the
intent's ``paymentEvents`` and ``paymentDetails.card`` and in the stored payment events. The sandbox
request log masks card numbers on decoded values: JSON escapes, duplicate keys, JSON numbers,
form bodies, query strings and bodies that are not JSON never keep a whole number, nor a CVV. The
access log line masks a card number in the path and never carries the query string; a logged
exception's text is masked too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import payment_events
from payintents.service.dependencies import Dependencies
from payintents.web.logs import JsonFormatter
from tests.support import SUCCESS_CARD, Api

CARD = "4111111111111111"
MASKED = "411111******1111"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def with_check_digit(partial: str) -> str:
    """``partial`` completed with its Luhn check digit, so the number is a plausible card."""
    total = 0
    for position, digit in enumerate(reversed(partial)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return partial + str(-total % 10)


def stored_cards(engine: Engine, intent_id: str) -> list[dict[str, str]]:
    with engine.connect() as conn:
        query = select(payment_events.c.card).where(payment_events.c.payment_intent_id == intent_id)
        return [json.loads(card) for card in conn.execute(query).scalars() if card]


def logged(api: Api, deps: Dependencies, query: str = "") -> list[dict[str, Any]]:
    assert deps.request_log is not None
    deps.request_log.flush()
    response = api.get(f"/sandbox/requests{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


# the mask of a paid or declined card ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (with_check_digit("50180000000"), "50******{}"),  # 12 digits: shown whole before
        (with_check_digit("501800000000"), "501******{}"),  # 13: recoverable by its check digit
        (with_check_digit("445653000000101"), "445653******{}"),  # 16
        (with_check_digit("411111111111111111"), "411111*********{}"),  # 19
    ],
)
def test_a_declined_card_shows_at_most_six_and_four_digits_and_hides_six(
    api: Api, engine: Engine, number: str, masked: str
) -> None:
    intent_id = api.create_intent()["id"]
    card = {**SUCCESS_CARD, "cardNumber": number}
    answer = api.client.post(f"/checkout/{intent_id}/pay", json=card)
    expected = masked.format(number[-4:])
    intent = api.intent(intent_id)
    [declined] = [e for e in intent["paymentEvents"] if e["eventType"] == "Declined"]
    assert declined["cardNumber"] == expected
    [stored] = stored_cards(engine, intent_id)
    assert stored["cardNumber"] == expected and stored["last4PAN"] == number[-4:]
    for text in (answer.text, json.dumps(intent), json.dumps(stored)):
        assert number not in text and number[:8] not in text


def test_a_paid_card_is_masked_in_payment_details(api: Api, engine: Engine, deps: Dependencies) -> None:
    intent_id = api.create_intent()["id"]
    assert api.pay(intent_id).status_code == 200
    read = api.get(f"/payment-intents/{intent_id}")
    card = read.json()["paymentDetails"]["card"]
    assert (card["cardNumber"], card["last4PAN"]) == ("520000******1005", "1005")
    assert {c["cardNumber"] for c in stored_cards(engine, intent_id)} == {"520000******1005"}
    # The request log shows the answer as sent: a mask is not masked again.
    [logged_read, _] = logged(api, deps)
    assert logged_read["responseBody"] == read.text


# the sandbox request log ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"amount": 100, "notes": "\\u0034111111111111111"}',  # a JSON escape hides the first digit
        '{"amount": 100, "notes": "4111\\u003111111111111"}',
        '{"amount": 100, "notes": "\\u0034111111111111111", "notes": "x"}',  # a duplicate key (400)
        '{"amount": 100, "notes": 4.111111111111111e15}',  # a JSON number in exponent form (400)
        '{"amount": 100, "notes": "\\u0034111111111111111",',  # not JSON at all (400)
    ],
)
def test_the_request_log_masks_decoded_json_values(api: Api, deps: Dependencies, raw: str) -> None:
    intent_id = api.captured_intent(1000)
    headers = api.headers(IdempotencyKey="card-1", **{"Content-Type": "application/json"})
    api.client.post(f"/payment-intents/{intent_id}/refunds", content=raw, headers=headers)
    [entry] = logged(api, deps, f"?path=/payment-intents/{intent_id}/refunds")
    body = entry["requestBody"]
    assert MASKED in body, body
    for leak in (CARD, "\\u0034111111111111111", "111111111111111"):
        assert leak not in body + entry["responseBody"]


def test_a_body_without_card_data_is_logged_byte_for_byte(api: Api, deps: Dependencies) -> None:
    intent_id = api.captured_intent(1000)
    raw = '{ "amount" :100,"notes":"caf\\u00e9 \\"12\\" 4111"}'
    headers = api.headers(IdempotencyKey="plain-1", **{"Content-Type": "application/json"})
    answer = api.client.post(f"/payment-intents/{intent_id}/refunds", content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    [entry] = logged(api, deps, f"?path=/payment-intents/{intent_id}/refunds")
    assert (entry["requestBody"], entry["responseBody"]) == (raw, answer.text)


def test_the_request_log_masks_card_fields_and_never_keeps_a_cvv(api: Api, deps: Dependencies) -> None:
    body = {
        "amount": {"value": 100, "currencyCode": "GBP"},
        "cardNumber": "4111 1111 1111 1111x",
        "cvv": "737",
    }
    assert api.post("/payment-intents", body).status_code == 400
    [entry] = logged(api, deps)
    logged_body = json.loads(entry["requestBody"])
    assert (logged_body["cardNumber"], logged_body["cvv"]) == (MASKED, "***")
    assert logged_body["amount"] == body["amount"]


def test_the_request_log_masks_form_bodies(api: Api, deps: Dependencies) -> None:
    form = "cardNumber=%34111+1111+1111+1111&cvv=737&expiryDate=12%2F29"
    headers = api.headers(**{"Content-Type": "application/x-www-form-urlencoded"})
    assert api.client.post("/payment-intents", content=form, headers=headers).status_code == 415
    [entry] = logged(api, deps)
    assert entry["requestBody"] == f"cardNumber={MASKED}&cvv=***&expiryDate=12%2F29"


def test_the_request_log_masks_query_strings_and_paths(api: Api, deps: Dependencies) -> None:
    api.get(f"/payment-intents/search?reference=%34{CARD[1:]}&cardNumber={CARD}")
    api.get(f"/payment-intents/{CARD}")
    [by_path, search] = logged(api, deps)
    assert search["path"] == f"/payment-intents/search?reference={MASKED}&cardNumber={MASKED}"
    assert by_path["path"] == f"/payment-intents/{MASKED}"


def test_access_log_lines_mask_the_path_and_leave_out_the_query(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="payintents.access"):
        api.get(f"/payment-intents/{CARD}")
        api.get(f"/payment-intents/search?cardNumber={CARD}")
    lines = [r.getMessage() for r in caplog.records if r.name == "payintents.access"]
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        f"GET /payment-intents/{MASKED}",
        "GET /payment-intents/search",
    ]
    assert not any(CARD in line or "cardNumber" in line for line in lines)


def test_a_logged_exception_never_carries_a_card_number() -> None:
    try:
        raise KeyError(f"card {CARD}")
    except KeyError:
        record = logging.LogRecord("payintents", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert CARD not in line["exception"] and MASKED in line["exception"]
