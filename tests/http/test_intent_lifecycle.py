"""Payment-intent lifecycle over HTTP (docs/api.md, "Statuses and what each operation needs"): every
move between statuses and every cell of the table except the refunds and refresh rows; the reversal
windows and expiry under a fake clock; amount / tips amendments; the client session secret."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.fakes import FakeClock
from tests.support import CHALLENGE_CARD, DECLINED_CARD, Api
from tests.unit.sync_use_cases import run_expiry_pass

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
ALLOWED = {"config": {"payment": {"customAmountAllowed": True, "tipsAllowed": True}}}
MANUAL = {"captureMode": "Manual", **ALLOWED}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Dojo's error body: {type, title, status, detail?, errors?, traceId} as application/json."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["type"].startswith("https://tools.ietf.org/html/rfc")
    assert body["title"] and body["status"] == status
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    return body


def event_types(intent: dict[str, Any]) -> list[str]:
    return [event["eventType"] for event in intent["paymentEvents"]]


def authorized(api: Api, value: int = 1000, **fields: Any) -> str:
    intent_id = str(api.create_intent(value, **{**MANUAL, **fields})["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    return intent_id


def _canceled(api: Api) -> str:
    intent_id = str(api.create_intent(**ALLOWED)["id"])
    assert api.client.delete(f"/payment-intents/{intent_id}", headers=api.headers()).status_code == 200
    return intent_id


def _manual_partly_captured(api: Api) -> str:
    intent_id = authorized(api)
    assert api.post(f"/payment-intents/{intent_id}/captures", {"amount": 400}).status_code == 200
    return intent_id


def _refunded(api: Api) -> str:
    intent_id = api.captured_intent(1000, **ALLOWED)
    assert api.refund(intent_id, 1000).status_code == 200
    return intent_id


def _reversed(api: Api) -> str:
    intent_id = authorized(api)
    assert api.post(f"/payment-intents/{intent_id}/reversal").status_code == 200
    return intent_id


STATES: dict[str, tuple[str, Callable[[Api], str]]] = {
    # column name → (status the intent shows, how to build it)
    "Created": ("Created", lambda api: str(api.create_intent(**ALLOWED)["id"])),
    "Authorized": ("Authorized", authorized),
    "Captured-Auto": ("Captured", lambda api: api.captured_intent(1000, **ALLOWED)),
    "Captured-Manual-partly": ("Captured", _manual_partly_captured),
    "Refunded": ("Refunded", _refunded),
    "Reversed": ("Reversed", _reversed),
    "Canceled": ("Canceled", _canceled),
}

GBP_1500 = {"amount": {"value": 1500, "currencyCode": "GBP"}}
TIPS_200 = {"tipsAmount": {"value": 200, "currencyCode": "GBP"}}
# Operation → (method, path suffix, body, expected status per column): docs/api.md's table.
MATRIX: dict[str, tuple[str, str, Any, dict[str, int]]] = {
    "cancel": ("DELETE", "", None, {"Created": 200, "Canceled": 404, "*": 400}),
    "capture": (
        "POST",
        "/captures",
        {"amount": 100},
        {"Authorized": 200, "Captured-Manual-partly": 200, "Canceled": 404, "*": 409},
    ),
    "reversal": (
        "POST",
        "/reversal",
        None,
        {"Authorized": 200, "Captured-Auto": 200, "Canceled": 404, "*": 409},
    ),
    "amount": ("POST", "/amount", GBP_1500, {"Created": 200, "Canceled": 404, "*": 400}),
    "tips-amount": ("POST", "/tips-amount", TIPS_200, {"Created": 200, "Canceled": 404, "*": 400}),
}


def call(api: Api, method: str, path: str, body: Any = None) -> httpx.Response:
    if method == "DELETE":
        return api.client.delete(path, headers=api.headers())
    return api.post(path, body)


def check_each(cases: dict[str, Callable[[], None]]) -> None:
    """Run every case and report all that fail (cheaper than one database per case)."""
    failures = []
    for name, check in cases.items():
        try:
            check()
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("operation", list(MATRIX))
def test_preconditions_matrix(api: Api, operation: str) -> None:
    method, suffix, body, expected = MATRIX[operation]

    def check(state: str) -> None:
        status_before, build = STATES[state]
        intent_id = build(api)
        want = expected.get(state, expected["*"])
        response = call(api, method, f"/payment-intents/{intent_id}{suffix}", body)
        if want == 200:
            assert response.status_code == 200, response.text
            return
        assert_problem(response, want)
        after = api.intent(intent_id)
        assert after["status"] == status_before, "a refused operation must change nothing"

    check_each({state: (lambda state=state: check(state)) for state in STATES})


def test_create_answers_a_created_intent(api: Api) -> None:
    intent = api.create_intent(1000)
    assert re.fullmatch(r"pi_sandbox_[A-Za-z0-9_-]{22}", intent["id"])
    assert intent["status"] == "Created" and intent["captureMode"] == "Auto"
    assert intent["refundedAmount"] == 0 and intent["captures"] == [] and intent["paymentEvents"] == []
    assert intent["amount"] == intent["totalAmount"] == {"value": 1000, "currencyCode": "GBP"}
    assert intent["paymentLink"].endswith(f"/checkout/{intent['id']}")
    assert api.intent(intent["id"]) == intent


def test_auto_payment_captures_the_total(api: Api) -> None:
    intent_id = str(api.create_intent(1000, tipsAmount={"value": 150, "currencyCode": "GBP"})["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Captured"
    intent = api.intent(intent_id)
    assert intent["status"] == "Captured"
    assert [c["amount"] for c in intent["captures"]] == [1150]
    assert intent["captures"][0]["status"] == "Successful"
    assert event_types(intent) == ["Authorized", "Captured"]
    assert intent["paymentDetails"]["card"]["cardNumber"] == "520000******1005"


def test_manual_payment_authorizes_only(api: Api) -> None:
    intent = api.intent(authorized(api))
    assert intent["status"] == "Authorized" and intent["captures"] == []
    assert event_types(intent) == ["Authorized"]


def test_declined_card_leaves_the_intent_created(api: Api) -> None:
    intent_id = str(api.create_intent()["id"])
    declined = api.pay(intent_id, DECLINED_CARD)
    assert declined.status_code == 200, declined.text
    intent = api.intent(intent_id)
    assert intent["status"] == "Created" and event_types(intent) == ["Declined"]
    assert api.pay(intent_id).json()["status"] == "Captured", "a declined intent can still be paid"


@pytest.mark.parametrize(
    ("mode", "outcome", "status", "last_event"),
    [
        ("Auto", "pass", "Captured", "Captured"),
        ("Manual", "pass", "Authorized", "Authorized"),
        ("Auto", "fail", "Created", "Declined"),
    ],
)
def test_three_d_secure_challenge(api: Api, mode: str, outcome: str, status: str, last_event: str) -> None:
    intent_id = str(api.create_intent(captureMode=mode)["id"])
    challenged = api.pay(intent_id, CHALLENGE_CARD)
    assert challenged.status_code == 200, challenged.text
    assert challenged.json()["status"] == "Created"
    # The key-less answer carries only the last payment event (tests/http/test_checkout.py).
    assert challenged.json()["lastPaymentEvent"]["eventType"] == "AuthChallenged"
    assert event_types(api.intent(intent_id)) == ["AuthChallenged"]
    assert challenged.json()["challengeUrl"].endswith(f"/checkout/{intent_id}/3ds")
    answered = api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": outcome})
    assert answered.status_code == 200, answered.text
    intent = api.intent(intent_id)
    assert intent["status"] == status and event_types(intent)[-1] == last_event
    again = api.client.post(f"/checkout/{intent_id}/3ds", json={"outcome": "pass"})
    assert_problem(again, 409)


def test_cancel_answers_the_full_intent_then_hides_it(api: Api) -> None:
    created = api.create_intent(1000, reference="Order 77")
    path = f"/payment-intents/{created['id']}"
    canceled = api.client.delete(path, headers=api.headers())
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert body["status"] == "Canceled" and body["id"] == created["id"] and body["reference"] == "Order 77"
    assert body["amount"] == created["amount"] and body["paymentLink"] == created["paymentLink"]
    assert_problem(api.get(path), 404)
    assert_problem(api.get(f"{path}?returnCanceled=false"), 404)
    shown = api.get(f"{path}?returnCanceled=true")
    assert shown.status_code == 200 and shown.json()["status"] == "Canceled"
    assert_problem(api.client.delete(path, headers=api.headers()), 404)


def test_partial_captures_up_to_the_total(api: Api) -> None:
    intent_id = authorized(api, 1000)
    path = f"/payment-intents/{intent_id}/captures"
    assert_problem(api.post(path, {"amount": 1001}), 400)
    ids = []
    for amount in (300, 300, 400):
        response = api.post(path, {"amount": amount})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"message", "captureId"} and body["message"]
        assert re.fullmatch(r"cp_sandbox_[A-Za-z0-9_-]{22}", body["captureId"])
        ids.append(body["captureId"])
        assert api.intent(intent_id)["status"] == "Captured"
    problem = assert_problem(api.post(path, {"amount": 1}), 400)
    assert "remaining" in problem["detail"]
    intent = api.intent(intent_id)
    assert [c["id"] for c in intent["captures"]] == ids
    assert sum(c["amount"] for c in intent["captures"]) == 1000


def test_capture_beyond_the_remainder_is_refused(api: Api) -> None:
    intent_id = _manual_partly_captured(api)
    assert_problem(api.post(f"/payment-intents/{intent_id}/captures", {"amount": 601}), 400)
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [400]


@pytest.mark.parametrize("build", [authorized, lambda api: api.captured_intent(1000)], ids=["Manual", "Auto"])
def test_reversal_answers_its_id_and_reverses(api: Api, build: Callable[[Api], str]) -> None:
    intent_id = build(api)
    response = api.post(f"/payment-intents/{intent_id}/reversal")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"message", "reversalId"} and body["message"]
    assert re.fullmatch(r"rvs_sandbox_[A-Za-z0-9_-]{22}", body["reversalId"])
    intent = api.intent(intent_id)
    assert intent["status"] == "Reversed" and event_types(intent)[-1] == "Reversed"


def test_amendments_need_their_config_flag(api: Api) -> None:
    intent_id = str(api.create_intent(1000)["id"])
    assert_problem(api.post(f"/payment-intents/{intent_id}/amount", GBP_1500), 405)
    assert_problem(api.post(f"/payment-intents/{intent_id}/tips-amount", TIPS_200), 405)
    intent = api.intent(intent_id)
    assert intent["totalAmount"]["value"] == 1000 and "requestedAmount" not in intent


def test_amount_and_tips_change_the_total_and_keep_the_request(api: Api) -> None:
    intent_id = str(api.create_intent(1000, **ALLOWED)["id"])
    changed = api.post(f"/payment-intents/{intent_id}/amount", GBP_1500)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["amount"]["value"] == 1500 and body["totalAmount"]["value"] == 1500
    assert body["requestedAmount"] == {"value": 1000, "currencyCode": "GBP"}
    tipped = api.post(f"/payment-intents/{intent_id}/tips-amount", TIPS_200).json()
    assert tipped["tipsAmount"]["value"] == 200 and tipped["totalAmount"]["value"] == 1700
    assert tipped["requestedAmount"]["value"] == 1000
    euros = {"amount": {"value": 1500, "currencyCode": "EUR"}}
    assert_problem(api.post(f"/payment-intents/{intent_id}/amount", euros), 400)
    assert api.pay(intent_id).status_code == 200
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [1700]


# --- time-dependent rules, with an app on a fake clock -------------------------------------------


class Timed:
    def __init__(self, api: Api, deps: Dependencies, clock: FakeClock, engine: Engine) -> None:
        self.api, self.deps, self.clock, self.engine = api, deps, clock, engine


@pytest.fixture
def timed(database_url: str) -> Iterator[Timed]:
    clock = FakeClock()  # 2026-03-02T12:00:00Z
    engine: Engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine, clock=clock)
    with TestClient(build_app(deps), base_url="http://testserver") as client:
        yield Timed(Api(client, create_account(deps, "timed").sandbox_key), deps, clock, engine)
    engine.dispose()


def test_auto_reversal_only_on_the_capture_day(timed: Timed) -> None:
    api = timed.api
    first, second = api.captured_intent(), api.captured_intent()
    timed.clock.advance(hours=11, minutes=59)  # 23:59 UTC, same day
    assert api.post(f"/payment-intents/{first}/reversal").status_code == 200
    timed.clock.advance(minutes=1)  # 00:00 UTC the next day
    assert_problem(api.post(f"/payment-intents/{second}/reversal"), 409)
    assert api.intent(second)["status"] == "Captured"


def test_manual_reversal_within_seven_days_of_authorization(timed: Timed) -> None:
    api = timed.api
    first, second = authorized(api), authorized(api)
    timed.clock.advance(days=6, hours=23)
    assert api.post(f"/payment-intents/{first}/reversal").status_code == 200
    timed.clock.advance(hours=1, minutes=1)
    assert_problem(api.post(f"/payment-intents/{second}/reversal"), 409)
    assert api.intent(second)["status"] == "Authorized"


def test_created_intents_expire_to_canceled(timed: Timed) -> None:
    api = timed.api
    default = api.create_intent()
    assert default["expireAt"] == "2026-04-01T12:00:00.000000Z"
    early = str(api.create_intent(expireAt="2026-03-02T13:00:00Z")["id"])
    timed.clock.advance(minutes=59)
    run_expiry_pass(timed.deps)
    assert api.intent(early)["status"] == "Created"
    timed.clock.advance(minutes=1)
    run_expiry_pass(timed.deps)
    assert_problem(api.get(f"/payment-intents/{early}"), 404)
    assert api.intent(early)["status"] == "Canceled"
    assert api.intent(default["id"])["status"] == "Created"
    timed.clock.advance(days=30)
    run_expiry_pass(timed.deps)
    assert api.intent(default["id"])["status"] == "Canceled"


def test_an_auto_capture_is_a_capture_through_the_processor_and_waits_out_its_refusal(timed: Timed) -> None:
    """The processor is asked (its ledger has the capture); an armed decline leaves the intent
    Authorized, and the next pass captures it."""
    fields = {"autoExpireIn": "00:05:00", "autoExpireAction": "Capture"}
    intent_id = authorized(timed.api, 1000, **fields)
    armed = {"operation": "capture", "outcome": "declined"}
    assert timed.api.post(f"/sandbox/payment-intents/{intent_id}/fail-next", armed).status_code == 200
    timed.clock.advance(minutes=5)
    assert run_expiry_pass(timed.deps).intents_expired == 0
    assert timed.api.intent(intent_id)["status"] == "Authorized"
    assert run_expiry_pass(timed.deps).intents_expired == 1
    assert [c["amount"] for c in timed.api.intent(intent_id)["captures"]] == [1000]
    query = text(
        "SELECT o.status, l.outcome FROM money_operations o LEFT JOIN sandbox_processor_ledger l"
        " ON l.processor_key = 'payintents-' || o.id WHERE o.payment_intent_id = :id ORDER BY o.created_at"
    )
    with timed.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query, {"id": intent_id})]
    assert rows == [("failed", "declined"), ("succeeded", "succeeded")]


@pytest.mark.parametrize(
    ("fields", "lifetime", "status", "captured"),
    [
        ({"autoExpireIn": "00:05:00", "autoExpireAction": "Capture"}, {"minutes": 5}, "Captured", [1000]),
        ({"autoExpireIn": "00:05:00", "autoExpireAction": "Release"}, {"minutes": 5}, "Reversed", []),
        ({}, {"days": 7}, "Reversed", []),
    ],
    ids=["Capture", "Release", "default-7-days"],
)
def test_manual_authorizations_expire(
    timed: Timed, fields: dict[str, str], lifetime: dict[str, int], status: str, captured: list[int]
) -> None:
    intent_id = authorized(timed.api, 1000, **fields)
    timed.clock.advance(**lifetime)
    timed.clock.advance(seconds=-1)
    run_expiry_pass(timed.deps)
    assert timed.api.intent(intent_id)["status"] == "Authorized"
    timed.clock.advance(seconds=1)
    run_expiry_pass(timed.deps)
    intent = timed.api.intent(intent_id)
    assert intent["status"] == status
    assert [c["amount"] for c in intent["captures"]] == captured


def test_refresh_issues_a_new_secret_for_thirty_minutes(timed: Timed) -> None:
    api = timed.api
    created = api.create_intent()
    timed.clock.advance(minutes=10)
    # The secret is issued on create too, for 30 minutes (docs/api.md, create).
    assert created["clientSessionSecret"]
    assert created["clientSessionSecretExpirationDate"] == "2026-03-02T12:30:00.000000Z"
    refreshed = api.post(f"/payment-intents/{created['id']}/refresh-client-session-secret")
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["clientSessionSecret"] and body["clientSessionSecret"] != created["clientSessionSecret"]
    assert body["clientSessionSecretExpirationDate"] == "2026-03-02T12:40:00.000000Z"
    assert api.intent(created["id"])["clientSessionSecret"] == body["clientSessionSecret"]
