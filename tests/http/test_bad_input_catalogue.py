"""The bad-input catalogue: malformed and hostile requests against refunds, captures and receipts.

Each row sends one request that must be refused, and asserts the specific 4xx, Dojo's error body,
that nothing internal leaks, and that it changed nothing: every table reads the same afterwards
(the sandbox request log aside: it records rejected requests by design, so a row may add exactly
the one entry that describes its own refusal), and ``payintents audit`` stays clean. All rows of
a backend share one world (tests/http/bad_input_world.py); since no row may change it, each row
starts from the same state.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.schema import metadata, sandbox_requests
from tests.http.bad_input_world import (
    CAPTURE_ON_M,
    EPOS_HEADERS,
    KEY_CAPTURED_ON_M,
    KEY_REFUNDED_ON_A,
    REFUND_ON_A,
    Auth,
    Row,
    World,
    check_problem,
    find_leak,
    is_logged,
    j,
    money_and_state,
    running_world,
    send,
)
from tests.support import backend_database_url

MAX_AMOUNT = 2**53 - 1
UNAUTHORIZED = "A valid API key is required"
NOT_FOUND = "The payment intent does not exist."
KEY_CONFLICT = "already used for a different request"
OVER_CAPTURE = f"exceeds the remaining authorized amount {1000 - CAPTURE_ON_M}"


def cap(name: str, status: int, body: Any = None, **kw: Any) -> Row:
    """A row against M's captures (a valid capture of 100 there would succeed)."""
    raw = body if isinstance(body, bytes) else j({"amount": 100} if body is None else body)
    return Row(name, status, raw, op="captures", target="M", **kw)


def receipt(name: str, status: int, body: Any = None, **kw: Any) -> Row:
    """A row against A's receipt (a valid one to one address would be recorded in the outbox)."""
    raw = body if isinstance(body, bytes) else j({"emails": ["ada@example.com"]} if body is None else body)
    return Row(name, status, raw, op="receipt", **kw)


def amount(name: str, value: Any, **kw: Any) -> Row:
    return Row(name, 400, j({"amount": value}), errors="amount", **kw)


def raw(name: str, body: bytes, status: int = 400, **kw: Any) -> Row:
    return Row(name, status, body, **kw)


def auth(name: str, value: Auth, status: int = 401, **kw: Any) -> Row:
    detail = UNAUTHORIZED if status == 401 else NOT_FOUND
    return Row(name, status, auth=value, detail=detail, **kw)


def key(name: str, value: str | bytes | None, status: int = 400, **kw: Any) -> Row:
    kw.setdefault("errors", "idempotencyKey" if status == 400 else None)
    return Row(name, status, headers={"IdempotencyKey": value}, **kw)


def id_row(name: str, intent_path: str, **kw: Any) -> Row:
    return Row(name, 404, path=f"/payment-intents/{intent_path}/refunds", **kw)


def ctype(name: str, value: str | None, body: bytes = j({"amount": 100}), **kw: Any) -> Row:
    return Row(name, 415, body, headers={"Content-Type": value}, **kw)


def version(name: str, value: str | None, **kw: Any) -> Row:
    return Row(name, 400, headers={"Version": value}, errors="version", **kw)


def padded(size: int) -> bytes:
    """A refund body of exactly ``size`` bytes, its notes far over their 4096 characters."""
    frame = j({"amount": 100, "notes": ""})
    return frame[:-2] + b"n" * (size - len(frame)) + frame[-2:]


def nested(depth: int) -> bytes:
    return b'{"amount":100,"notes":' + b"[" * depth + b"]" * depth + b"}"


VALID = '{"amount":100,"notes":"x"}'
BIG_NOTES = j({"amount": 100, "notes": "x" * 70_000})

