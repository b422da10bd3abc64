"""Schemathesis hooks for the conformance runs (loaded by ``st`` through SCHEMATHESIS_HOOKS).

JSON Schema cannot say that a date must lie in the future, that a cursor must be one the server
issued, or that a body field exists only from a given API version on. So, for *positive* test
cases only, these hooks turn such values into ones the server's documented rules accept; negative
cases are left as generated. Every check stays as strict as schemathesis makes it.

They also keep injected sandbox delays (``fail-next`` "slow", up to 30 s) short, in every mode,
without moving a value across the valid range, so one run fits the test suite's time budget.

Dojo answers some state rule breaks with 400 (refund more than is left, cancel a captured intent):
the run's config lets ``positive_data_acceptance`` take a 400 on exactly those operations, and the
check ``schema_valid_input_is_not_called_invalid`` here keeps that honest everywhere: a
schema-valid request may meet a rule break, never a validation failure (a 400 with ``errors``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import Case, GenerationMode, HookContext, Response

from payintents.domain.money import MAX_AMOUNT
from payintents.domain.sandbox import MAX_DELAY_MS
from payintents.web.cursors import encode_cursor
from payintents.web.http_input import FIELDS_SINCE, FIELDS_UNTIL, SUPPORTED_VERSIONS
from payintents.web.setup_intent_routes import MAX_SETUP_INTENT_ID_LENGTH

# Beyond the furthest the sandbox clock can be moved (10 years ahead of real time).
FAR_FUTURE = "2100-01-01T00:00:00Z"
SHORT_DELAY_MS = 50
EXTRA_AMOUNTS = ("tipsAmount", "cashbackAmount", "serviceChargeAmount")
# The account clock moves forward only, and at most 10 years in all: whether a valid move is taken
# depends on where earlier requests (in whatever order they ran) left it, and the refusal names
# the field. The run's config lets positive_data_acceptance take its 400 too.
# A matched refund in another currency than its intent's is a state rule naming its field.
FIELD_NAMED_STATE_RULES = frozenset({"POST /sandbox/clock/advance", "POST /terminal-sessions"})
# Successive clock targets a day apart, so a "to" never moves the clock backwards (the "seconds"
# moves between two of them add up to far less than a day).
_CLOCK_STEPS = itertools.count(1)


@schemathesis.check
def schema_valid_input_is_not_called_invalid(ctx: Any, response: Response, case: Case) -> bool | None:
    operation = f"{case.method.upper()} {case.path}"
    if not _is_positive(case) or response.status_code != 400 or operation in FIELD_NAMED_STATE_RULES:
        return None
    problem = response.json()
    if isinstance(problem, dict) and problem.get("errors"):
        raise AssertionError(f"A schema-valid request was refused as invalid: {problem['errors']}")
    return None


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    return _adjusted(case)


@schemathesis.hook
def before_add_examples(context: HookContext, examples: list[Case]) -> None:
    """The examples phase takes no ``map_case``: adjust its cases here."""
    examples[:] = [_adjusted(case) for case in examples]


def _adjusted(case: Case) -> Case:
    # Generators reuse body objects between cases: every change goes into a fresh copy.
    if not isinstance(case.body, dict):
        return case
    operation = f"{case.method.upper()} {case.path}"
    if operation == "POST /sandbox/payment-intents/{paymentIntentId}/fail-next":
        case.body = _with_short_delay(dict(case.body))
    if not _is_positive(case):
        return case
    make_valid = POSITIVE_ADJUSTMENTS.get(operation)
    if make_valid is not None:
        case.body = make_valid(dict(case.body))
    if any(case.body.get(name) is not None for name in FIELDS_SINCE):
        case.body.pop("transactionSource", None)
        case.headers = {**(case.headers or {}), "version": SUPPORTED_VERSIONS[-1].isoformat()}
    elif any(case.body.get(name) is not None for name in FIELDS_UNTIL):
        case.headers = {**(case.headers or {}), "version": SUPPORTED_VERSIONS[0].isoformat()}
    return case


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE


def _with_short_delay(body: dict[str, Any]) -> dict[str, Any]:
    delay = body.get("delayMs")
    if isinstance(delay, int) and not isinstance(delay, bool) and 0 <= delay <= MAX_DELAY_MS:
        return {**body, "delayMs": delay % SHORT_DELAY_MS}
    return body


def _valid_new_intent(body: dict[str, Any]) -> dict[str, Any]:
    """expireAt must be in the future; autoExpireIn a .NET TimeSpan over 30 s and under 7 days;
    every amount in one currency, adding up to at most 2^53 - 1."""
    if isinstance(body.get("expireAt"), str):
        body["expireAt"] = FAR_FUTURE
    if isinstance(body.get("autoExpireIn"), str):
        body["autoExpireIn"] = "01:00:00"
    if body.get("transactionSource") is not None and body.get("cardHolderNotPresent") is False:
        body["cardHolderNotPresent"] = True  # MOTO means the cardholder is not present
    setup_intent_id = body.get("setupIntentId")
    if isinstance(setup_intent_id, str) and not 0 < len(setup_intent_id) <= MAX_SETUP_INTENT_ID_LENGTH:
        # Names no setup intent a server could mint; the stateful phase's inferred links would
        # carry it into the setup-intent paths (whose id is 1 to 50 characters): "" reaches
        # another route, a longer one is refused as invalid although it came from a response.
        del body["setupIntentId"]
    body = _lines_named_once(body)
    amount = body.get("amount")
    if not isinstance(amount, dict):
        return body
    extras = [name for name in EXTRA_AMOUNTS if isinstance(body.get(name), dict)]
    for name in extras:
        body[name] = {**body[name], "currencyCode": amount.get("currencyCode")}
    if sum(_value(body[name]) for name in ("amount", *extras)) > MAX_AMOUNT:
        for name in extras:
            body[name] = {**body[name], "value": _small(_value(body[name]), 1000, 0)}
        body["amount"] = {**amount, "value": min(_value(amount), MAX_AMOUNT - 1000 * len(extras))}
    return body


def _lines_named_once(body: dict[str, Any]) -> dict[str, Any]:
    """An item line's caption is the older name of its name: both, and different, is a 400."""
    lines = body.get("itemLines")
    if isinstance(lines, list):
        body["itemLines"] = [
            {k: v for k, v in line.items() if k != "caption"}
            if isinstance(line, dict) and line.get("name") is not None
            else line
            for line in lines
        ]
    return body


