"""``webhooks listen`` (a local receiver, like ``stripe listen``) and the other ``webhooks`` commands.

``listen`` starts an HTTP receiver on 127.0.0.1, subscribes it through the API for the chosen
events (default: all), verifies every delivery's ``dojo-signature`` (and the Standard Webhooks
signature when present) with the subscription's active secret, prints it, optionally forwards it,
and deletes the subscription when it stops (Ctrl-C, SIGTERM, or ``--max-events`` reached).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from payintents_client._client import Client
from payintents_client.cli._output import Output
from payintents_client.webhook_signatures import (
    WebhookVerificationError,
    verify_dojo_signature,
    verify_standard_webhook,
)

RECEIVER_PATH = "/webhooks"
FORWARDED_HEADERS = ("content-type", "dojo-signature", "webhook-id", "webhook-timestamp", "webhook-signature")
MAX_BODY = 1 << 20


class Listener:
    """Receives, verifies, prints and (optionally) forwards deliveries; counts the verified ones."""

    def __init__(self, out: Output, secret: str, forward_to: str | None, max_events: int | None) -> None:
        self.out = out
        self.secret = secret
        self.forward_to = forward_to
        self.max_events = max_events
        self.verified = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def verify(self, headers: dict[str, str], body: bytes) -> str | None:
        """None if the delivery is authentic, else why not."""
        if not verify_dojo_signature(self.secret, body, headers.get("dojo-signature")):
            return "dojo-signature does not match"
        if "webhook-signature" in headers:
            try:
                verify_standard_webhook(self.secret, headers, body)
            except WebhookVerificationError as exc:
                return f"Standard Webhooks: {exc}"
        return None

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """Handle one delivery; the HTTP status to answer."""
        problem = self.verify(headers, body)
        if problem is not None:
            self.out.error(f"rejected a delivery: {problem}")
            return 400
        status = self._forward(headers, body) if self.forward_to else 200
        self._print(body, status)
        with self._lock:
            self.verified += 1
            if self.max_events is not None and self.verified >= self.max_events:
                self.done.set()
        return status

    def _forward(self, headers: dict[str, str], body: bytes) -> int:
        assert self.forward_to is not None
        kept = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        try:
            return httpx.post(self.forward_to, content=body, headers=kept, timeout=30).status_code
        except httpx.HTTPError as exc:
            self.out.error(f"forwarding to {self.forward_to} failed: {exc}")
            return 502

    def _print(self, body: bytes, status: int) -> None:
        try:
            event: Any = json.loads(body)
        except ValueError:
            event = {"raw": body.decode(errors="replace")}
        if self.out.as_json:
            self.out.json(event)
            return
        data = event.get("data") or {} if isinstance(event, dict) else {}
        subject = data.get("paymentIntentId") or data.get("refundId") or ""
        detail = data.get("paymentStatus") or data.get("amount") or ""
        forwarded = f"  → {status}" if self.forward_to else ""
        self.out.line(
            f"{event.get('createdAt', '')}  {event.get('id', '')}  {event.get('event', '')}"
            f"  {subject}  {detail}{forwarded}".rstrip()
        )


def _handler_for(listener: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path.split("?")[0] != RECEIVER_PATH or length > MAX_BODY:
                self.send_response(404)
                self.end_headers()
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.send_response(listener.receive(headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def _stop_on_signals(done: threading.Event) -> Iterator[None]:
    """SIGTERM stops the listener like Ctrl-C (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_listen(args: argparse.Namespace, client: Client, out: Output) -> int:
    events = args.events or [e for group in client.webhooks.events() for e in group.events]
    listener = Listener(out, "", args.forward_to, args.max_events)
    # Bound (so the URL is known) but not yet serving: deliveries wait until the secret is known.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler_for(listener))
    url = f"http://127.0.0.1:{server.server_address[1]}{RECEIVER_PATH}"
    try:
        subscription = client.webhooks.create(events, url, description="payintents-client webhooks listen")
    except BaseException:
        server.server_close()
        raise
    secret = subscription.active_secret
    listener.secret = secret.value if secret else ""
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="payintents-listen", daemon=True)
    thread.start()
    out.note(
        f"Ready! Listening on {url} for {', '.join(events)} (subscription {subscription.id}). "
        "Press Ctrl-C to stop."
    )
    try:
        with _stop_on_signals(listener.done):
            while not listener.done.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        client.webhooks.delete(subscription.id)
        out.note(
            f"Stopped; deleted subscription {subscription.id} after {listener.verified} verified events."
        )
    return 0


def cmd_webhooks_list(args: argparse.Namespace, client: Client, out: Output) -> int:
    subscriptions = client.webhooks.list()
    if out.as_json:
        out.json([dict(s.raw) for s in subscriptions])
        return 0
    out.table(
        ["ID", "URL", "EVENTS", "ACTIVE SECRET", "DISABLED"],
        [
            [
                s.id,
                s.url,
                ",".join(s.events),
                s.active_secret.id if s.active_secret else "",
                s.disabled_at.isoformat() if s.disabled_at else "",
            ]
            for s in subscriptions
        ],
        empty="No webhook subscriptions.",
    )
    return 0


def cmd_webhooks_events(args: argparse.Namespace, client: Client, out: Output) -> int:
    groups = client.webhooks.events()
    if out.as_json:
        out.json([dict(g.raw) for g in groups])
        return 0
    out.table(["MODEL", "EVENT"], [[g.model, e] for g in groups for e in g.events], empty="No events.")
    return 0


def add_webhook_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: list[argparse.ArgumentParser]
) -> None:
    webhooks = commands.add_parser("webhooks", help="receive webhooks locally; list subscriptions")
    sub = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    listen = sub.add_parser(
        "listen",
        parents=common,
        help="print verified webhook events on this machine (like stripe listen)",
        description=__doc__.replace("``", "") if __doc__ else None,
    )
    listen.add_argument("--port", type=int, default=0, help="local port (default: any free one)")
    listen.add_argument("--events", nargs="+", metavar="EVENT", help="events to receive (default: all)")
    listen.add_argument("--forward-to", metavar="URL", help="also POST each verified delivery to this URL")
    listen.add_argument("--max-events", type=int, metavar="N", help="stop after N verified events")
    listen.set_defaults(handler=cmd_listen)
    listing = sub.add_parser("list", parents=common, help="list webhook subscriptions")
    listing.set_defaults(handler=cmd_webhooks_list)
    events = sub.add_parser("events", parents=common, help="list the events one can subscribe to")
    events.set_defaults(handler=cmd_webhooks_events)
