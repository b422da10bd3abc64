"""``payintents keys create|list|revoke`` typed as a person types them, on both stores: a new key is
printed once and opens the API; the list shows its id, prefix, environment and dates but never the
key or its hash; a revoked key answers 401 at once, in another app on the same database too; bad
input exits 1 with the reason and changes nothing. "Last used" is written off the request path, once
a minute at most."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account, hash_key
from payintents.service.dependencies import Dependencies
from payintents.service.keys import list_keys
from payintents.web.app import build_app
from tests.dashboard.support import payintents
from tests.support import Api

# Each test runs the command line several times, a second or more each on a busy machine.
pytestmark = pytest.mark.slow


def keys(database_url: str, *args: str) -> Any:
    done = payintents(database_url, "keys", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def listed(database_url: str, account_id: str) -> list[dict[str, str]]:
    return list(json.loads(keys(database_url, "list", account_id, "--json")))


def test_a_created_key_is_shown_once_and_opens_the_api(
    database_url: str, client: TestClient, deps: Dependencies
) -> None:
    account = create_account(deps, "merchant")
    done = payintents(database_url, "keys", "create", account.account_id, "--environment", "production")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert set(created) == {"keyId", "accountId", "environment", "key"}
    assert re.fullmatch(r"key_[A-Za-z0-9_-]{22}", created["keyId"])
    assert re.fullmatch(r"sk_prod_[A-Za-z0-9_-]{86}", created["key"])
    assert (created["accountId"], created["environment"]) == (account.account_id, "production")
    assert "shown this once" in done.stderr
    api = Api(client, created["key"])
    intent_id = api.create_intent(reference="With a new key")["id"]
    # The new key opens the account's production objects, as the account's first key does.
    assert Api(client, account.prod_key).get(f"/payment-intents/{intent_id}").status_code == 200

    table = keys(database_url, "list", account.account_id)
    rows = listed(database_url, account.account_id)
    for shown in (table, json.dumps(rows)):
        assert created["key"] not in shown and hash_key(created["key"]) not in shown
        assert account.prod_key not in shown and account.sandbox_key not in shown
    new = next(row for row in rows if row["keyId"] == created["keyId"])
    assert new["prefix"] == created["key"][:12] + "…" and new["environment"] == "production"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", new["createdAt"])
    assert new["revokedAt"] == "-"
    assert sorted(row["environment"] for row in rows) == ["production", "production", "sandbox"]
    assert table.splitlines()[0].split() == [
        "ID",
        "PREFIX",
        "ENVIRONMENT",
        "CREATED",
        "LAST",
        "USED",
        "REVOKED",
    ]
    assert created["keyId"] in table and "sk_prod_" in table


def test_a_revoked_key_answers_401_at_once_everywhere(
    database_url: str, client: TestClient, deps: Dependencies
) -> None:
    account = create_account(deps, "merchant")
    # A second app with its own engine: another worker process's view of the same database.
    engine = make_engine(database_url, pool_size=2)
    other_worker = build_app(build_dependencies(Settings(database_url=database_url), engine=engine))
    with TestClient(other_worker) as elsewhere:
        for http in (client, elsewhere):
            assert Api(http, account.sandbox_key).get("/payment-intents/pi_missing").status_code == 404
        sandbox_keys = [
            row for row in listed(database_url, account.account_id) if row["environment"] == "sandbox"
        ]
        key_id = sandbox_keys[0]["keyId"]
        out = keys(database_url, "revoke", key_id)
        assert f"Revoked {key_id}" in out and "0 dashboard sessions ended" in out
        for http in (client, elsewhere):
            refused = Api(http, account.sandbox_key).get("/payment-intents/pi_missing")
            assert refused.status_code == 401 and refused.json()["status"] == 401
            assert Api(http, account.prod_key).get("/payment-intents/pi_missing").status_code == 404
    engine.dispose()
    again = keys(database_url, "revoke", key_id)
    assert "was already revoked" in again
    revoked = next(k for k in list_keys(deps, account.account_id) if k.key_id == key_id)
    assert revoked.revoked_at is not None
    # The key itself names it too.
    assert "Revoked" in keys(database_url, "revoke", account.prod_key)
    assert Api(client, account.prod_key).get("/payment-intents/pi_missing").status_code == 401


def test_bad_input_exits_1_with_the_reason_and_changes_nothing(database_url: str, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    before = list_keys(deps, account.account_id)
    for args, reason in (
        (("create", "acc_nothing", "--environment", "sandbox"), "No account acc_nothing exists."),
        (("list", "acc_nothing"), "No account acc_nothing exists."),
        (("revoke", "key_nothing"), "No API key matches key_nothing"),
        (("revoke", "sk_prod_" + "x" * 86), "No API key matches that key"),
    ):
        done = payintents(database_url, "keys", *args)
        assert done.returncode == 1 and reason in done.stderr and "Traceback" not in done.stderr
        assert "x" * 86 not in done.stderr
    wrong_environment = payintents(
        database_url, "keys", "create", account.account_id, "--environment", "live"
    )
    assert wrong_environment.returncode == 2 and "invalid choice" in wrong_environment.stderr
    assert list_keys(deps, account.account_id) == before


def test_last_used_is_written_once_a_minute_off_the_request_path(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine)
    account = create_account(deps, "merchant")
    assert deps.key_usage is not None
    key_writes: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            key_writes.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    with TestClient(build_app(deps)) as http:
        api = Api(http, account.sandbox_key)
        for _ in range(50):
            assert api.get("/payment-intents/pi_missing").status_code == 404
        # Fifty requests, and not one wrote to the keys (the background writer waits 5 s).
        assert key_writes == []
        assert deps.key_usage.flush() == 1
        assert len(key_writes) == 1
        for _ in range(50):
            api.get("/payment-intents/pi_missing")
        assert deps.key_usage.flush() == 0  # noted less than a minute ago: nothing to write
    rows = {row["environment"]: row for row in listed(database_url, account.account_id)}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows["sandbox"]["lastUsedAt"])
    assert rows["production"]["lastUsedAt"] == "never"
    engine.dispose()
