"""``payintents webhooks listen --forward-to URL`` typed as a person would, beside an app that has its
own subscription for the same events: the listener starts (no 409), prints its signing secret, the
app keeps receiving its deliveries, the forwarded copy verifies with the printed secret (checked
with docs/webhooks.md's own recipe, not the SDK), refund amounts print with their currency, and
Ctrl-C removes only the listener."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from payintents_client import Client, Money
from sdk_support import ServerUnderTest, recording_receiver

pytestmark = pytest.mark.e2e


def dojo_signature_is_valid(secret: str, raw_body: bytes, header: str) -> bool:
    """docs/webhooks.md, "Verifying a delivery in Python", as written there."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    received = header.removeprefix("sha256=").replace("-", "").lower()
    return hmac.compare_digest(expected, received)


def standard_signature_is_valid(secret: str, raw_body: bytes, headers: dict[str, str]) -> bool:
    """docs/webhooks.md's Standard Webhooks header: v1, base64 HMAC of ``{id}.{timestamp}.{body}``."""
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw_body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", given) for given in headers["webhook-signature"].split())


def wait_for(condition: object, what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def read_secret(listener: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """The signing secret from the listener's stderr, and the lines read up to it."""
    assert listener.stderr is not None
    lines: list[str] = []
    for line in listener.stderr:
        lines.append(line)
        found = re.search(r"Your webhook signing secret is (\S+)", line)
        if found:
            return found[1], lines
    raise AssertionError("listen printed no signing secret:\n" + "".join(lines))


def test_listen_beside_an_app_subscription_prints_the_secret_its_forwards_verify_with(
    client: Client, server: ServerUnderTest
) -> None:
    for existing in client.webhooks.list():
        client.webhooks.delete(existing.id)
    with (
        recording_receiver("/app-hooks") as (app_url, app_got),
        recording_receiver("/dev-hooks") as (forward_url, forwarded),
    ):
        app = client.webhooks.create(["payment_intent.created", "payment_intent.status_updated"], app_url)
        assert app.active_secret is not None
        env = {**os.environ, "PAYINTENTS_API_KEY": server.api_key, "PAYINTENTS_BASE_URL": server.base_url}
        command = [str(Path(sys.executable).parent / "payintents"), "webhooks", "listen"]
        listener = subprocess.Popen(
            [*command, "--forward-to", forward_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            secret, said = read_secret(listener)
            assert any("Ready! Listening on http://127.0.0.1:" in line for line in said)
            intent = client.payment_intents.create(Money(1000, "GBP"), "Listen beside the app")
            client.sandbox.pay(intent.id)
            client.refunds.create(intent.id, 400)
            # Deliveries of one intent's events may arrive in any order: wait for all three.
            wait_for(lambda: app_got and len(forwarded) >= 3, "deliveries")
            listener.send_signal(signal.SIGINT)  # Ctrl-C
            out, err = listener.communicate(timeout=30)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
    assert listener.returncode == 0, err
    (app_headers, app_body), *_ = app_got
    assert intent.id.encode() in app_body
    assert dojo_signature_is_valid(app.active_secret.value, app_body, app_headers["dojo-signature"])
    assert len(forwarded) >= 3  # created, status_updated (Captured), refund.created
    assert any(b"refund.created" in body for _, body in forwarded)
    for headers, body in forwarded:
        assert intent.id.encode() in body
        assert dojo_signature_is_valid(secret, body, headers["dojo-signature"])
        assert standard_signature_is_valid(secret, body, headers)
        assert not dojo_signature_is_valid(app.active_secret.value, body, headers["dojo-signature"])
    assert intent.id in out and "rejected" not in err
    assert "4.00 GBP (refunded so far 4.00 GBP)" in out  # amounts with their currency
    assert [s.id for s in client.webhooks.list()] == [app.id]  # Ctrl-C removed only the listener


def test_listen_stops_on_ctrl_c_even_when_started_with_ctrl_c_ignored(server: ServerUnderTest) -> None:
    """A parent that ignores SIGINT passes that on to its children (a CI runner, nohup): listen
    still stops on Ctrl-C and deletes its listener."""
    env = {**os.environ, "PAYINTENTS_API_KEY": server.api_key, "PAYINTENTS_BASE_URL": server.base_url}
    # A shell that ignores SIGINT, then becomes the listener: an ignored signal survives exec.
    payintents = str(Path(sys.executable).parent / "payintents")
    command = ["sh", "-c", 'trap "" INT; exec "$0" webhooks listen', payintents]
    listener = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        read_secret(listener)
        listener.send_signal(signal.SIGINT)
        _, err = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    assert listener.returncode == 0, err
    assert "Stopped; deleted listener" in err
