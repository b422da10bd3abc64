"""Authentication, the version header, routing errors and id shapes (docs/api.md,
"Authentication", "Version header", "Identifiers", "Errors"): one 401 body for every bad key, version
resolution by date, Dojo's error shape for unknown paths and wrong methods, prod versus sandbox."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import VERSION, Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
MISSING_ID = "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA"
CREATE_BODY = {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "Order 234"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert set(body) <= {"type", "title", "status", "detail", "errors", "traceId"}
    assert body["type"].startswith("https://tools.ietf.org/html/rfc")
    assert body["title"] and body["status"] == status
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    return body


def without_trace(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "traceId"}


def visible_ids(api: Api) -> set[str]:
    found = api.post("/payment-intents/search", {"cursor": {"limit": 100}})
    assert found.status_code == 200, found.text
    return {intent["id"] for intent in found.json()["data"]}


def bad_authorizations(api: Api) -> dict[str, dict[str, str]]:
    key = api.key
    basic_of_key = base64.b64encode(f"{key}:".encode()).decode()
    return {
        "missing": {},
        "empty": {"Authorization": ""},
        "scheme-only": {"Authorization": "Basic"},
        "bearer-scheme": {"Authorization": f"Bearer {key}"},
        "no-scheme": {"Authorization": key},
        "unknown-key": {"Authorization": "Basic sk_sandbox_" + "A" * 86},
        "unknown-prod-key": {"Authorization": "Basic sk_prod_" + "A" * 86},
        "malformed-key": {"Authorization": "Basic not-a-key"},
        "truncated-key": {"Authorization": f"Basic {key[:-1]}"},
        "key-with-suffix": {"Authorization": f"Basic {key}x"},
        "legacy-test-key": {"Authorization": "Basic sk_test_" + "A" * 86},
        "basic-of-key-colon": {"Authorization": f"Basic {basic_of_key}"},
    }


def test_every_bad_key_gets_the_same_401(api: Api) -> None:
    bodies = []
    for name, auth in bad_authorizations(api).items():
        headers = {"Version": VERSION, **auth}
        for response in (
            api.client.post("/payment-intents", json=CREATE_BODY, headers=headers),
            api.client.get(f"/payment-intents/{MISSING_ID}", headers=headers),
        ):
            assert response.status_code == 401, name
            bodies.append(without_trace(assert_problem(response, 401)))
    assert all(body == bodies[0] for body in bodies), bodies
    assert visible_ids(api) == set()


def test_auth_is_checked_before_the_version_header(api: Api) -> None:
    response = api.client.get(f"/payment-intents/{MISSING_ID}", headers={"Authorization": "Basic nope"})
    assert_problem(response, 401)


def test_scheme_name_is_case_insensitive(api: Api) -> None:
    headers = {"authorization": f"basic {api.key}", "version": VERSION}
    assert api.client.post("/payment-intents", json=CREATE_BODY, headers=headers).status_code == 200


# 2022-04-07 (the legacy version Dojo's PHP SDK sends) is supported; anything earlier is not.
BAD_VERSIONS = [None, "", "2024-2-5", "abc", "2024-02-30", "05-02-2024", "2024-02-05T00:00:00Z", "2022-04-06"]


def test_bad_version_header_is_400(api: Api) -> None:
    for version in [*BAD_VERSIONS, "2021-01-01"]:
        headers = {"Authorization": f"Basic {api.key}"}
        if version is not None:
            headers["Version"] = version
        response = api.client.post("/payment-intents", json=CREATE_BODY, headers=headers)
        body = assert_problem(response, 400)
        assert list(body["errors"]) == ["version"] and body["errors"]["version"], version
    assert visible_ids(api) == set()


def test_supported_dates_resolve(api: Api) -> None:
    for version in ["2024-02-05", "2025-01-01", "2025-09-10", "2026-02-27", "2030-01-01"]:
        headers = {"Authorization": f"Basic {api.key}", "Version": version}
        created = api.client.post("/payment-intents", json=CREATE_BODY, headers=headers)
        assert created.status_code == 200, (version, created.text)
        fetched = api.client.get(f"/payment-intents/{created.json()['id']}", headers=headers)
        assert fetched.status_code == 200 and fetched.json()["id"] == created.json()["id"]


def test_version_header_name_in_any_case(api: Api) -> None:
    for name in ["version", "VERSION", "Version", "vErSiOn"]:
        headers = {"Authorization": f"Basic {api.key}", name: VERSION}
        assert api.client.post("/payment-intents", json=CREATE_BODY, headers=headers).status_code == 200, name


UNKNOWN_PATHS = [
    ("GET", "/nothing-here"),
    ("GET", "/payment-intents/x/y/z"),
    ("POST", "/payment-intents/pi_x/unknown-action"),
    ("GET", "/"),
]


def test_unknown_path_is_404_in_dojo_shape(api: Api) -> None:
    for method, path in UNKNOWN_PATHS:
        assert_problem(api.client.request(method, path, headers=api.headers()), 404)


WRONG_METHODS = [
    ("GET", "/payment-intents", {"POST"}),
    ("PUT", "/payment-intents/pi_x", {"GET", "DELETE"}),
    ("PATCH", "/payment-intents/pi_x", {"GET", "DELETE"}),
    ("GET", "/payment-intents/pi_x/captures", {"POST"}),
    ("DELETE", "/payment-intents/pi_x/reversal", {"POST"}),
    ("PUT", "/checkout/pi_x/pay", {"POST"}),
]


def test_wrong_method_is_405_with_allow(api: Api) -> None:
    for method, path, allowed in WRONG_METHODS:
        response = api.client.request(method, path, headers=api.headers())
        assert_problem(response, 405)
        listed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
        assert listed == allowed, (method, path)


def test_caller_traceparent_is_kept_in_the_trace_id(api: Api) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = api.get(f"/payment-intents/{MISSING_ID}", traceparent=f"00-{trace}-00f067aa0ba902b7-01")
    assert assert_problem(response, 404)["traceId"].startswith(f"00-{trace}-")


def test_trace_ids_differ_per_request(api: Api) -> None:
    first = api.get(f"/payment-intents/{MISSING_ID}").json()["traceId"]
    second = api.get(f"/payment-intents/{MISSING_ID}").json()["traceId"]
    assert first != second


SANDBOX_ID = re.compile(r"^pi_sandbox_[A-Za-z0-9_-]{22}$")
PROD_ID = re.compile(r"^pi_[A-Za-z0-9_-]{22}$")


def test_prod_and_sandbox_keys_mint_their_own_ids(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "both")
    assert account.sandbox_key.startswith("sk_sandbox_") and account.prod_key.startswith("sk_prod_")
    sandbox, prod = Api(client, account.sandbox_key), Api(client, account.prod_key)
    sandbox_intent = sandbox.create_intent(1000, captureMode="Manual")
    prod_intent = prod.create_intent(1000, captureMode="Manual")
    assert SANDBOX_ID.match(sandbox_intent["id"]), sandbox_intent["id"]
    assert PROD_ID.match(prod_intent["id"]) and "sandbox" not in prod_intent["id"], prod_intent["id"]
    assert prod.pay(prod_intent["id"]).status_code == 200
    captured = prod.post(f"/payment-intents/{prod_intent['id']}/captures", {"amount": 400}).json()
    assert re.fullmatch(r"cp_[A-Za-z0-9_-]{22}", captured["captureId"])
    assert prod.intent(prod_intent["id"])["status"] == "Captured"
    assert sandbox.pay(sandbox_intent["id"]).status_code == 200
    reversed_ = sandbox.post(f"/payment-intents/{sandbox_intent['id']}/reversal").json()
    assert re.fullmatch(r"rvs_sandbox_[A-Za-z0-9_-]{22}", reversed_["reversalId"])
    other = prod.create_intent(1000)
    assert prod.pay(other["id"]).status_code == 200
    reversal = prod.post(f"/payment-intents/{other['id']}/reversal").json()
    assert re.fullmatch(r"rvs_[A-Za-z0-9_-]{22}", reversal["reversalId"])