AUTH_ROWS = [
    auth("auth-missing", None),
    auth("auth-scheme-only", "Basic"),
    auth("auth-bearer-scheme", "Bearer {sandbox}"),
    auth(
        "auth-base64-key-colon", lambda k: "Basic " + base64.b64encode(f"{k['sandbox']}:".encode()).decode()
    ),
    auth("auth-unknown-key", "Basic sk_sandbox_" + "A" * 86),
    auth("auth-legacy-test-prefix", "Basic sk_test_" + "A" * 86),
    auth("auth-key-with-suffix", "Basic {sandbox}x"),
    auth("auth-key-truncated", lambda k: "Basic " + k["sandbox"][:-1]),
    auth("auth-key-upper-case", lambda k: "Basic " + k["sandbox"].upper()),
    auth("auth-key-quoted", 'Basic "{sandbox}"'),
    auth("auth-key-twice", "Basic {sandbox}, Basic {sandbox}"),
    auth("auth-nul-after-key", "Basic {sandbox}\x00"),
    # Authentication comes before the body is read as JSON (docs/api.md "Order of checks").
    Row("auth-missing-and-broken-json", 401, b'{"amount":', auth=None, detail=UNAUTHORIZED),
    auth("prod-key-on-sandbox-intent", "Basic {prod}", 404),
    auth("other-account-key", "Basic {other}", 404),
    Row("sandbox-key-on-prod-intent", 404, target="P", detail=NOT_FOUND),
    # Production requests are refused the same way, and no sandbox log records them.
    Row("prod-key-bad-amount", 400, j({"amount": "100"}), target="P", auth="Basic {prod}", errors="amount"),
    Row("capture-without-key", 401, op="captures", target="M", auth=None, detail=UNAUTHORIZED),
    Row("capture-prod-key-on-sandbox", 404, op="captures", target="M", auth="Basic {prod}"),
]

