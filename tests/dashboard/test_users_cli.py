"""``payintents users create|list|set-password|delete`` on both stores: the user it creates signs
in to the dashboard, the password is read from stdin and stored only as an Argon2id hash, the list
shows no hash, and bad input exits 1 and changes nothing. (New passwords and deletions ending
sessions: test_session_lifetime.py.)"""

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
from tests.dashboard.support import PASSWORD, Dashboard, payintents, text_of

# Each test runs the command line several times, a second or more each on a busy machine.
pytestmark = pytest.mark.slow


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


def test_users_list_shows_names_accounts_and_dates_never_hashes(
    database_url: str, deps: Dependencies
) -> None:
    mine, theirs = create_account(deps, "mine"), create_account(deps, "theirs")
    for name, account in (("zoe", mine), ("adam", mine), ("tom", theirs)):
        create_user(deps, name, account.account_id, PASSWORD)
    everyone = payintents(database_url, "users", "list")
    assert everyone.returncode == 0, everyone.stderr
    lines = everyone.stdout.splitlines()
    assert lines[0].split() == ["USERNAME", "ACCOUNT", "CREATED"]
    assert [line.split()[0] for line in lines[1:]] == ["adam", "tom", "zoe"]
    assert "argon2" not in everyone.stdout and PASSWORD not in everyone.stdout
    only_mine = payintents(database_url, "users", "list", "--account", mine.account_id, "--json")
    rows = json.loads(only_mine.stdout)
    assert [(row["username"], row["accountId"]) for row in rows] == [
        ("adam", mine.account_id),
        ("zoe", mine.account_id),
    ]
    assert set(rows[0]) == {"username", "accountId", "createdAt"}


def test_unknown_users_and_short_passwords_exit_1_and_change_nothing(
    database_url: str, deps: Dependencies
) -> None:
    account = create_account(deps, "merchant")
    create_user(deps, "dave", account.account_id, PASSWORD)
    for args, stdin, reason in (
        (("set-password", "nobody", "--password-stdin"), PASSWORD, "No dashboard user nobody exists"),
        (("delete", "nobody"), "", "No dashboard user nobody exists"),
        (("set-password", "dave", "--password-stdin"), "short", "A password is 12 to 1024 characters long."),
        (("list", "--account", "acc_nothing"), "", "No account acc_nothing exists."),
    ):
        done = payintents(database_url, "users", *args, stdin=stdin + "\n")
        assert done.returncode == 1 and reason in done.stderr and "Traceback" not in done.stderr
    assert users.verify_user(deps, "dave", PASSWORD) is not None
