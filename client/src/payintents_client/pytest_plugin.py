"""A pytest plugin: a throwaway payintents server for your test suite, like moto or localstripe.

Installed with the client (entry point ``pytest11``); it needs the ``payintents`` server command on
PATH (or ``PAYINTENTS_COMMAND``, e.g. ``python -m payintents.cli``). Fixtures:

- ``payintents_server`` (session): starts ``payintents serve`` on a free loopback port with a
  temporary SQLite file and a fresh account; has ``base_url``, ``sandbox_key`` and ``client()``.
- ``payintents`` (function): a ready :class:`~payintents_client.Client` on that server, after
  ``POST /sandbox/reset`` so every test starts from an empty sandbox.

It imports nothing from the server: it runs it as a separate process.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from payintents_client._client import Client

START_TIMEOUT_S = 60.0


@dataclass
class PayintentsServer:
    """A running throwaway server: where it is and the sandbox key of its one account."""

    base_url: str
    sandbox_key: str
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, **options: object) -> Client:
        return Client(self.sandbox_key, base_url=self.base_url, **options)  # type: ignore[arg-type]

    def reset(self) -> None:
        """Delete every object of the sandbox account (intents, refunds, webhooks, log, clock)."""
        headers = {"Authorization": f"Basic {self.sandbox_key}", "Version": "2024-02-05"}
        response = httpx.post(f"{self.base_url}/sandbox/reset", headers=headers, timeout=30)
        response.raise_for_status()


def server_command() -> list[str]:
    configured = os.environ.get("PAYINTENTS_COMMAND")
    if configured:
        return shlex.split(configured)
    found = shutil.which("payintents") or str(Path(sys.executable).parent / "payintents")
    return [found]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"payintents exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"payintents did not become ready:\n{log.read_text(errors='replace')}")


def start_server(directory: Path) -> PayintentsServer:
    """Create an account in a new SQLite file, then serve it on a free port."""
    # The command is the test author's own (PATH or PAYINTENTS_COMMAND), never outside input.
    command = server_command()
    database = f"sqlite:///{directory / 'payintents.db'}"
    created = subprocess.run(  # noqa: S603
        [*command, "accounts", "create", "pytest", "--database", database],
        capture_output=True,
        check=True,
        timeout=START_TIMEOUT_S,
    )
    key = json.loads(created.stdout)["sandboxKey"]
    port = _free_port()
    log = directory / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603
            [*command, "serve", "--database", database, "--port", str(port), "--log-level", "warning"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, base_url, log)
    except RuntimeError:
        process.kill()
        raise
    return PayintentsServer(base_url, key, process)


def stop_server(server: PayintentsServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def payintents_server() -> Iterator[PayintentsServer]:
    with tempfile.TemporaryDirectory(prefix="payintents-pytest-") as directory:
        server = start_server(Path(directory))
        try:
            yield server
        finally:
            stop_server(server)


@pytest.fixture
def payintents(payintents_server: PayintentsServer) -> Iterator[Client]:
    payintents_server.reset()
    with payintents_server.client() as client:
        yield client
