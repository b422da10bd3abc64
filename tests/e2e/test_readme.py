"""The README's refund blocks, executed as written against a real ``payintents serve``: the
three-line Python snippet and the one ``payintents refund`` command (the server's command runs the
client's CLI). Only ``<paymentIntentId>`` is filled in; key and base URL come from the environment
variables the README names."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Api, RunningServer, running_server

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "<paymentIntentId>"


def readme_block(kind: str) -> str:
    match = re.search(rf"<!-- readme-test: {kind} -->\n```\w+\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README has no block marked readme-test: {kind}"
    return match[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("readme")
    with running_server(f"sqlite:///{directory / 'readme.db'}", directory, workers=1) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield Api(client, server.new_account()["sandboxKey"])


def _refunded_once(api: Api, intent_id: str) -> None:
    intent = api.intent(intent_id)
    assert (intent["status"], intent["refundedAmount"]) == ("Refunded", 1000)
    rows = api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    assert [(r["amount"], r["refundReason"], r["notes"]) for r in rows] == [
        (1000, "Demo refund", "Duplicate transaction")
    ]


def test_readme_python_snippet(server: RunningServer, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = readme_block("python")
    assert len(snippet.strip().splitlines()) == 3
    intent_id = api.captured_intent(1000)
    monkeypatch.setenv("PAYINTENTS_API_KEY", api.key)
    monkeypatch.setenv("PAYINTENTS_BASE_URL", server.base_url)
    namespace: dict[str, object] = {}
    exec(compile(snippet.replace(PLACEHOLDER, intent_id), str(README), "exec"), namespace)
    namespace["client"].close()  # type: ignore[attr-defined]
    _refunded_once(api, intent_id)


def test_readme_cli_command(server: RunningServer, api: Api) -> None:
    (line,) = readme_block("cli").strip().splitlines()
    argv = shlex.split(line)
    assert argv[:2] == ["payintents", "refund"]
    intent_id = api.captured_intent(1000)
    command = [
        str(Path(sys.executable).parent / "payintents"),
        *(a.replace(PLACEHOLDER, intent_id) for a in argv[1:]),
    ]
    env = {**os.environ, "PAYINTENTS_API_KEY": api.key, "PAYINTENTS_BASE_URL": server.base_url}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert intent_id in done.stdout
    _refunded_once(api, intent_id)
