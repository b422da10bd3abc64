"""``webhooks listen`` (a local receiver, like ``stripe listen``) and the other ``webhooks`` commands.

``listen`` starts an HTTP receiver on 127.0.0.1 and subscribes it as a *listener* (a payintents
extension): it receives its own copy of the account's events (default: all) beside the account's
own subscriptions, which keep theirs. It prints the listener's signing secret — every delivery it
receives, and forwards with ``--forward-to``, is signed with it — verifies each delivery, prints
it, renews the listener while it runs, and deletes it when it stops (Ctrl-C, SIGTERM, or
``--max-events`` reached). A listener left behind by a killed ``listen`` expires within the hour.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from payintents_client._client import Client
from payintents_client.cli._output import Output
from payintents_client.errors import NotFoundError, PayintentsError
from payintents_client.money import format_minor
from payintents_client.webhook_signatures import (
    WebhookVerificationError,
    verify_dojo_signature,
    verify_standard_webhook,
)

LISTEN_DESCRIPTION = """\
Receive this account's webhook events on this machine, like stripe listen.

Starts a receiver on 127.0.0.1 and subscribes it as a listener: it gets its own copy of every
event (or of --events) beside the account's own subscriptions, which keep receiving theirs. It
prints the signing secret its deliveries are signed with (dojo-signature and webhook-signature),
so the app behind --forward-to can verify what it forwards. Each delivery is verified, printed
and optionally forwarded. Ctrl-C (or SIGTERM, or --max-events) stops it and deletes the
listener; one left behind by a killed listen expires within the hour. Sandbox keys only.
"""
RECEIVER_PATH = "/webhooks"
FORWARDED_HEADERS = ("content-type", "dojo-signature", "webhook-id", "webhook-timestamp", "webhook-signature")
MAX_BODY = 1 << 20
LISTENER_DESCRIPTION = "payintents webhooks listen"
# The server drops a listener an hour after its last renewal (domain/webhooks.py LISTENER_TTL).
RENEW_EVERY_S = 600.0


class Listener:
    """Receives, verifies, prints and (optionally) forwards deliveries; counts the verified ones."""

    def __init__(
        self,
        out: Output,
        forward_to: str | None,
        max_events: int | None,
        currency_of: Callable[[str], str | None],
    ) -> None:
        self.out = out
        self.secret = ""  # the listener's active secret, known once it is subscribed
        self.forward_to = forward_to
        self.max_events = max_events
        self.currency_of = currency_of
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
            event = None
        if self.out.as_json:
            self.out.json(event if event is not None else {"raw": body.decode(errors="replace")})
            return
        if not isinstance(event, dict):
            self.out.line(body.decode(errors="replace"))
            return
        forwarded = f"  → {status}" if self.forward_to else ""
        self.out.line(
            f"{event.get('createdAt', '')}  {event.get('id', '')}  {event.get('event', '')}"
            f"  {self._describe(event.get('data'))}{forwarded}".rstrip()
        )

    def _describe(self, data: Any) -> str:
        """``pi_…  Captured`` or, for a refund, ``pi_…  rfnd_…  4.00 GBP (refunded so far 4.00 GBP)``."""
        if not isinstance(data, dict):
            return ""
        intent_id = str(data.get("paymentIntentId") or "")
        if "paymentStatus" in data:
            return f"{intent_id}  {data['paymentStatus']}"
        amount, so_far = data.get("amount"), data.get("refundedAmount")
        if not isinstance(amount, int) or not isinstance(so_far, int):
            return f"{intent_id}  {data.get('refundId') or ''}".rstrip()
        currency = self.currency_of(intent_id) if intent_id else None
        shown = [format_minor(a, currency) if currency else f"{a} minor units" for a in (amount, so_far)]
        return f"{intent_id}  {data.get('refundId') or ''}  {shown[0]} (refunded so far {shown[1]})"


def _handler_for(listener: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = (self.headers.get("Content-Length") or "0").strip()
            if self.path.split("?")[0] != RECEIVER_PATH or not length.isdigit() or int(length) > MAX_BODY:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self.rfile.read(int(length))
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.send_response(listener.receive(headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stop_on_signals(done: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the listener (only possible from the main thread).

    Handled explicitly and unblocked, not left to Python's KeyboardInterrupt: a process started
    by a parent that ignored or blocked SIGINT inherits that, and would not stop on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, lambda *_: done.set()) for signum in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _currency_lookup(client: Client) -> Callable[[str], str | None]:
    """An intent's currency, read once per intent (webhook bodies carry amounts without one)."""
    known: dict[str, str | None] = {}

    def currency_of(intent_id: str) -> str | None:
        if intent_id not in known:
            try:
                known[intent_id] = client.payment_intents.get(intent_id, return_canceled=True).currency_code
            except PayintentsError:
                known[intent_id] = None
        return known[intent_id]

    return currency_of


