"""Schemathesis against a real ``payintents serve --workers 2``, on SQLite and on PostgreSQL.

Our own /openapi.json: every check schemathesis has, positive and negative data, and stateful
sequences along the document's links, with a pinned seed and bounded example counts; the run must
report no failure and no error. The operations that need an object in a given state (refund a
captured payment, capture an authorization, change an amendable amount) are pinned to such
objects, made through the API first; the sandbox controls that wipe or age a whole account (reset,
clock) act on an account of their own, so they cannot pull those objects away mid-run.

Dojo's own published spec (restricted to what we implement) against the same server: no answer
may be a server error. Its other findings are printed: they are where Dojo's document and ours
differ, which docs/dojo-differences.md explains.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from schemathesis.core.failures import ContentTypeServerError, ServerError

from tests.conformance.openapi_spec import REQUIRE_ENV, SPEC_ENV, dojo_spec_path
from tests.conformance.schemathesis_run import (
    ALL_CHECKS,
    StReport,
    operation_block,
    run_schemathesis,
    toml_value,
)
from tests.conftest import BACKENDS
from tests.support import (
    Api,
    RunningServer,
    backend_database_url,
    running_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = 20240205
MAX_EXAMPLES = 15
# One schemathesis thread: with two, CPython 3.11.7's ast module can fail inside schemathesis
# when both threads build code at once ("SystemError: AST constructor recursion depth mismatch",
# seen in a CI run as a schemathesis "Runtime Error"; the server never saw a bad request).
ST_WORKERS = 1
MAX_AMOUNT = 2**53 - 1
# The default statuses positive_data_acceptance takes (schemathesis 4), plus 400: on these
# operations a state rule break is a 400 (docs/api.md, "Statuses and what each operation needs"),
# e.g. refunding more than is left or cancelling a captured intent. Validation failures stay
# caught by schema_valid_input_is_not_called_invalid (schemathesis_hooks.py).
STATE_RULE_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
STATE_RULE_OPERATIONS = (
    "DELETE /payment-intents/{paymentIntentId}",
    "POST /payment-intents/{paymentIntentId}/refresh-client-session-secret",
    "POST /payment-intents/{paymentIntentId}/captures",
    "POST /payment-intents/{paymentIntentId}/refunds",
    # A receipt needs a payment: an intent reached through a link may never have been paid.
    "POST /payment-intents/{paymentIntentId}/receipt",
    # A merchant-initiated charge needs an intent made with a chargeable setup intent's id.
    "POST /payment-intents/{paymentIntentId}/charge",
    # Only a Created or Authorized setup intent can be canceled.
    "DELETE /setup-intents/{setupIntentId}",
)
SETUP_INTENT_REFRESHES = (
    "POST /setup-intents/{setupIntentId}/refresh-client-session-secret",
    "POST /setup-intents/public/{setupIntentId}/refresh-client-session-secret",
)
# 405 where the intent was not created to allow the change (docs/api.md, the amount sections).
AMENDING_OPERATIONS = (
    "POST /payment-intents/{paymentIntentId}/amount",
    "POST /payment-intents/{paymentIntentId}/tips-amount",
)
# A terminal session in the wrong state for a card, a cancel or a signature answers 422, and a
# busy terminal or a refund over what is left 400 (docs/terminals.md).
TERMINAL_STATE_OPERATIONS = (
    "POST /terminal-sessions",
    "PUT /terminal-sessions/{terminalSessionId}/cancel",
    "PUT /terminal-sessions/{terminalSessionId}/signature",
    "POST /sandbox/terminal-sessions/{terminalSessionId}/present-card",
)
# A capture, refund or charge after fail-next "processor_error" answers 502 (docs/sandbox.md).
PROCESSOR_OPERATIONS = (
    "POST /payment-intents/{paymentIntentId}/captures",
    "POST /payment-intents/{paymentIntentId}/refunds",
    "POST /payment-intents/{paymentIntentId}/charge",
)
# A customer's own saved cards, authorised by that customer's secret (docs/api.md "Customers").
CUSTOMER_SECRET_OPERATIONS = (
    "GET /customers/public/{customerId}/payment-methods",
    "DELETE /customers/public/{customerId}/payment-methods/{paymentMethodId}",
)
# Dojo's operations we implement (payment intents, captures, reversal, refunds, receipts, charges,
# webhooks, terminals, customers, setup intents).
DOJO_PATHS = "^/(payment-intents|webhooks|terminals|terminal-sessions|customers|setup-intents)"
SERVER_ERROR_CODES = {ServerError.code, ContentTypeServerError.code}
# The sandbox controls that wipe or age a whole account act on an account of their own.
ACCOUNT_CONTROLS = ("POST /sandbox/reset", "POST /sandbox/clock/advance", "GET /sandbox/clock")
RETRY_DELIVERY = "POST /webhooks/deliveries/{eventId}/retry"
DEAD_RECEIVER = "http://127.0.0.1:9/webhooks"


@dataclass(frozen=True)
class PinnedWorld:
    """The keys and objects a run is pinned to."""

    key: str
    controls_key: str
    captured_intent: str
    authorized_intent: str
    amendable_intent: str
    refund_id: str
    # An account whose one event has a failing delivery, for POST /webhooks/deliveries/{eventId}/retry.
    deliveries_key: str
    event_id: str
    # A customer and a secret of theirs, for the operations a customer secret authorises.
    customer_id: str = ""
    customer_secret: str = ""


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log_dir = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    database = backend_database_url(request.param, log_dir)
    with database as url, running_server(url, log_dir, workers=2) as served:
        yield served


def pinned_world(server: RunningServer) -> PinnedWorld:
    key = server.new_account()["sandboxKey"]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        api = Api(client, key)
        captured = api.captured_intent(MAX_AMOUNT // 2)
        authorized = str(api.create_intent(MAX_AMOUNT // 2, captureMode="Manual")["id"])
        assert api.pay(authorized).json()["status"] == "Authorized"
        allowed = {"payment": {"customAmountAllowed": True, "tipsAllowed": True}}
        amendable = str(api.create_intent(1000, config=allowed)["id"])
        refund = api.refund(captured, 1)
        assert refund.status_code == 200, refund.text
        customer = str(api.post("/customers", {"name": "Pinned"}).json()["id"])
        secret = str(api.post(f"/customers/{customer}/create-secret").json()["secret"])
    return PinnedWorld(
        key=key,
        controls_key=server.new_account()["sandboxKey"],
        captured_intent=captured,
        authorized_intent=authorized,
        amendable_intent=amendable,
        refund_id=str(refund.json()["refundId"]),
        **_failing_delivery(server),
        customer_id=customer,
        customer_secret=secret,
    )


def _failing_delivery(server: RunningServer) -> dict[str, str]:
    """An event queued for a receiver that refuses connections (the discard port on loopback)."""
    key = server.new_account()["sandboxKey"]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        api = Api(client, key)
        subscribed = api.post("/webhooks", {"events": ["payment_intent.created"], "url": DEAD_RECEIVER})
        assert subscribed.status_code == 200, subscribed.text
        api.create_intent(1000)
        deliveries = api.get(f"/webhooks/{subscribed.json()['id']}/deliveries").json()["data"]
    return {"deliveries_key": key, "event_id": str(deliveries[0]["eventId"])}


def our_config(world: PinnedWorld) -> str:
    blocks = [
        f"headers = {toml_value({'Authorization': f'Basic {world.key}'})}",
        # The API refuses NUL in every string (docs/api.md, "Request bodies"); OpenAPI 3.0
        # could only say so with a pattern on each one. tests/http covers NUL input.
        "[generation]\nallow-x00 = false",
        ALL_CHECKS,
        *_pinned_objects(world),
        *_status_rules(),
    ]
    controls = {"Authorization": f"Basic {world.controls_key}"}
    blocks += [operation_block(name, headers=controls) for name in ACCOUNT_CONTROLS]
    customer = {"Authorization": f"Basic {world.customer_secret}"}
    blocks += [
        operation_block(name, headers=customer, parameters={"path.customerId": world.customer_id})
        for name in CUSTOMER_SECRET_OPERATIONS
    ]
    blocks.append(
        operation_block(
            RETRY_DELIVERY,
            headers={"Authorization": f"Basic {world.deliveries_key}"},
            parameters={"path.eventId": world.event_id},
        )
    )
    return "\n\n".join(blocks) + "\n"


def _pinned_objects(world: PinnedWorld) -> list[str]:
    intent = "/payment-intents/{paymentIntentId}"
    pins = {
        f"POST {intent}/refunds": world.captured_intent,
        f"GET {intent}/refunds": world.captured_intent,
        f"POST {intent}/receipt": world.captured_intent,
        f"POST /sandbox{intent}/fail-next": world.captured_intent,
        f"POST {intent}/captures": world.authorized_intent,
        f"POST {intent}/amount": world.amendable_intent,
        f"POST {intent}/tips-amount": world.amendable_intent,
    }
    blocks = [operation_block(name, parameters={"path.paymentIntentId": pin}) for name, pin in pins.items()]
    refund = operation_block(
        "GET /payment-intents/refunds/{refundId}", parameters={"path.refundId": world.refund_id}
    )
    return [*blocks, refund]


def _status_rules() -> list[str]:
    accepted = "checks.positive_data_acceptance.expected-statuses"
    not_5xx = "checks.not_a_server_error.expected-statuses"
    blocks = [operation_block(name, **{accepted: STATE_RULE_STATUSES}) for name in STATE_RULE_OPERATIONS]
    blocks += [
        operation_block(name, **{accepted: [*STATE_RULE_STATUSES, "405"]}) for name in AMENDING_OPERATIONS
    ]
    blocks += [
        operation_block(name, **{accepted: [*STATE_RULE_STATUSES, "422"]})
        for name in TERMINAL_STATE_OPERATIONS
    ]
    blocks += [
        operation_block(name, **{not_5xx: ["2xx", "3xx", "4xx", "502"]}) for name in PROCESSOR_OPERATIONS
    ]
    # The account clock moves forward only (schemathesis_hooks.FIELD_NAMED_STATE_RULES).
    blocks.append(operation_block("POST /sandbox/clock/advance", **{accepted: STATE_RULE_STATUSES}))
    # DELETE on an intent or a setup intent cancels it (Dojo: "Cancel a payment intent", "Cancel a
    # setup intent"); a GET still reads it, status Canceled, so use_after_free cannot apply to
    # those GETs. The DELETEs that remove (webhooks, secrets, customers, payment methods) stay checked.
    canceled_reads = [
        "GET /payment-intents/{paymentIntentId}",
        "GET /setup-intents/{setupIntentId}",
        "GET /setup-intents/public/{setupIntentId}",
    ]
    blocks += [operation_block(name, **{"checks.use_after_free.enabled": False}) for name in canceled_reads]
    # A payment intent's setupIntentId may be "" (Dojo's schema: a nullable string), and the
    # stateful phase's inferred links put it in these paths: POST /setup-intents//refresh-… then
    # reaches /setup-intents/{id} or /setup-intents/public/{id}, which answer GET (and DELETE)
    # only: 405. Not these operations' answer, so neither acceptance nor documented status applies.
    blocks += [
        operation_block(
            name, **{accepted: [*STATE_RULE_STATUSES, "405"], "checks.status_code_conformance.enabled": False}
        )
        for name in SETUP_INTENT_REFRESHES
    ]
    return blocks


def common_args(base_url: str) -> list[str]:
    return [
        "--url",
        base_url,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        str(ST_WORKERS),
        "--continue-on-failure",
        "--request-timeout",
        "10",
    ]


def show(title: str, report: StReport) -> None:
    print(f"\n{title}: {report.summary()}")


def explained(report: StReport, server: RunningServer) -> str:
    """The end of schemathesis's output, after what the server logged of any unexpected failure
    (a 500 carries only its traceId; the traceback is in the server's log)."""
    problems = "\n".join(server.log_problems())
    return f"server log problems:\n{problems or '(none)'}\n\n{report.output[-20_000:]}"


def test_our_document_passes_every_check(server: RunningServer, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(our_config(pinned_world(server)))
    report = run_schemathesis(
        f"{server.base_url}/openapi.json", config, tmp_path, *common_args(server.base_url)
    )
    show("our /openapi.json", report)
    assert report.operations_tested >= 28
    phases = {phase for phase, _ in report.cases}
    assert {"examples", "coverage", "fuzzing", "stateful"} <= phases, report.cases
    assert {mode for _, mode in report.cases} >= {"positive", "negative"}, report.cases
    assert (report.failures, report.errors, report.exit_code) == ([], [], 0), explained(report, server)


def test_dojo_spec_finds_no_server_error(server: RunningServer, tmp_path: Path) -> None:
    spec = dojo_spec_path()
    if not spec.exists():
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Dojo's spec is not at {spec} (set {SPEC_ENV})")
        pytest.skip(f"Dojo's OpenAPI spec is not at {spec}; set {SPEC_ENV} to its path")
    key = server.new_account()["sandboxKey"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(f"headers = {toml_value({'Authorization': f'Basic {key}'})}\n{ALL_CHECKS}\n")
    filters = ["--include-path-regex", DOJO_PATHS]
    report = run_schemathesis(
        str(spec), config, tmp_path, *common_args(server.base_url), *filters, hooks=False
    )
    show("Dojo's dojo-api.json", report)
    for failure in report.failures:
        print(
            f"  {failure['code']} {failure['title']} ({failure['count']}): {', '.join(failure['operations'])}"
        )
    server_errors = [f for f in report.failures if f["code"] in SERVER_ERROR_CODES]
    assert report.operations_tested >= 18
    assert (server_errors, report.errors) == ([], []), explained(report, server)
