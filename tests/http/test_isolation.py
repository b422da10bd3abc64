"""Isolation between accounts and environments (docs/api.md "Authentication": objects belong to
(account, environment)): another account's intent, or the same account's intent from the other
environment, answers every operation exactly like an id that does not exist, changes nothing, and
never shows up in search."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
ALLOWED = {"config": {"payment": {"customAmountAllowed": True, "tipsAllowed": True}}}

# (name, method, path suffix, body) for every operation addressed by payment intent id.
OPERATIONS: list[tuple[str, str, str, Any]] = [
    ("get", "GET", "", None),
    ("get-canceled-too", "GET", "?returnCanceled=true", None),
    ("cancel", "DELETE", "", None),
    ("capture", "POST", "/captures", {"amount": 100}),
    ("reversal", "POST", "/reversal", None),
    ("amount", "POST", "/amount", {"amount": {"value": 1500, "currencyCode": "GBP"}}),
    ("tips-amount", "POST", "/tips-amount", {"tipsAmount": {"value": 100, "currencyCode": "GBP"}}),
    ("refresh-secret", "POST", "/refresh-client-session-secret", None),
]


def call(api: Api, method: str, path: str, body: Any) -> httpx.Response:
    if method == "GET":
        return api.get(path)
    if method == "DELETE":
        return api.client.delete(path, headers=api.headers())
    return api.post(path, body)


def comparable(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    body = dict(response.json())
    assert TRACE_ID.match(body.pop("traceId"))
    return response.status_code, response.headers["content-type"], body


def missing_id_like(intent_id: str) -> str:
    """An id of the same shape and environment that nobody owns."""
    prefix = "pi_sandbox_" if intent_id.startswith("pi_sandbox_") else "pi_"
    return prefix + "Z" * 22


@dataclass
class Owner:
    sandbox: Api
    prod: Api
    victims: list[str]


def _victims(api: Api) -> list[str]:
    created = str(api.create_intent(1000, **ALLOWED)["id"])
    authorized = str(api.create_intent(1000, captureMode="Manual", **ALLOWED)["id"])
    assert api.pay(authorized).status_code == 200
    captured = api.captured_intent(1000, **ALLOWED)
    return [created, authorized, captured]


@pytest.fixture
def owner(client: TestClient, deps: Dependencies) -> Owner:
    account = create_account(deps, "owner")
    sandbox, prod = Api(client, account.sandbox_key), Api(client, account.prod_key)
    return Owner(sandbox, prod, _victims(sandbox))


def intruders(owner: Owner, other_api: Api, client: TestClient, deps: Dependencies) -> dict[str, Api]:
    other = create_account(deps, "other-prod")
    return {
        "other-account-sandbox": other_api,
        "other-account-prod": Api(client, other.prod_key),
        "same-account-prod": owner.prod,
    }


def test_foreign_intent_answers_like_a_missing_one(
    owner: Owner, other_api: Api, client: TestClient, deps: Dependencies
) -> None:
    before = {victim: owner.sandbox.intent(victim) for victim in owner.victims}
    for name, intruder in intruders(owner, other_api, client, deps).items():
        for operation, method, suffix, body in OPERATIONS:
            for victim in owner.victims:
                foreign = call(intruder, method, f"/payment-intents/{victim}{suffix}", body)
                missing = call(intruder, method, f"/payment-intents/{missing_id_like(victim)}{suffix}", body)
                assert foreign.status_code == 404, (name, operation, victim, foreign.text)
                assert comparable(foreign) == comparable(missing), (name, operation, victim)
    assert {victim: owner.sandbox.intent(victim) for victim in owner.victims} == before


def test_sandbox_key_cannot_reach_prod_intents(owner: Owner) -> None:
    prod_intent = str(owner.prod.create_intent(1000, **ALLOWED)["id"])
    before = owner.prod.intent(prod_intent)
    for _, method, suffix, body in OPERATIONS:
        foreign = call(owner.sandbox, method, f"/payment-intents/{prod_intent}{suffix}", body)
        missing = call(
            owner.sandbox, method, f"/payment-intents/{missing_id_like(prod_intent)}{suffix}", body
        )
        assert foreign.status_code == 404, foreign.text
        assert comparable(foreign) == comparable(missing)
    assert owner.prod.intent(prod_intent) == before


def search_ids(api: Api, body: dict[str, Any]) -> set[str]:
    response = api.post("/payment-intents/search", body)
    assert response.status_code == 200, response.text
    return {intent["id"] for intent in response.json()["data"]}


def test_search_never_shows_foreign_intents(
    owner: Owner, other_api: Api, client: TestClient, deps: Dependencies
) -> None:
    prod_intent = str(owner.prod.create_intent(1000)["id"])
    everything: dict[str, Any] = {"cursor": {"limit": 100}}
    assert search_ids(owner.sandbox, everything) == set(owner.victims)
    assert search_ids(owner.prod, everything) == {prod_intent}
    for name, intruder in intruders(owner, other_api, client, deps).items():
        for body in (
            everything,
            {"statuses": ["Created", "Authorized", "Captured"], "cursor": {"limit": 100}},
            {"startDate": "2000-01-01T00:00:00Z", "endDate": "2100-01-01T00:00:00Z"},
        ):
            assert not search_ids(intruder, body) & set(owner.victims), name
    assert search_ids(other_api, everything) == set()


def test_checkout_capability_does_not_leak_into_the_api(owner: Owner, other_api: Api) -> None:
    """Anyone holding the id may pay (like a payment link), but that grants no API access."""
    intent_id = str(other_api.create_intent(1000)["id"])
    assert owner.sandbox.pay(intent_id).status_code == 200
    assert owner.sandbox.get(f"/payment-intents/{intent_id}").status_code == 404
    assert other_api.intent(intent_id)["status"] == "Captured"