def _keep_renewed(client: Client, listener: Listener, subscription_id: str) -> None:
    """Renew the listener while it runs (a change renews it); stop if it is gone (a reset)."""
    while not listener.done.wait(RENEW_EVERY_S):
        try:
            client.webhooks.update(subscription_id, description=LISTENER_DESCRIPTION)
        except NotFoundError:
            listener.out.error(f"the listener {subscription_id} was deleted (a sandbox reset?); stopping")
            listener.done.set()
        except PayintentsError as exc:
            listener.out.error(f"could not renew the listener {subscription_id}: {exc}")


def cmd_listen(args: argparse.Namespace, client: Client, out: Output) -> int:
    events = args.events or [e for group in client.webhooks.events() for e in group.events]
    listener = Listener(out, args.forward_to, args.max_events, _currency_lookup(client))
    # Bound (so the URL is known) but not yet serving: deliveries wait until the secret is known.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler_for(listener))
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}{RECEIVER_PATH}"
    try:
        subscription = client.webhooks.create(events, url, description=LISTENER_DESCRIPTION, listener=True)
    except BaseException:
        server.server_close()
        raise
    secret = subscription.active_secret
    listener.secret = secret.value if secret else ""
    threading.Thread(target=server.serve_forever, args=(0.1,), name="payintents-listen", daemon=True).start()
    renewing = (client, listener, subscription.id)
    threading.Thread(target=_keep_renewed, args=renewing, name="payintents-renew", daemon=True).start()
    forwarding = f"; forwarding to {args.forward_to}" if args.forward_to else ""
    try:
        # The handlers go in before "Press Ctrl-C" is printed: a Ctrl-C right after it must stop
        # the listener even when SIGINT arrived ignored (it would be lost before they are in).
        with _stop_on_signals(listener.done):
            out.note(
                f"Ready! Listening on {url} for {', '.join(events)}{forwarding} "
                f"(listener {subscription.id}). Press Ctrl-C to stop."
            )
            out.note(f"Your webhook signing secret is {listener.secret}")
            while not listener.done.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        listener.done.set()
        server.shutdown()
        server.server_close()
        with contextlib.suppress(NotFoundError):  # already gone: a reset, or it expired
            client.webhooks.delete(subscription.id)
        out.note(f"Stopped; deleted listener {subscription.id} after {listener.verified} verified events.")
    return 0


def cmd_webhooks_list(args: argparse.Namespace, client: Client, out: Output) -> int:
    subscriptions = client.webhooks.list()
    if out.as_json:
        out.json([dict(s.raw) for s in subscriptions])
        return 0
    out.table(
        ["ID", "URL", "EVENTS", "ACTIVE SECRET", "DISABLED", "LISTENER UNTIL"],
        [
            [
                s.id,
                s.url,
                ",".join(s.events),
                s.active_secret.id if s.active_secret else "",
                s.disabled_at.isoformat() if s.disabled_at else "",
                s.expires_at.isoformat() if s.listener and s.expires_at else "",
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
        help="receive verified webhook events on this machine (like stripe listen)",
        description=LISTEN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listen.add_argument("--port", type=int, default=0, help="local port (default: any free one)")
    listen.add_argument("--events", nargs="+", metavar="EVENT", help="events to receive (default: all)")
    listen.add_argument(
        "--forward-to",
        metavar="URL",
        help="also POST each verified delivery, body and signature headers unchanged, to this URL",
    )
    listen.add_argument("--max-events", type=int, metavar="N", help="stop after N verified events")
    listen.set_defaults(handler=cmd_listen)
    listing = sub.add_parser("list", parents=common, help="list webhook subscriptions")
    listing.set_defaults(handler=cmd_webhooks_list)
    events = sub.add_parser("events", parents=common, help="list the events one can subscribe to")
    events.set_defaults(handler=cmd_webhooks_events)
