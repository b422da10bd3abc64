"""client/README.md's refund of Dojo's example 10.00 GBP, executed as written against a real
``payintents serve``: the three-line Python snippet, and the one CLI command through the installed
``payintents-client`` console script. Only the ``<paymentIntentId>`` placeholder is filled in; the key
and base URL come from the environment variables the README tells readers to set."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from payintents_client import Client, RefundCreated
from sdk_support import ServerUnderTest, captured_intent

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDER = "<paymentIntentId>"


def readme_block(kind: str) -> str:
    match = re.search(rf"<!-- readme-test: {kind} -->\n```\w+\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README has no block marked readme-test: {kind}"
    return match[1]


def _assert_refunded_once(client: Client, intent_id: str) -> None:
    intent = client.payment_intents.get(intent_id)
    assert (intent.status, intent.refunded_amount) == ("Refunded", 1000)
    rows = client.refunds.list(intent_id)
    assert [(r.amount, r.refund_reason, r.notes) for r in rows] == [
        (1000, "Demo refund", "Duplicate transaction")
    ]


def test_readme_python_snippet_is_three_lines_and_refunds_10_gbp(
    client: Client, server: ServerUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    snippet = readme_block("python")
    assert len(snippet.strip().splitlines()) == 3
    intent_id = captured_intent(client, server.base_url, 1000)
    monkeypatch.setenv("PAYINTENTS_API_KEY", server.api_key)
    monkeypatch.setenv("PAYINTENTS_BASE_URL", server.base_url)
    namespace: dict[str, object] = {}
    exec(compile(snippet.replace(PLACEHOLDER, intent_id), str(README), "exec"), namespace)
    refund = namespace["refund"]
    assert isinstance(refund, RefundCreated) and refund.payment_intent_id == intent_id
    namespace["client"].close()  # type: ignore[attr-defined]
    _assert_refunded_once(client, intent_id)


def test_readme_cli_command_is_one_command_and_refunds_10_gbp(
    client: Client, server: ServerUnderTest
) -> None:
    lines = readme_block("cli").strip().splitlines()
    assert len(lines) == 1
    argv = [arg.replace(PLACEHOLDER, "{id}") for arg in shlex.split(lines[0])]
    assert argv[0] == "payintents-client" and "{id}" in argv
    intent_id = captured_intent(client, server.base_url, 1000)
    script = Path(sys.executable).parent / argv[0]  # the console script this package installs
    env = {**os.environ, "PAYINTENTS_API_KEY": server.api_key, "PAYINTENTS_BASE_URL": server.base_url}
    done = subprocess.run(
        [str(script), *(a.replace("{id}", intent_id) for a in argv[1:])],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Refunded 10.00 GBP" in done.stdout and intent_id in done.stdout
    _assert_refunded_once(client, intent_id)
