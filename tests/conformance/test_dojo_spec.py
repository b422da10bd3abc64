"""Our /openapi.json against Dojo's published OpenAPI (docs/conformance.md "Dojo's OpenAPI").

Every Dojo operation we serve is compared aspect by aspect (parameters, request body, success
answer, error answers), one test each, through $ref to type, format, enum, required-ness and
limits. Any difference fails unless the reviewed allow-list (dojo_differences.py) names it, and
every allow-list entry must still be a real difference and be explained in docs/dojo-differences.md.

Dojo's spec is read from $PAYINTENTS_DOJO_SPEC (docs/conformance.md says where to get it), else
shared/dojo/dojo-api.json beside the repository's folder; without it these tests skip, or fail
when PAYINTENTS_REQUIRE_DOJO_SPEC=1 (CI).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conformance.dojo_comparison import ASPECTS, all_differences, differences, served_figures
from tests.conformance.dojo_differences import DIFFERENCES
from tests.conformance.openapi_spec import (
    REQUIRE_ENV,
    SPEC_ENV,
    MatchedOperation,
    Schema,
    Spec,
    dojo_spec_path,
    load_spec,
    matched_operations,
    misplaced_operations,
    our_document,
)

OURS = our_document()
SPEC_PATH = dojo_spec_path()
DOJO = load_spec(SPEC_PATH) if SPEC_PATH.is_file() else None
OPERATIONS = matched_operations(OURS, DOJO) if DOJO is not None else []
CASES = [(operation, aspect) for operation in OPERATIONS for aspect in ASPECTS]
DOCS = Path(__file__).resolve().parents[2] / "docs"
EXPLANATIONS = DOCS / "dojo-differences.md"
REFUNDS = "/payment-intents/{paymentIntentId}/refunds"


@pytest.fixture(scope="module")
def dojo() -> Schema:
    if DOJO is None:
        reason = f"Dojo's spec not found at {SPEC_PATH}; set {SPEC_ENV}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
        pytest.skip(reason)
    return DOJO


def test_dojo_spec_is_found(dojo: Schema) -> None:
    assert dojo["paths"], f"{SPEC_PATH} has no paths"


@pytest.mark.parametrize(("operation", "aspect"), CASES, ids=[f"{op.name} {aspect}" for op, aspect in CASES])
def test_operation_matches_dojo(operation: MatchedOperation, aspect: str, dojo: Schema) -> None:
    found = differences(operation, aspect, Spec(OURS), Spec(dojo))
    unexplained = [f"{d.id}\n    {d.detail}" for d in found if d.id not in DIFFERENCES]
    assert not unexplained, (
        "Differences from Dojo's spec that dojo_differences.py does not allow:\n" + "\n".join(unexplained)
    )


def test_dojo_operations_are_exactly_our_unmarked_ones(dojo: Schema) -> None:
    """An operation Dojo has is never marked as an extension, and one it lacks always is."""
    assert misplaced_operations(OURS, dojo) == []
    assert len(OPERATIONS) >= 20, "payment intents, captures, reversal, refunds, webhooks and secrets"


def test_no_allowed_difference_is_stale(dojo: Schema) -> None:
    found = {d.id for listed in all_differences(OURS, dojo).values() for d in listed}
    assert sorted(DIFFERENCES.keys() - found) == [], "allow-list entries that no longer match a difference"


def test_every_allowed_difference_is_explained() -> None:
    explained = set(re.findall(r"^- `([^`]+)`", EXPLANATIONS.read_text(encoding="utf-8"), re.MULTILINE))
    assert sorted(DIFFERENCES.keys() - explained) == [], (
        f"allow-list entries {EXPLANATIONS.name} does not explain"
    )
    assert sorted(explained - DIFFERENCES.keys()) == [], (
        f"{EXPLANATIONS.name} explains entries that are not allowed"
    )


def test_the_figures_in_conformance_md_are_current(dojo: Schema) -> None:
    found = all_differences(OURS, dojo)
    ids = {d.id for listed in found.values() for d in listed}
    text = (DOCS / "conformance.md").read_text(encoding="utf-8")
    served, every, _ = served_figures(OURS, dojo)
    figures = {
        "Dojo's operations served": f"{served} of {every}",
        "operations compared": len(OPERATIONS),
        "aspects checked (operation × aspect test cases)": len(found),
        "differences found": f"{len(ids)} distinct ids ({sum(map(len, found.values()))} occurrences",
        "allow-listed": len(DIFFERENCES),
    }
    for name, value in figures.items():
        assert f"| {name} | {value}" in text, f"conformance.md: {name} is now {value}"


def _path(doc: Schema, *keys: str) -> Schema:
    node = doc
    for key in keys:
        node = node[key]
    return node


def _refund_body(doc: Schema) -> Schema:
    return _path(doc, "paths", REFUNDS, "post", "requestBody", "content", "application/json", "schema")


def _refund_key(doc: Schema) -> Schema:
    return next(
        p for p in _path(doc, "paths", REFUNDS, "post", "parameters") if p["name"] == "idempotencyKey"
    )


# Negative controls: a change to our document that the comparison must report, by the id it reports.
MUTATIONS: list[tuple[str, Callable[[Schema], object], str, str]] = [
    (
        "request format",
        lambda d: _refund_body(d)["properties"]["amount"].update(format="int32"),
        f"POST {REFUNDS} request",
        "request CreateRefundRequest.amount format",
    ),
    (
        "request required",
        lambda d: _refund_body(d).pop("required"),
        f"POST {REFUNDS} request",
        "request CreateRefundRequest.amount required",
    ),
    (
        "request limit",
        lambda d: _refund_body(d)["properties"]["notes"].update(maxLength=4000),
        f"POST {REFUNDS} request",
        "request CreateRefundRequest.notes maxLength",
    ),
    (
        "missing header",
        lambda d: _refund_key(d).update(name="refundKey"),
        f"POST {REFUNDS} parameters",
        f"POST {REFUNDS} parameter header:idempotencyKey missing",
    ),
    (
        "answer enum",
        lambda d: _path(d, "components", "schemas", "PaymentIntent", "properties", "status")["enum"].append(
            "Pending"
        ),
        "GET /payment-intents/{paymentIntentId} response",
        "response PaymentIntentStatus enum",
    ),
    (
        "answer property",
        lambda d: _path(d, "components", "schemas", "Capture", "properties").update(extra={"type": "string"}),
        "POST /payment-intents/{paymentIntentId}/captures response",
        "response Capture.extra extra",
    ),
    (
        "answer null",
        lambda d: _path(d, "components", "schemas", "Money", "properties", "value").update(nullable=True),
        "GET /payment-intents/{paymentIntentId} response",
        "response Money.value nullable",
    ),
    (
        "success status",
        lambda d: _path(d, "paths", REFUNDS, "post", "responses").update({"201": {"description": "Created"}}),
        f"POST {REFUNDS} response",
        f"POST {REFUNDS} response status",
    ),
    (
        "error status",
        lambda d: _path(d, "paths", "/payment-intents/refunds/{refundId}", "get", "responses").pop("401"),
        "GET /payment-intents/refunds/{refundId} errors",
        "GET /payment-intents/refunds/{refundId} response 401 missing",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "case", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_the_comparison_reports_a_changed_document(
    mutate: Callable[[Schema], object], case: str, expected: str, dojo: Schema
) -> None:
    changed = copy.deepcopy(OURS)
    mutate(changed)
    found = {d.id for d in all_differences(changed, dojo)[case]}
    before = {d.id for d in all_differences(OURS, dojo)[case]}
    assert expected in found - before


def test_header_names_compare_case_insensitively(dojo: Schema) -> None:
    changed = copy.deepcopy(OURS)
    _refund_key(changed)["name"] = "IDEMPOTENCYKEY"
    case = f"POST {REFUNDS} parameters"
    assert all_differences(changed, dojo)[case] == all_differences(OURS, dojo)[case]
