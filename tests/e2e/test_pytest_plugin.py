"""The client's pytest plugin, used the way a merchant's suite would use it: ``payintents`` gives
a ready client on a throwaway server, reset before every test, that pays with
``payintents.sandbox.pay``; a missing server command fails with the fix named, and
``PAYINTENTS_PORT`` pins the port."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from payintents_client import Client, Money, SandboxCard, ValidationFailedError
from payintents_client.pytest_plugin import (
    PayintentsServer,
    PayintentsServerError,
    server_command,
    server_port,
)

from payintents.testbed.processes import free_port

pytestmark = pytest.mark.e2e
FIX = "install the payintents server, or set PAYINTENTS_COMMAND"


def _captured(client: Client, value: int) -> str:
    intent = client.payment_intents.create(Money(value, "GBP"), "Order 234")
    assert client.sandbox.pay(intent.id).status == "Captured"
    return intent.id


def test_refund_on_a_throwaway_server(payintents: Client) -> None:
    intent_id = _captured(payintents, 1000)
    payintents.refunds.create(intent_id, 400, refund_reason="Demo refund")
    with pytest.raises(ValidationFailedError) as refused:
        payintents.refunds.create(intent_id, 601)
    assert "600" in (refused.value.detail or "")
    assert payintents.payment_intents.get(intent_id).refunded_amount == 400


def test_every_test_starts_from_an_empty_sandbox(
    payintents: Client, payintents_server: PayintentsServer
) -> None:
    assert list(payintents.payment_intents.search()) == []
    _captured(payintents, 500)
    assert (
        payintents.sandbox.pay(
            payintents.payment_intents.create(Money(300, "GBP"), "Declined").id, SandboxCard.DECLINED
        )
        .payment_events[-1]
        .event_type
        == "Declined"
    )
    assert len(list(payintents.payment_intents.search())) == 2
    payintents_server.reset()  # what the fixture does before each test
    assert list(payintents.payment_intents.search()) == []


def test_without_the_server_command_the_error_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYINTENTS_COMMAND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(PayintentsServerError, match=FIX):
        server_command()


def test_a_bad_port_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYINTENTS_PORT", "80a")
    with pytest.raises(PayintentsServerError, match="PAYINTENTS_PORT must be a port number"):
        server_port()


SUITE = """
from payintents_client import Money

def test_port(payintents, payintents_server):
    assert payintents_server.base_url == "http://127.0.0.1:{port}"
    intent = payintents.payment_intents.create(Money(1000, "GBP"), "Order 1")
    assert payintents.sandbox.pay(intent.id).status == "Captured"
"""


def _run_suite(tmp_path: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE.format(port=port)))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "test_suite.py"],
        check=False,
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_payintents_port_pins_the_servers_port(tmp_path: Path) -> None:
    port = free_port()
    done = _run_suite(tmp_path, port, PAYINTENTS_PORT=str(port))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_suite_without_the_server_fails_at_setup_with_the_fix_named(tmp_path: Path) -> None:
    done = _run_suite(tmp_path, 1, PAYINTENTS_COMMAND=str(tmp_path / "no-such-payintents"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and FIX in done.stdout
    assert "Traceback" not in done.stdout