def _value(money: dict[str, Any]) -> int:
    value = money.get("value")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _with_issued_cursor(body: dict[str, Any]) -> dict[str, Any]:
    """A cursor is opaque: only one the server issued is valid, and only one direction at a time."""
    cursor = body.get("cursor")
    if not isinstance(cursor, dict):
        return body
    position = encode_cursor(datetime(2024, 2, 5, tzinfo=UTC), "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA")
    cursor = dict(cursor)
    if cursor.get("after"):
        cursor["after"] = position
        cursor.pop("before", None)
    elif cursor.get("before"):
        cursor["before"] = position
    return {**body, "cursor": cursor}


def _forward_clock_move(body: dict[str, Any]) -> dict[str, Any]:
    """Exactly one of seconds or to, forward only, within the 10 years the clock may move."""
    if body.get("to") is not None:
        return {"to": (datetime.now(UTC) + timedelta(days=next(_CLOCK_STEPS))).isoformat()}
    seconds = body.get("seconds")
    return {"seconds": seconds % 60 if isinstance(seconds, int) else 1}


def _small(value: Any, modulus: int, low: int) -> Any:
    return value % modulus + low if isinstance(value, int) and not isinstance(value, bool) else value


def _within_remaining(body: dict[str, Any]) -> dict[str, Any]:
    """Captures and refunds never exceed what is left on the (large) intents the run is pinned to."""
    body["amount"] = _small(body.get("amount"), 1000, 1)
    if "tipsAmount" in body:
        body["tipsAmount"] = _small(body["tipsAmount"], 100, 0)
    return body


def _in_intent_currency(body: dict[str, Any]) -> dict[str, Any]:
    """A new amount or tips must be in the pinned intent's currency (GBP), and keep its total in range."""
    for name in ("amount", "tipsAmount"):
        money = body.get(name)
        if isinstance(money, dict):
            body[name] = {**money, "currencyCode": "GBP", "value": _small(money.get("value"), 10**6, 1)}
    return _lines_named_once(body)


_DETAIL_OF = {"Sale": "sale", "MatchedRefund": "matchedRefund", "UnlinkedRefund": "unlinkedRefund"}


def _one_matching_detail(body: dict[str, Any]) -> dict[str, Any]:
    """A session carries exactly the detail object its sessionType names (its description says
    so; OpenAPI 3.0 could say it only with a oneOf schemathesis cannot generate from)."""
    details = body.get("details")
    if not isinstance(details, dict) or details.get("sessionType") not in _DETAIL_OF:
        return body
    named = _DETAIL_OF[details["sessionType"]]
    kept = {"sessionType": details["sessionType"]}
    if isinstance(details.get(named), dict):
        kept[named] = details[named]
    else:
        amount = {"value": 100, "currencyCode": "GBP"}
        kept[named] = {"amount": amount} if named == "unlinkedRefund" else {"paymentIntentId": "pi_sandbox_x"}
    return {**body, "details": kept}


def _valid_new_setup_intent(body: dict[str, Any]) -> dict[str, Any]:
    """expireAt in the future; a customer named by id must exist, so none is named."""
    if isinstance(body.get("expireAt"), str):
        body["expireAt"] = FAR_FUTURE
    customer = body.get("customer")
    if isinstance(customer, dict) and customer.get("id") is not None:
        body["customer"] = {k: v for k, v in customer.items() if k != "id"}
    return body


def _one_direction(body: dict[str, Any]) -> dict[str, Any]:
    """The customers' cursors are mutually exclusive: before or after, not both."""
    if body.get("before") and body.get("after"):
        body.pop("before")
    return body


POSITIVE_ADJUSTMENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "POST /terminal-sessions": _one_matching_detail,
    "POST /setup-intents": _valid_new_setup_intent,
    "POST /customers/search": _one_direction,
    "POST /payment-intents": _valid_new_intent,
    "POST /payment-intents/search": _with_issued_cursor,
    "POST /sandbox/clock/advance": _forward_clock_move,
    "POST /payment-intents/{paymentIntentId}/captures": _within_remaining,
    "POST /payment-intents/{paymentIntentId}/refunds": _within_remaining,
    "POST /payment-intents/{paymentIntentId}/amount": _in_intent_currency,
    "POST /payment-intents/{paymentIntentId}/tips-amount": _in_intent_currency,
}
