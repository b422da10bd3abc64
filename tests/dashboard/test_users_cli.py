"""``payintents users create`` on both stores: the user it creates signs in to the dashboard, the
password is read from stdin and stored only as an Argon2id hash, bad input exits 1 and adds nobody."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.errors import ValidationError
from payintents.service import users
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.users import create_user
from tests.dashboard.support import PASSWORD, Dashboard, text_of


def users_create(database_url: str, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payintents.cli", "users", "create", *args, "--database", database_url],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_user_created_on_the_command_line_signs_in(database_url: str, client: TestClient) -> None:
    deps = build_dependencies(Settings(database_url=database_url))
    account = create_account(deps, "merchant")
    done = users_create(database_url, "carol", "--account", account.account_id, "--password-stdin")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["username"] == "carol" and created["accountId"] == account.account_id
    engine = make_engine(database_url, pool_size=1)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM dashboard_users")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    browser = Dashboard(client)
    browser.sign_in_as("carol")
    assert "carol" in text_of(browser.get("/dashboard/payments").text)


def test_a_refused_user_exits_1_with_the_reason(database_url: str) -> None:
    deps = build_dependencies(Settings(database_url=database_url))
    account = create_account(deps, "merchant")
    create_user(deps, "dave", account.account_id, PASSWORD)
    done = users_create(database_url, "dave", "--account", account.account_id, "--password-stdin")
    assert done.returncode == 1
    assert "The username dave is taken." in done.stderr


@pytest.mark.parametrize(
    ("username", "account_id", "password", "message"),
    [
        ("erin", "acc_nothing", PASSWORD, "No account acc_nothing exists."),
        ("frank", None, "short", "A password is 12 to 1024 characters long."),
        ("frank", None, "x" * 1025, "A password is 12 to 1024 characters long."),
        ("no spaces", None, PASSWORD, "A username is 3 to 64 characters"),
        ("ab", None, PASSWORD, "A username is 3 to 64 characters"),
    ],
)
def test_bad_users_are_refused_and_nobody_is_added(
    deps: Dependencies, username: str, account_id: str | None, password: str, message: str
) -> None:
    account = create_account(deps, "merchant")
    with pytest.raises(ValidationError) as refused:
        create_user(deps, username, account_id or account.account_id, password)
    assert message in str(refused.value.errors)
    assert users.verify_user(deps, username, password) is None


def test_a_long_password_never_matches_its_prefix(deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    create_user(deps, "grace", account.account_id, "p" * 1024)
    assert users.verify_user(deps, "grace", "p" * 1024) is not None
    assert users.verify_user(deps, "grace", "p" * 1025) is None
    assert users.verify_user(deps, "grace", "p" * 1023) is None
