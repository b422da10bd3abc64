"""A pytest plugin: a throwaway payintents server for your test suite, like moto or localstripe.

Installed with the client (entry point ``pytest11``); it needs the payintents server installed, its
``payintents`` command on PATH or next to the running Python (or ``PAYINTENTS_COMMAND``, e.g.
``python -m payintents.cli``). Fixtures:

- ``payintents_server`` (session): one ``payintents serve`` on a loopback port (a free one, or
  ``PAYINTENTS_PORT``) with a temporary SQLite file; has ``base_url``, ``sandbox_key``,
  ``client()`` and ``reset()``.
- ``payintents`` (function): a ready ``Client`` on that server, after a sandbox reset, so every test
  starts from an empty sandbox: ``payintents.sandbox.pay(intent.id)`` pays with a test card.

Start-up is one process: ``serve`` migrates the empty file and creates its demo account itself,
printing the account's sandbox key, which the plugin reads from the server's output while it polls
for readiness. It imports nothing from the server: it runs it as a separate process.
"""

from __future__ import annotations

import os
import re
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
from payintents_client._transport import ssl_context

START_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.01
COMMAND_ENV = "PAYINTENTS_COMMAND"
PORT_ENV = "PAYINTENTS_PORT"
MISSING_SERVER = (
    "payintents_server: the payintents server command {command!r} was not found; "
    "install the payintents server, or set PAYINTENTS_COMMAND (e.g. 'python -m payintents.cli')"
)
# What ``serve`` prints for the demo account it creates on an empty database.
_SANDBOX_KEY = re.compile(rb"\bsk_sandbox_[A-Za-z0-9_-]{20,}")


class PayintentsServerError(RuntimeError):
    """The throwaway server could not be started; the message says what to do."""


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
        with self.client() as client:
            client.sandbox.reset()


def server_command() -> list[str]:
    """``PAYINTENTS_COMMAND`` split like a shell would, else ``payintents`` on PATH or next to Python."""
    configured = os.environ.get(COMMAND_ENV)
    if configured:
        return shlex.split(configured)
    beside_python = Path(sys.executable).parent / "payintents"
    found = shutil.which("payintents") or (str(beside_python) if beside_python.exists() else None)
    if found is None:
        raise PayintentsServerError(MISSING_SERVER.format(command="payintents"))
    return [found]


def server_port() -> int:
    """``PAYINTENTS_PORT`` when set (a fixed port, say for a container's mapping), else a free one."""
    configured = os.environ.get(PORT_ENV, "").strip()
    if not configured:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    if not configured.isdigit() or not 1 <= int(configured) <= 65535:
        raise PayintentsServerError(f"{PORT_ENV} must be a port number from 1 to 65535, not {configured!r}")
    return int(configured)


def _wait_for_key(process: subprocess.Popen[bytes], base_url: str, log: Path) -> str | None:
    """Poll (tightly: start-up is what a suite waits for) until the server is ready; the sandbox
    key it printed, or None if it printed none (the database already had an account)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    # The shared TLS context: loaded here while the server starts, not later by each test's client.
    with httpx.Client(timeout=1, verify=ssl_context()) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise PayintentsServerError(
                    f"payintents serve exited early:\n{log.read_text(errors='replace')}"
                )
            try:
                if http.get(f"{base_url}/health/ready").status_code == 200:
                    found = _SANDBOX_KEY.search(log.read_bytes())
                    return found[0].decode() if found else None
            except httpx.TransportError:
                pass
            time.sleep(POLL_INTERVAL_S)
    raise PayintentsServerError(
        f"payintents serve was not ready in {START_TIMEOUT_S:.0f} s:\n{log.read_text()}"
    )


def _create_account(command: list[str], database: str) -> str:
    """The slower way to a key, for a server that printed none: ``payintents accounts create``."""
    created = subprocess.run(  # noqa: S603 - the test author's own command
        [*command, "accounts", "create", "pytest", "--database", database],
        capture_output=True,
        check=True,
        timeout=START_TIMEOUT_S,
    )
    found = _SANDBOX_KEY.search(created.stdout)
    if found is None:
        raise PayintentsServerError(f"payintents accounts create printed no sandbox key: {created.stdout!r}")
    return found[0].decode()


def start_server(directory: Path) -> PayintentsServer:
    """``payintents serve`` on a new SQLite file in ``directory``, ready, with its account's key."""
    command = server_command()
    database = f"sqlite:///{directory / 'payintents.db'}"
    port = server_port()
    log = directory / "server.log"
    serve = [*command, "serve", "--database", database, "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as sink:
        try:
            # The command is the test author's own (PATH or PAYINTENTS_COMMAND), never outside input.
            process = subprocess.Popen(serve, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        except FileNotFoundError:
            raise PayintentsServerError(MISSING_SERVER.format(command=shlex.join(command))) from None
    base_url = f"http://127.0.0.1:{port}"
    try:
        key = _wait_for_key(process, base_url, log) or _create_account(command, database)
    except BaseException:
        process.kill()
        process.wait()
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
        try:
            server = start_server(Path(directory))
        except PayintentsServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            yield server
        finally:
            stop_server(server)


@pytest.fixture
def payintents(payintents_server: PayintentsServer) -> Iterator[Client]:
    with payintents_server.client() as client:
        client.sandbox.reset()
        yield client
