"""``payintents accounts`` for gateway accounts (ADR 0031), run as the command itself:

- ``accounts create --upstream dojo --upstream-key-stdin`` with PAYINTENTS_SECRET_KEY stores the
  Dojo key sealed (never in clear in the database, never printed); without a secret key it is
  refused with a clear message and creates nothing;
- with an upstream stored, ``serve`` and the other commands refuse to start without the secret key;
  once the upstream is removed they start again;
- ``set-upstream`` refuses a malformed URL; ``reseal-upstreams`` reseals after a rotation, and
  the old secret key alone then opens nothing (commands refuse to start, naming the key's id).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from payintents.testbed.processes import free_port
from tests.gateway_support import SECRET_KEY

pytestmark = pytest.mark.e2e

DOJO_KEY = "sk_prod_merchants-own-dojo-key-0000"
ROTATED = "a-new-secret-key-after-rotation-0123456789"


def payintents(
    database_url: str,
    *args: str,
    secret: str | None = SECRET_KEY,
    stdin: str = "",
    previous: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYINTENTS_SECRET_KEY")}
    if secret is not None:
        env["PAYINTENTS_SECRET_KEY"] = secret
    if previous is not None:
        env["PAYINTENTS_SECRET_KEY_PREVIOUS"] = previous
    command = [sys.executable, "-m", "payintents.cli", *args, "--database", database_url]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )


def stored(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def test_an_upstream_account_keeps_its_dojo_key_sealed_and_unshown(database: str) -> None:
    created = payintents(
        database,
        "accounts",
        "create",
        "Shop",
        "--upstream",
        "dojo",
        "--upstream-key-stdin",
        stdin=DOJO_KEY + "\n",
    )
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert shown["upstream"] == "dojo https://api.dojo.tech"
    assert DOJO_KEY not in created.stdout + created.stderr
    rows = stored(
        database, "SELECT account_id, provider, base_url, key_id, sealed_key FROM account_upstreams"
    )
    assert [row[:3] for row in rows] == [(shown["accountId"], "dojo", "https://api.dojo.tech")]
    assert DOJO_KEY not in str(rows) and str(rows[0][3]).startswith("v1-")


def test_without_a_secret_key_an_upstream_is_refused_and_nothing_is_created(database: str) -> None:
    refused = payintents(
        database, "accounts", "create", "Shop", "--upstream", "dojo", "--upstream-key-stdin",
        stdin=DOJO_KEY + "\n", secret=None,
    )  # fmt: skip
    assert refused.returncode == 1 and "PAYINTENTS_SECRET_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert stored(database, "SELECT count(*) FROM accounts") == [(0,)]


def test_stored_upstreams_stop_every_command_without_the_secret_key(database: str) -> None:
    account = json.loads(payintents(database, "accounts", "create", "Shop").stdout)["accountId"]
    url = "--upstream-url=https://dojo.example/"
    done = payintents(
        database, "accounts", "set-upstream", account, url, "--upstream-key-stdin", stdin=DOJO_KEY
    )
    assert done.returncode == 0, done.stderr
    for command in (("keys", "list", account), ("reconcile",), ("serve", "--port", str(free_port()))):
        refused = payintents(database, *command, secret=None)
        assert refused.returncode != 0 and "PAYINTENTS_SECRET_KEY" in refused.stderr, command
        assert "Traceback" not in refused.stderr and DOJO_KEY not in refused.stderr
    assert payintents(database, "accounts", "remove-upstream", account).returncode == 0
    assert payintents(database, "keys", "list", account, secret=None).returncode == 0


def test_a_malformed_upstream_url_is_refused_and_a_rotation_reseals(database: str) -> None:
    account = json.loads(payintents(database, "accounts", "create", "Shop").stdout)["accountId"]
    bad = payintents(
        database,
        "accounts",
        "set-upstream",
        account,
        "--upstream-url",
        "ftp://x",
        "--upstream-key-stdin",
        stdin="k",
    )
    assert bad.returncode == 1 and "upstream URL" in bad.stderr
    payintents(database, "accounts", "set-upstream", account, "--upstream-key-stdin", stdin=DOJO_KEY)
    (before,) = stored(database, "SELECT key_id FROM account_upstreams")
    resealed = payintents(database, "accounts", "reseal-upstreams", secret=ROTATED, previous=SECRET_KEY)
    assert resealed.returncode == 0 and "Resealed 1" in resealed.stdout, resealed.stderr
    (after,) = stored(database, "SELECT key_id FROM account_upstreams")
    assert after != before
    # The old secret alone no longer opens it: commands refuse to start, naming the key's id.
    refused = payintents(database, "reconcile", secret=SECRET_KEY)
    assert refused.returncode != 0 and str(after[0]) in refused.stderr
    assert payintents(database, "reconcile", secret=ROTATED).returncode == 0