ID_ROWS = [
    id_row("unknown-intent", "pi_sandbox_" + "x" * 22, detail=NOT_FOUND),
    Row("other-accounts-intent", 404, target="X", detail=NOT_FOUND),
    Row("canceled-intent", 404, target="C", detail=NOT_FOUND),
    Row("refund-id-as-intent-id", 404, target="R", detail=NOT_FOUND),
    id_row("id-over-64-chars", "pi_" + "a" * 62, before_auth=True),
    id_row("id-sql", "pi%27%20OR%20%271%27%3D%271", before_auth=True),
    id_row("id-path-traversal", "..%2F..%2Fetc%2Fpasswd", before_auth=True),
    id_row("id-dot-dot", "%2E%2E", before_auth=True),
    id_row("id-html", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", before_auth=True),
    id_row("id-nul", "pi_%00", before_auth=True),
    id_row("id-non-ascii", "pi_%C3%A9t%C3%A9", before_auth=True),
    Row("capture-other-accounts-intent", 404, op="captures", target="X", detail=NOT_FOUND),
]

SYNTAX_ROWS = [
    raw("empty-body", b"", errors="$"),
    raw("whitespace-body", b" \r\n\t ", errors="$"),
    raw("not-json", b"amount=100", errors="$"),
    raw("truncated-json", b'{"amount": 10', errors="$"),
    raw("trailing-garbage", b'{"amount": 100} x', errors="$"),
    raw("two-documents", b'{"amount":100}{"amount":100}', errors="$"),
    raw("single-quotes", b"{'amount': 100}", errors="$"),
    raw("trailing-comma", b'{"amount": 100,}', errors="$"),
    raw("utf8-bom", b"\xef\xbb\xbf" + VALID.encode(), errors="$"),
    raw("invalid-utf8", b'{"amount":100,"notes":"\xff\xfe"}', errors="$"),
    raw("overlong-utf8-slash", b'{"amount":100,"notes":"\xc0\xaf"}', errors="$"),
    raw("utf16", VALID.encode("utf-16"), errors="$"),
    raw(
        "utf16-declared",
        VALID.encode("utf-16-le"),
        headers={"Content-Type": "application/json; charset=utf-16"},
        errors="$",
    ),
    raw("nan", b'{"amount": NaN}', errors="$"),
    raw("infinity", b'{"amount": Infinity}', errors="$"),
    raw("minus-infinity", b'{"amount": -Infinity}', errors="$"),
    raw("duplicate-keys", b'{"amount":100,"amount":100}', errors="$"),
    raw("same-key-other-case", b'{"amount":100,"Amount":100}', errors="Amount"),
    raw("top-level-array", b"[100]", errors="$"),
    raw("top-level-string", b'"amount"', errors="$"),
    raw("top-level-null", b"null", errors="$"),
    raw("raw-newline-in-string", b'{"amount":100,"notes":"a\nb"}', errors="$"),
    raw("escaped-nul", b'{"amount":100,"notes":"a\\u0000b"}', errors="$"),
    raw("raw-nul-byte", b'{"amount":100,"notes":"a\x00b"}', errors="$"),
    raw("lone-surrogate", b'{"amount":100,"notes":"\\ud800"}', errors="$"),
]

AMOUNT_ROWS = [
    amount("amount-string", "100"),
    amount("amount-float", 100.5),
    amount("amount-integral-float", 100.0),
    raw("amount-exponent", b'{"amount": 1e2}', errors="amount"),
    amount("amount-negative", -100),
    amount("amount-zero", 0),
    raw("amount-minus-zero", b'{"amount": -0}', errors="amount"),
    amount("amount-2-pow-53", 2**53),
    amount("amount-2-pow-64", 2**64),
    raw("amount-5000-digits", b'{"amount": 1' + b"0" * 5000 + b"}", errors="$"),
    raw("amount-1e400", b'{"amount": 1e400}', errors="amount"),
    amount("amount-true", True),
    amount("amount-null", None),
    amount("amount-money-object", {"value": 100, "currencyCode": "GBP"}),
    amount("amount-array", [100]),
    raw("amount-missing", j({"notes": "x"}), errors="amount"),
    Row("more-than-remaining", 400, j({"amount": 1000 - REFUND_ON_A + 1}), detail="exceeds the remaining"),
    Row("max-amount-over-refund", 400, j({"amount": MAX_AMOUNT}), detail="exceeds the remaining"),
    Row("refund-fully-refunded", 400, target="B", detail="already been fully refunded"),
    Row("refund-not-captured", 400, target="U", detail="needs a captured payment"),
    cap("capture-amount-string", 400, {"amount": "100"}, errors="amount"),
    cap("capture-amount-float", 400, {"amount": 100.5}, errors="amount"),
    cap("capture-amount-zero", 400, {"amount": 0}, errors="amount"),
    cap("capture-amount-negative", 400, {"amount": -1}, errors="amount"),
    cap("capture-amount-2-pow-53", 400, {"amount": 2**53}, errors="amount"),
    cap("capture-amount-bool", 400, {"amount": False}, errors="amount"),
    cap("capture-amount-missing", 400, {"tipsAmount": 10}, errors="amount"),
    cap("capture-more-than-authorized", 400, {"amount": 1000 - CAPTURE_ON_M + 1}, detail=OVER_CAPTURE),
    cap("capture-tips-push-over", 400, {"amount": 1000 - CAPTURE_ON_M, "tipsAmount": 1}, detail=OVER_CAPTURE),
    cap("capture-sum-over-max", 400, {"amount": MAX_AMOUNT, "tipsAmount": MAX_AMOUNT}, errors="amount"),
    cap("capture-tips-negative", 400, {"amount": 100, "tipsAmount": -1}, errors="tipsAmount"),
    cap("capture-tips-money-object", 400, {"amount": 100, "tipsAmount": {"value": 1}}, errors="tipsAmount"),
    Row("capture-auto-intent", 409, op="captures", target="A", detail="needs a Manual payment intent"),
]

FIELD_ROWS = [
    raw("unknown-field", j({"amount": 100, "currency": "GBP"}), errors="currency"),
    raw("read-only-refund-id", j({"amount": 100, "refundId": "rfnd_x"}), errors="refundId"),
    raw("read-only-intent-id", j({"amount": 100, "paymentIntentId": "pi_x"}), errors="paymentIntentId"),
    raw("read-only-refunded-amount", j({"amount": 100, "refundedAmount": 0}), errors="refundedAmount"),
    raw("read-only-status", j({"amount": 100, "status": "Refunded"}), errors="status"),
    raw("refund-reason-too-long", j({"amount": 100, "refundReason": "r" * 1025}), errors="refundReason"),
    raw("notes-too-long", j({"amount": 100, "notes": "n" * 4097}), errors="notes"),
    raw(
        "previous-id-too-long",
        j({"amount": 100, "previousTransactionId": "p" * 101}),
        errors="previousTransactionId",
    ),
    raw("refund-reason-number", j({"amount": 100, "refundReason": 123}), errors="refundReason"),
    raw("notes-object", j({"amount": 100, "notes": {"text": "x"}}), errors="notes"),
    Row(
        "previous-id-before-its-version",
        400,
        j({"amount": 100, "previousTransactionId": "t1"}),
        headers={"Version": "2022-04-07"},
        errors="previousTransactionId",
    ),
    cap("capture-read-only-capture-id", 400, {"amount": 100, "captureId": "cp_x"}, errors="captureId"),
    cap("capture-refund-field", 400, {"amount": 100, "refundReason": "x"}, errors="refundReason"),
]

KEY_ROWS = [
    key("key-missing", None),
    key("key-empty", ""),
    key("key-blank", "   "),
    key("key-101-chars", "k" * 101),
    key("key-non-ascii", "ключ-1".encode()),
    key("key-tab", "a\tb"),
    key("key-del-char", "a\x7fb"),
    key("key-nul", "a\x00b"),
    key("key-crlf-header-injection", "a\r\nX-Injected: 1"),
    Row(
        "key-missing-and-bad-amount",
        400,
        j({"amount": "1"}),
        headers={"IdempotencyKey": None},
        errors="amount",
    ),
    key(
        "same-key-different-body",
        KEY_REFUNDED_ON_A,
        409,
        detail=KEY_CONFLICT,
        body=j({"amount": REFUND_ON_A + 1}),
    ),
    # A capture's key sent on a refund of the same intent: one key space per intent.
    key("same-key-other-operation", KEY_CAPTURED_ON_M, 409, target="M", detail=KEY_CONFLICT),
    # A's key and body on B: B's own rule answers; A's stored refund is not replayed.
    key(
        "same-key-other-intent",
        KEY_REFUNDED_ON_A,
        target="B",
        body=j({"amount": REFUND_ON_A}),
        errors=None,
        detail="fully refunded",
    ),
    cap("capture-key-101-chars", 400, headers={"IdempotencyKey": "k" * 101}, errors="idempotencyKey"),
    cap("capture-key-non-ascii", 400, headers={"IdempotencyKey": "clé".encode()}, errors="idempotencyKey"),
    cap(
        "capture-same-key-different-body",
        409,
        {"amount": CAPTURE_ON_M + 1},
        headers={"IdempotencyKey": KEY_CAPTURED_ON_M},
    ),
]

SIZE_ROWS = [
    Row("body-over-64-kib", 413, BIG_NOTES),
    Row("body-streamed-over-64-kib", 413, BIG_NOTES, stream=True),
    # Size is checked before the key, so an anonymous flood never reaches the database.
    Row("body-over-64-kib-without-key", 413, BIG_NOTES, auth=None),
    Row("content-length-not-a-number", 400, headers={"Content-Length": "100abc"}, before_auth=True),
    # "²" (latin-1 0xB2) passes str.isdigit() but not int(). HTTP servers refuse it before the
    # app, so only an ASGI caller can send it; the app must still answer 400, not 500.
    Row(
        "content-length-superscript-two",
        400,
        headers={"Content-Length": b"\xb2"},
        before_auth=True,
        asgi=True,
    ),
    # Past int()'s 4,300-digit limit: too large (413), never a ValueError. ASGI only, as above.
    Row(
        "content-length-5000-digits", 413, headers={"Content-Length": "9" * 5000}, before_auth=True, asgi=True
    ),
    # The limit is exact: 65,536 bytes are read (and refused for their content), one more is not.
    raw("body-of-64-kib", padded(65_536), errors="notes"),
    Row("body-of-64-kib-and-1", 413, padded(65_537)),
    raw("nested-65-deep", nested(65), errors="$"),
    raw("nested-20000-deep", nested(20_000), errors="$"),
    raw("3000-unknown-properties", j({"amount": 100} | {f"p{i}": 0 for i in range(3000)}), errors="p2999"),
    cap("capture-body-over-64-kib", 413, BIG_NOTES),
]

MEDIA_AND_METHOD_ROWS = [
    ctype("no-content-type", None),
    ctype("text-plain", "text/plain"),
    ctype("form-urlencoded", "application/x-www-form-urlencoded", b"amount=100"),
    ctype(
        "multipart",
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="amount"\r\n\r\n100\r\n--x--',
    ),
    ctype("xml", "application/xml", b"<refund><amount>100</amount></refund>"),
    ctype("jsonp", "application/jsonp"),
    Row("capture-text-plain", 415, op="captures", target="M", headers={"Content-Type": "text/plain"}),
    Row("put-refunds", 405, method="PUT", allow="GET, HEAD, POST"),
    Row("patch-refunds", 405, method="PATCH", allow="GET, HEAD, POST"),
    Row("delete-refunds", 405, method="DELETE", allow="GET, HEAD, POST"),
    Row("get-captures", 405, b"", op="captures", target="M", method="GET", allow="POST"),
    Row("delete-captures", 405, op="captures", target="M", method="DELETE", allow="POST"),
]

INJECTION_AND_VERSION_ROWS = [
    amount("sql-in-amount", "100; DROP TABLE refunds; --"),
    raw(
        "sql-in-property-name",
        j({"amount": 100, "notes'; DROP TABLE refunds; --": "x"}),
        errors="notes'; DROP TABLE refunds; --",
    ),
    raw(
        "html-in-property-name",
        j({"amount": 100, "<script>alert(1)</script>": 1}),
        errors="<script>alert(1)</script>",
    ),
    Row("nul-in-query", 400, path="/payment-intents/{A}/refunds?x=%00", before_auth=True),
    version("version-missing", None),
    version("version-not-a-date", "2024-2-5"),
    version("version-impossible-date", "2024-02-30"),
    version("version-before-oldest", "2020-01-01"),
    version("version-sql", "2024-02-05' OR '1'='1"),
    version("version-crlf-injection", "2024-02-05\r\nX-Injected: 1"),
]

RECEIPT_ROWS = [
    receipt("receipt-no-emails", 400, {"emails": []}, errors="emails"),
    receipt("receipt-emails-null", 400, {"emails": None}, errors="emails"),
    receipt("receipt-emails-a-string", 400, {"emails": "ada@example.com"}, errors="emails"),
    receipt("receipt-not-an-address", 400, {"emails": ["ada"]}, errors="emails[0]"),
    receipt("receipt-second-not-an-address", 400, {"emails": ["ada@example.com", "a@b"]}, errors="emails[1]"),
    receipt(
        "receipt-eleven-addresses", 400, {"emails": [f"a{i}@example.com" for i in range(11)]}, errors="emails"
    ),
    receipt("receipt-address-over-254", 400, {"emails": ["a" * 250 + "@example.com"]}, errors="emails[0]"),
    receipt(
        "receipt-header-injection",
        400,
        {"emails": ["a@example.com\r\nBcc: b@example.com"]},
        errors="emails[0]",
    ),
    receipt(
        "receipt-unknown-field", 400, {"emails": ["ada@example.com"], "cc": ["b@example.com"]}, errors="cc"
    ),
    receipt("receipt-empty-body", 400, b""),
    receipt("receipt-unpaid-intent", 400, target="U", detail="never paid"),
    receipt("receipt-canceled-intent", 404, target="C", detail=NOT_FOUND),
    receipt("receipt-other-accounts-intent", 404, target="X", detail=NOT_FOUND),
    receipt("receipt-sandbox-key-on-prod-intent", 404, target="P", detail=NOT_FOUND),
    receipt(
        "receipt-prod-key-without-smtp", 400, target="P", auth="Basic {prod}", detail="PAYINTENTS_SMTP_URL"
    ),
    receipt("receipt-text-plain", 415, headers={"Content-Type": "text/plain"}),
    receipt("receipt-get", 405, b"", method="GET", allow="POST"),
]

SETUP = {"reference": "Table 4", "merchantInitiatedTransactionType": "NoShow", "terms": "Fee on no-show."}
CUSTOMER_SECRET_REQUIRED = "A valid customer secret is required"


def wallet(name: str, status: int, path: str, body: Any = None, **kw: Any) -> Row:
    """A row against customers, setup intents or charges (ADR 0028)."""
    return Row(name, status, body if isinstance(body, bytes) else j(body or {}), path=path, **kw)


WALLET_ROWS = [
    wallet(
        "charge-without-setup-intent",
        400,
        "/payment-intents/{U}/charge",
        b"",
        target="U",
        detail="setupIntentId",
    ),
    wallet("charge-captured-intent", 400, "/payment-intents/{A}/charge", b"", detail="setupIntentId"),
    wallet(
        "charge-other-accounts-intent", 404, "/payment-intents/{X}/charge", b"", target="X", detail=NOT_FOUND
    ),
    wallet(
        "charge-with-a-body", 400, "/payment-intents/{U}/charge", {"amount": 100}, target="U", errors="amount"
    ),
    wallet("customer-phone-too-short", 400, "/customers", {"phoneNumber": "123"}, errors="phoneNumber"),
    wallet("customer-unknown-property", 400, "/customers", {"nickname": "x"}, errors="nickname"),
    wallet("customer-name-not-a-string", 400, "/customers", {"name": 7}, errors="name"),
    wallet(
        "customer-address-without-country",
        400,
        "/customers",
        {"billingAddress": {}},
        errors="billingAddress.countryCode",
    ),
    wallet(
        "customer-search-both-cursors",
        400,
        "/customers/search",
        {"before": "a", "after": "b"},
        errors="after",
    ),
    wallet("customer-search-limit-0", 400, "/customers/search", {"limit": 0}, errors="limit"),
    wallet("customer-id-over-100", 400, "/customers/" + "c" * 101, method="GET", errors="customerId"),
    wallet("customer-unknown", 404, "/customers/cust_sandbox_" + "Z" * 22, method="GET"),
    wallet("customer-secret-of-unknown", 404, "/customers/cust_sandbox_" + "Z" * 22 + "/create-secret", b""),
    wallet(
        "payment-methods-with-api-key",
        401,
        "/customers/public/cust_sandbox_" + "Z" * 22 + "/payment-methods",
        b"",
        method="GET",
        detail=CUSTOMER_SECRET_REQUIRED,
    ),
    wallet("setup-intent-without-terms", 400, "/setup-intents", {**SETUP, "terms": None}, errors="terms"),
    wallet(
        "setup-intent-unknown-mit-type",
        400,
        "/setup-intents",
        {**SETUP, "merchantInitiatedTransactionType": "Recurring"},
        errors="merchantInitiatedTransactionType",
    ),
    wallet(
        "setup-intent-unknown-customer",
        400,
        "/setup-intents",
        {**SETUP, "customer": {"id": "cust_x"}},
        errors="customer.id",
    ),
    wallet(
        "setup-intent-past-expiry",
        400,
        "/setup-intents",
        {**SETUP, "expireAt": "2001-01-01T00:00:00Z"},
        detail="future",
    ),
    wallet(
        "setup-intent-customer-secret-field",
        400,
        "/setup-intents",
        {**SETUP, "customer": {"secret": "x"}},
        errors="customer.secret",
    ),
    wallet(
        "setup-intent-id-over-50", 400, "/setup-intents/" + "s" * 51, method="GET", errors="setupIntentId"
    ),
]

ROWS = [
    *AUTH_ROWS,
    *ID_ROWS,
    *SYNTAX_ROWS,
    *AMOUNT_ROWS,
    *FIELD_ROWS,
    *KEY_ROWS,
    *SIZE_ROWS,
    *MEDIA_AND_METHOD_ROWS,
    *INJECTION_AND_VERSION_ROWS,
    *RECEIPT_ROWS,
    *WALLET_ROWS,
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("catalogue")
    with backend_database_url(request.param, folder) as url, running_world(url) as built:
        yield built


def test_the_catalogue_is_large_and_names_are_unique() -> None:
    assert len(ROWS) >= 70
    assert len({row.name for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_is_refused_and_changes_nothing(world: World, row: Row) -> None:
    before = money_and_state(world.engine)
    last_log = world.last_logged_id()

    path, response = send(world, row)

    assert response.status_code == row.status, response.text
    body = check_problem(response)
    assert find_leak(response, unquote(path.split("?")[0])) is None, response.text
    assert all(secret not in response.text for secret in world.keys.values())
    if row.errors is not None:
        assert row.errors in body.get("errors", {}), body
    if row.detail is not None:
        assert row.detail in body.get("detail", ""), body
    if row.allow is not None:
        # Starlette keeps a route's methods in a set: the order is not stable, and RFC 9110 gives none.
        assert set(response.headers["allow"].split(", ")) == set(row.allow.split(", "))
    assert money_and_state(world.engine) == before
    logged = world.request_log_since(last_log)
    assert logged == ([(row.status, body["traceId"])] if is_logged(row) else []), logged
    report = audit(world.engine)
    assert report.ok, report.as_dict()


def test_the_snapshot_sees_the_world(world: World) -> None:
    """Control: the snapshot covers every table but the log, and holds the world's rows."""
    state = money_and_state(world.engine)
    assert set(state) == {t.name for t in metadata.sorted_tables} - {sandbox_requests.name}
    assert len(state["payment_intents"]) == 8 and len(state["refunds"]) == 2
    assert len(state["terminals"]) == 4 and len(state["terminal_sessions"]) == 2
    assert len(state["idempotency_keys"]) >= 3 and len(state["captures"]) == 5


# --- the terminal API (docs/terminals.md): Dojo's ProblemDetailsTerminals, every member present ---

_SESSIONS = "/terminal-sessions"


def _session_body(details: dict[str, Any], terminal: str = "{T}") -> bytes:
    return j({"terminalId": terminal, "details": details})


def _matched(value: Any, currency: str = "GBP", intent: str = "{A}") -> dict[str, Any]:
    refund = {"paymentIntentId": intent, "amount": {"value": value, "currencyCode": currency}}
    return {"sessionType": "MatchedRefund", "matchedRefund": refund}


def terminal(name: str, status: int, body: Any = None, *, path: str = _SESSIONS, **kw: Any) -> Row:
    """A row on the terminal API, with the EPOS headers unless ``headers`` says otherwise."""
    headers = {**EPOS_HEADERS, **kw.pop("headers", {})}
    raw_body = body if isinstance(body, bytes) else j(body) if body is not None else b""
    return Row(name, status, raw_body, path=path, headers=headers, **kw)


_SALE_OF_U = {"sessionType": "Sale", "sale": {"paymentIntentId": "{U}"}}
TERMINAL_ROWS = [
    terminal(
        "terminal-no-software-house",
        400,
        _session_body(_SALE_OF_U),
        headers={"software-house-id": None},
        errors="software-house-id",
    ),
    terminal(
        "terminal-list-no-software-house",
        400,
        path="/terminals",
        method="GET",
        headers={"software-house-id": None},
        errors="software-house-id",
    ),
    terminal(
        "terminal-list-unknown-status",
        400,
        path="/terminals?statuses=Broken",
        method="GET",
        errors="statuses",
    ),
    terminal(
        "terminal-both-details",
        400,
        _session_body({**_SALE_OF_U, **_matched(100)} | {"sessionType": "Sale"}),
        errors="details.sale",
    ),
    terminal(
        "terminal-detail-of-other-type",
        400,
        _session_body({"sessionType": "MatchedRefund", "sale": {"paymentIntentId": "{A}"}}),
        errors="details.matchedRefund",
    ),
    terminal(
        "terminal-unknown-session-type",
        400,
        _session_body({"sessionType": "Refund", "sale": {"paymentIntentId": "{U}"}}),
    ),
    terminal("terminal-no-details", 400, j({"terminalId": "{T}"}), errors="details"),
    terminal("terminal-foreign", 404, _session_body(_SALE_OF_U, "{TX}")),
    terminal("terminal-unknown", 404, _session_body(_SALE_OF_U, "tm_sandbox_000000000000000000000000")),
    terminal("terminal-with-production-key", 404, _session_body(_SALE_OF_U), auth="Basic {prod}"),
    terminal("terminal-busy", 400, _session_body(_SALE_OF_U, "{TB}"), detail="InUse"),
    terminal("terminal-refund-zero", 400, _session_body(_matched(0))),
    terminal("terminal-refund-negative", 400, _session_body(_matched(-5))),
    terminal("terminal-refund-over-remaining", 400, _session_body(_matched(901)), detail="exceeds"),
    terminal(
        "terminal-refund-other-currency", 400, _session_body(_matched(100, "EUR")), errors="currencyCode"
    ),
    terminal("terminal-refund-uncaptured", 400, _session_body(_matched(100, intent="{U}"))),
    terminal("terminal-refund-other-accounts-intent", 404, _session_body(_matched(100, intent="{X}"))),
    terminal(
        "terminal-sale-of-captured",
        400,
        _session_body({"sessionType": "Sale", "sale": {"paymentIntentId": "{A}"}}),
    ),
    terminal("terminal-cancel-finished", 422, path="/terminal-sessions/{SD}/cancel", method="PUT"),
    terminal(
        "terminal-signature-not-asked",
        422,
        {"accepted": True},
        path="/terminal-sessions/{SD}/signature",
        method="PUT",
    ),
    terminal(
        "terminal-signature-not-boolean",
        400,
        {"accepted": "yes"},
        path="/terminal-sessions/{SD}/signature",
        method="PUT",
        errors="accepted",
    ),
    terminal("terminal-session-unknown", 404, path="/terminal-sessions/ts_sandbox_nothing", method="GET"),
    terminal(
        "terminal-card-production-key",
        404,
        {"outcome": "Approved"},
        path="/sandbox/terminal-sessions/{S}/present-card",
        auth="Basic {prod}",
    ),
    terminal(
        "terminal-card-unknown-outcome",
        400,
        {"outcome": "Maybe"},
        path="/sandbox/terminal-sessions/{S}/present-card",
        errors="outcome",
    ),
    terminal(
        "terminal-card-letters",
        400,
        {"outcome": "Approved", "cardNumber": "5200abcd00001005"},
        path="/sandbox/terminal-sessions/{S}/present-card",
        errors="cardNumber",
    ),
]
_TERMINAL_MEMBERS = {"type", "title", "status", "detail", "traceId", "errors"}


@pytest.mark.parametrize("row", TERMINAL_ROWS, ids=[row.name for row in TERMINAL_ROWS])
def test_bad_terminal_input_is_refused_and_changes_nothing(world: World, row: Row) -> None:
    before = money_and_state(world.engine)
    path, response = send(world, row)
    assert response.status_code == row.status, response.text
    body = response.json()
    sandbox_driver = path.startswith("/sandbox/")
    # Dojo's ProblemDetailsTerminals on its six operations; the sandbox's driver answers ours.
    assert set(body) == _TERMINAL_MEMBERS if not sandbox_driver else set(body) <= _TERMINAL_MEMBERS, body
    assert body["status"] == row.status and body["traceId"], body
    assert find_leak(response, unquote(path.split("?")[0])) is None, response.text
    if row.errors is not None:
        assert row.errors in (body.get("errors") or {}), body
    if row.detail is not None:
        assert row.detail in (body.get("detail") or ""), body
    assert money_and_state(world.engine) == before
    assert audit(world.engine).ok
