"""``terminal-sessions``: sales and refunds on Dojo card terminals (Pay at Counter), and the sandbox's
virtual-terminal driver. ``--software-house-id`` (default $PAYINTENTS_SOFTWARE_HOUSE_ID, else
``payintents-client``) is the EPOS name Dojo's terminal API requires on every call."""

from __future__ import annotations

import argparse

from payintents_client._client import Client
from payintents_client.cli._commands import add_amount_options, minor_amount
from payintents_client.cli._output import Output
from payintents_client.money import Money
from payintents_client.terminal_models import TerminalSession

DEFAULT_SOFTWARE_HOUSE = "payintents-client"


def show_session(out: Output, session: TerminalSession) -> None:
    if out.as_json:
        out.json(dict(session.raw))
        return
    amount = f"{session.amount.value} {session.amount.currency_code}" if session.amount else ""
    out.fields(
        session.id,
        [
            ("terminal", session.terminal_id),
            ("type", session.session_type),
            ("status", session.status),
            ("payment intent", session.payment_intent_id or ""),
            ("amount (minor units)", amount),
            ("screen", " → ".join(session.notifications)),
            ("expires", session.expire_at.isoformat()),
        ],
    )


def _money(args: argparse.Namespace) -> Money:
    return Money(minor_amount(args, args.currency), args.currency)


def cmd_sale(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.terminal_sessions.start_sale(args.terminal_id, args.payment_intent_id))
    return 0


def cmd_matched_refund(args: argparse.Namespace, client: Client, out: Output) -> int:
    started = client.terminal_sessions.start_matched_refund(
        args.terminal_id, args.payment_intent_id, _money(args)
    )
    show_session(out, started)
    return 0


def cmd_unlinked_refund(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.terminal_sessions.start_unlinked_refund(args.terminal_id, _money(args)))
    return 0


def cmd_get(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.terminal_sessions.get(args.session_id))
    return 0


def cmd_cancel(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.terminal_sessions.cancel(args.session_id))
    return 0


def cmd_signature(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.terminal_sessions.answer_signature(args.session_id, args.answer == "accept"))
    return 0


def cmd_present_card(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_session(out, client.sandbox.present_card(args.session_id, args.outcome, args.card))
    return 0


def add_terminal_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: list[argparse.ArgumentParser]
) -> None:
    group = commands.add_parser(
        "terminal-sessions", help="sales and refunds on card terminals (Pay at Counter)"
    )
    sub = group.add_subparsers(dest="terminal_command", required=True, metavar="COMMAND")

    def command(name: str, text: str, handler: object) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=common, help=text)
        parser.add_argument(
            "--software-house-id", help="the EPOS's name (default $PAYINTENTS_SOFTWARE_HOUSE_ID)"
        )
        parser.set_defaults(handler=handler)
        return parser

    sale = command("sale", "take payment for a Created intent on a terminal", cmd_sale)
    sale.add_argument("terminal_id", metavar="TERMINAL_ID")
    sale.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    for name, text, handler in (
        (
            "matched-refund",
            "refund part of a captured intent to the card at the terminal",
            cmd_matched_refund,
        ),
        ("unlinked-refund", "refund any amount to the card at the terminal", cmd_unlinked_refund),
    ):
        refund = command(name, text, handler)
        refund.add_argument("terminal_id", metavar="TERMINAL_ID")
        if name == "matched-refund":
            refund.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
        add_amount_options(refund, "refund amount")
        refund.add_argument("--currency", default="GBP", help="GBP (default) or EUR")
    for name, text, handler in (
        ("get", "show a terminal session", cmd_get),
        ("cancel", "cancel before a card is presented", cmd_cancel),
    ):
        command(name, text, handler).add_argument("session_id", metavar="SESSION_ID")
    signature = command("signature", "accept or reject the cardholder's signature", cmd_signature)
    signature.add_argument("session_id", metavar="SESSION_ID")
    signature.add_argument("answer", choices=["accept", "reject"])
    card = command("present-card", "sandbox: a card at the virtual terminal", cmd_present_card)
    card.add_argument("session_id", metavar="SESSION_ID")
    card.add_argument("--outcome", default="Approved", choices=["Approved", "Declined", "SignatureRequired"])
    card.add_argument("--card", help="a test card number, shown masked on the receipt")
