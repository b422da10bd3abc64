"""The ``payintents`` command on both stores: accounts, migrate, expire, terminals, and serve's
first start."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from payintents.testbed.processes import free_port
from payintents.testbed.readiness import ready_timeout_s, wait_until_ready
from tests.e2e.test_readme import readme_block
from tests.support import Api, cli, postgres_schema_url, running_server, skip_without_postgres

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with nothing in it yet (not even the schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    skip_without_postgres()
    with postgres_schema_url() as url:
        yield url


def test_accounts_create_prints_one_json_object(empty_database: str) -> None:
    out = cli(empty_database, "accounts", "create", "Shop")
    created = json.loads(out)
    assert out.strip().count("\n") == 0
    assert set(created) == {"accountId", "sandboxKey", "prodKey"}
    assert re.fullmatch(r"acc_[A-Za-z0-9_-]{22}", created["accountId"])
    assert re.fullmatch(r"sk_sandbox_[A-Za-z0-9_-]{86}", created["sandboxKey"])
    assert re.fullmatch(r"sk_prod_[A-Za-z0-9_-]{86}", created["prodKey"])


def test_migrate_twice_and_expire(empty_database: str) -> None:
    cli(empty_database, "migrate")
    cli(empty_database, "migrate")
    assert json.loads(cli(empty_database, "expire")) == {"intentsExpired": 0, "keysReaped": 0}


def test_terminals_create_adds_one_that_terminals_list_shows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'terminals.db'}"
    account = json.loads(cli(url, "accounts", "create", "Shop"))["accountId"]
    created = json.loads(cli(url, "terminals", "create", account))
    assert created["environment"] == "sandbox" and re.fullmatch(r"\d{8}", created["tid"]) is not None
    listed = cli(url, "terminals", "list", account)
    # An account starts with two terminals; the new one is the third.
    rows = [line.split() for line in listed.splitlines()[1:]]
    assert [row[0] for row in rows].count(created["id"]) == 1 and len(rows) == 3, listed


def test_database_flag_is_honoured_over_the_environment(tmp_path: Path) -> None:
    flagged = tmp_path / "flag.db"
    env = {**os.environ, "PAYINTENTS_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    subprocess.run(
        [sys.executable, "-m", "payintents.cli", "migrate", "--database", f"sqlite:///{flagged}"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert flagged.exists() and not (tmp_path / "env.db").exists()


def test_first_serve_prints_a_key_and_a_curl_that_works(empty_database: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "payintents.cli", "serve", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PAYINTENTS_DATABASE_URL": empty_database}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        printed = _read_until(process, "POST /payment-intents/<id>/refunds")
        key = re.search(r"Sandbox key \(shown once, keep it\): (sk_sandbox_\S+)", printed)
        curl = re.search(r"^\s+(curl .+)$", printed, re.MULTILINE)
        assert key and curl, printed
        wait_until_ready(f"http://127.0.0.1:{port}", process, None)
        done = subprocess.run(
            ["bash", "-c", curl.group(1)], capture_output=True, text=True, timeout=30, check=True
        )
        intent = json.loads(done.stdout)
        assert intent["status"] == "Created" and intent["id"].startswith("pi_sandbox_")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_readme_quickstart_works_with_what_serve_printed(tmp_path: Path) -> None:
    """The Quickstart block as written, with the address and key the first start printed: the
    address is the port asked for, and the block pays and refunds an intent."""
    port = free_port()
    env = {**os.environ, "PAYINTENTS_DATABASE_URL": f"sqlite:///{tmp_path / 'quickstart.db'}"}
    command = [str(Path(sys.executable).parent / "payintents"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        printed = _read_until(process, "POST /payment-intents/<id>/refunds")
        base = re.search(r"^payintents \S+ on (http://\S+) ", printed, re.MULTILINE)
        key = re.search(r"Sandbox key \(shown once, keep it\): (sk_sandbox_\S+)", printed)
        assert base and key, printed
        assert base[1] == f"http://127.0.0.1:{port}"
        wait_until_ready(base[1], process, None, path="/health/ready")
        outputs = _run_quickstart(base[1], key[1])
    finally:
        process.terminate()
        process.wait(timeout=10)
    paid, refund, intent = outputs
    assert paid["status"] == "Captured" and refund["refundId"].startswith("rfnd_")
    assert (intent["status"], intent["refundedAmount"]) == ("Captured", 400)


def _run_quickstart(base_url: str, key: str) -> list[dict[str, object]]:
    """Run the README's Quickstart after its ``make run`` line; return the JSON bodies it printed."""
    first, *lines = readme_block("quickstart").splitlines()
    assert first.startswith("make run")
    assert lines[0].startswith("BASE=http://127.0.0.1:8000") and lines[1].startswith("KEY=sk_sandbox_...")
    script = "\n".join(["set -euo pipefail", f"BASE={base_url}", f"KEY={key}", *lines[2:]])
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    decoder, text, bodies = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        body, end = decoder.raw_decode(text)
        bodies.append(body)
        text = text[end:].strip()
    return bodies


def test_serve_with_workers_refunds(empty_database: str, tmp_path: Path) -> None:
    cli(empty_database, "migrate")
    with running_server(empty_database, tmp_path, workers=2) as server:
        key = server.new_account()["sandboxKey"]
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            api = Api(client, key)
            intent_id = api.captured_intent(2500)
            assert api.refund(intent_id, 1000).status_code == 200
            assert api.refund(intent_id, 1500).status_code == 200
            assert api.refund(intent_id, 1).status_code == 400
            assert api.intent(intent_id)["status"] == "Refunded"


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    """What serve printed up to the line with ``marker``; it prints that once it has started."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + ready_timeout_s()
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError("serve did not print its welcome:\n" + "".join(lines))
