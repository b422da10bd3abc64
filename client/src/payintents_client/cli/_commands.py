"""``refund`` and ``intents …``: each takes parsed arguments, a Client and an Output; returns an exit code."""

from __future__ import annotations

import argparse
import itertools

from payintents_client._client import Client
from payintents_client.cli._output import Output
from payintents_client.models import PaymentIntent, RefundListItem
from payintents_client.money import AmountError, Money, format_minor, to_minor_units
from payintents_client.sandbox_models import SandboxCard


class UsageError(Exception):
    """Arguments that make no sense; reported in one line, exit code 2."""


def minor_amount(args: argparse.Namespace, currency_code: str) -> int:
    """``--amount 10.00`` in the currency's units, exactly; or ``--amount-minor 1000``."""
    if args.amount_minor is not None:
        if args.amount_minor <= 0:
            raise UsageError("--amount-minor must be a positive whole number of minor units")
        return int(args.amount_minor)
    try:
        value = to_minor_units(args.amount, currency_code)
    except AmountError as exc:
        raise UsageError(f"--amount: {exc}") from None
    if value <= 0:
        raise UsageError("--amount must be more than zero")
    return value


def add_amount_options(parser: argparse.ArgumentParser, what: str, *, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--amount", help=f"{what} in the currency's units, e.g. 10.00 (converted exactly)")
    group.add_argument("--amount-minor", type=int, metavar="N", help=f"{what} in minor units, e.g. 1000")


def refundable_minor(intent: PaymentIntent) -> int:
    """What refunds may add up to: the successful captures, else the total (design "refundable total")."""
    captured = [c.amount + (c.tips_amount or 0) for c in intent.captures if c.status == "Successful"]
    return sum(captured) if captured else intent.total_amount.value


def show_intent(out: Output, intent: PaymentIntent) -> None:
    if out.as_json:
        out.json(dict(intent.raw))
        return
    currency = intent.currency_code
    out.fields(
        f"Payment intent {intent.id}",
        [
            ("status", intent.status),
            ("amount", str(intent.amount)),
            ("total", str(intent.total_amount)),
            ("refunded", format_minor(intent.refunded_amount, currency)),
            ("capture mode", intent.capture_mode),
            ("reference", intent.reference),
            ("description", intent.description),
            ("created", intent.created_at.isoformat()),
            ("payment link", intent.payment_link),
            (
                "captures",
                ", ".join(f"{c.id} {format_minor(c.amount, currency)} {c.status}" for c in intent.captures),
            ),
            ("last payment event", _last_payment_event(intent)),
        ],
    )


def _last_payment_event(intent: PaymentIntent) -> str | None:
    if not intent.payment_events:
        return None
    event = intent.payment_events[-1]
    return f"{event.event_type}: {event.message}" if event.message else event.event_type


def cmd_refund(args: argparse.Namespace, client: Client, out: Output) -> int:
    """Refund all or part of a captured payment; the amount is converted in the intent's currency."""
    if args.amount_minor is not None:
        amount = minor_amount(args, "GBP")  # no conversion needed: the currency does not matter
        currency: str | None = None
    else:
        with out.progress(f"Reading {args.payment_intent_id}…"):
            currency = client.payment_intents.get(args.payment_intent_id).currency_code
        amount = minor_amount(args, currency)
    shown = format_minor(amount, currency) if currency else f"{amount} minor units"
    with out.progress(f"Refunding {shown} on {args.payment_intent_id}…"):
        refund = client.refunds.create(
            args.payment_intent_id,
            amount,
            refund_reason=args.reason,
            notes=args.notes,
            idempotency_key=args.idempotency_key,
        )
    if out.as_json:
        out.json(dict(refund.raw))
        return 0
    intent = client.payment_intents.get(args.payment_intent_id)
    refundable = format_minor(refundable_minor(intent), intent.currency_code)
    out.fields(
        f"Refunded {format_minor(amount, intent.currency_code)} on {intent.id}",
        [
            ("refund", refund.refund_id),
            ("message", refund.message),
            ("reason", refund.refund_reason),
            ("notes", refund.notes),
            ("intent status", intent.status),
            (
                "refunded so far",
                f"{format_minor(intent.refunded_amount, intent.currency_code)} of {refundable}",
            ),
        ],
    )
    return 0


def cmd_intents_create(args: argparse.Namespace, client: Client, out: Output) -> int:
    currency = args.currency.upper()
    intent = client.payment_intents.create(
        Money(minor_amount(args, currency), currency),
        args.reference,
        capture_mode=args.capture_mode,
        description=args.description,
    )
    show_intent(out, intent)
    return 0


def cmd_intents_get(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_intent(out, client.payment_intents.get(args.payment_intent_id, return_canceled=args.return_canceled))
    return 0


def cmd_intents_list(args: argparse.Namespace, client: Client, out: Output) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be 1 or more")
    found = client.payment_intents.search(statuses=args.status or None, page_size=min(args.limit, 100))
    with out.progress("Searching…"):
        intents = list(itertools.islice(found, args.limit))
    if out.as_json:
        out.json([dict(i.raw) for i in intents])
        return 0
    out.table(
        ["ID", "STATUS", "AMOUNT", "REFUNDED", "REFERENCE", "CREATED"],
        [
            [
                i.id,
                i.status,
                str(i.total_amount),
                format_minor(i.refunded_amount, i.currency_code),
                i.reference,
                i.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            ]
            for i in intents
        ],
        empty="No payment intents match.",
    )
    return 0


def cmd_intents_capture(args: argparse.Namespace, client: Client, out: Output) -> int:
    intent = client.payment_intents.get(args.payment_intent_id)
    amount = minor_amount(args, intent.currency_code)
    with out.progress(f"Capturing {format_minor(amount, intent.currency_code)}…"):
        captured = client.payment_intents.capture(
            args.payment_intent_id, amount, idempotency_key=args.idempotency_key
        )
    if out.as_json:
        out.json(dict(captured.raw))
        return 0
    out.fields(
        f"Captured {format_minor(amount, intent.currency_code)} on {intent.id}",
        [("capture", captured.capture_id), ("message", captured.message)],
    )
    return 0


def card_number(text: str) -> str:
    """A card number (spaces allowed) or a test card's name: ``success``, ``challenge``, ``declined`` …"""
    name = text.strip().upper().replace("-", "_")
    if name in SandboxCard.__members__:
        return SandboxCard[name].value
    return text.replace(" ", "")


def cmd_intents_pay(args: argparse.Namespace, client: Client, out: Output) -> int:
    """Pay on the sandbox checkout with a test card; optionally answer the 3-D Secure challenge."""
    with out.progress(f"Paying {args.payment_intent_id}…"):
        intent = client.sandbox.pay(args.payment_intent_id, args.card, expiry=args.expiry, cvv=args.cvv)
        challenged = bool(intent.payment_events) and intent.payment_events[-1].event_type == "AuthChallenged"
        if challenged and args.challenge:
            intent = client.sandbox.complete_challenge(intent.id, passed=args.challenge == "pass")
    show_intent(out, intent)
    if challenged and not args.challenge:
        out.note(
            f"3-D Secure challenge waiting: answer it with {out.prog} intents challenge {intent.id} [--fail]"
        )
    return 0


def cmd_intents_challenge(args: argparse.Namespace, client: Client, out: Output) -> int:
    """Pass (or fail) the 3-D Secure challenge waiting on a payment made with the challenge card."""
    show_intent(out, client.sandbox.complete_challenge(args.payment_intent_id, passed=not args.fail))
    return 0


def cmd_intents_cancel(args: argparse.Namespace, client: Client, out: Output) -> int:
    show_intent(out, client.payment_intents.cancel(args.payment_intent_id))
    return 0


def cmd_intents_refunds(args: argparse.Namespace, client: Client, out: Output) -> int:
    refunds = client.refunds.list(args.payment_intent_id)
    if out.as_json:
        out.json([dict(r.raw) for r in refunds])
        return 0
    currency = client.payment_intents.get(args.payment_intent_id).currency_code if refunds else "GBP"
    out.table(
        ["REFUND", "AMOUNT", "REASON", "NOTES", "CREATED"],
        [_refund_row(r, currency) for r in refunds],
        empty="No refunds yet.",
    )
    return 0


def cmd_intents_receipt(args: argparse.Namespace, client: Client, out: Output) -> int:
    """Ask for the payment's receipt; payintents' sandbox records it instead of mailing it."""
    client.payment_intents.send_receipt(args.payment_intent_id, args.emails)
    if out.as_json:
        out.json({"paymentIntentId": args.payment_intent_id, "emails": args.emails})
        return 0
    out.line(f"Receipt of {args.payment_intent_id} sent to {', '.join(args.emails)}")
    out.note(f"A sandbox key's receipt is not mailed: read it with {out.prog} intents receipts")
    return 0


def cmd_intents_receipts(args: argparse.Namespace, client: Client, out: Output) -> int:
    """The sandbox's receipt outbox, newest first; ``--text`` prints what each customer would read."""
    found = client.sandbox.receipts(payment_intent_id=args.payment_intent_id, limit=args.limit)
    if out.as_json:
        out.json([dict(r.raw) for r in found])
        return 0
    if args.text:
        for receipt in found:
            out.line(f"To: {', '.join(receipt.recipients)}  ({receipt.id})\n{receipt.text}")
        return 0
    out.table(
        ["RECEIPT", "PAYMENT INTENT", "TO", "SUBJECT", "CREATED"],
        [
            [
                r.id,
                r.payment_intent_id,
                ", ".join(r.recipients),
                r.subject,
                r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            ]
            for r in found
        ],
        empty="No receipts recorded.",
    )
    return 0


def _refund_row(refund: RefundListItem, currency: str) -> list[str]:
    return [
        refund.refund_id,
        format_minor(refund.amount, currency),
        refund.refund_reason or "",
        refund.notes or "",
        refund.created_at.strftime("%Y-%m-%d %H:%M:%S"),
    ]


def add_intent_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: list[argparse.ArgumentParser]
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``refund`` and ``intents …``; the ``intents`` subcommands, for other modules to add to."""
    refund = commands.add_parser(
        "refund",
        parents=common,
        help="refund all or part of a captured payment",
        description="Refund a captured payment. --amount is in the intent's currency (10.00 GBP → 1000).",
    )
    refund.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    add_amount_options(refund, "refund amount")
    refund.add_argument("--reason", help="refundReason, e.g. 'Demo refund'")
    refund.add_argument("--notes", help="notes, e.g. 'Duplicate transaction'")
    refund.add_argument("--idempotency-key", help="reuse a key to retry a refund safely (default: a new one)")
    refund.set_defaults(handler=cmd_refund)

    intents = commands.add_parser("intents", help="create, inspect, pay, capture or cancel payment intents")
    sub = intents.add_subparsers(dest="intents_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", parents=common, help="create a payment intent")
    add_amount_options(create, "amount")
    create.add_argument("--currency", default="GBP", help="GBP (default) or EUR")
    create.add_argument("--reference", required=True)
    create.add_argument("--capture-mode", choices=["Auto", "Manual"])
    create.add_argument("--description")
    create.set_defaults(handler=cmd_intents_create)

    get = sub.add_parser("get", parents=common, help="show a payment intent")
    get.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    get.add_argument("--return-canceled", action="store_true", help="show it even if Canceled")
    get.set_defaults(handler=cmd_intents_get)

    search = sub.add_parser("list", parents=common, help="list payment intents, newest first")
    search.add_argument("--status", action="append", help="only this status (repeatable)")
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    search.set_defaults(handler=cmd_intents_list)

    capture = sub.add_parser("capture", parents=common, help="capture a Manual authorization")
    capture.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    add_amount_options(capture, "capture amount")
    capture.add_argument("--idempotency-key")
    capture.set_defaults(handler=cmd_intents_capture)

    _add_payment_commands(sub, common)

    cancel = sub.add_parser("cancel", parents=common, help="cancel a Created payment intent")
    cancel.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    cancel.set_defaults(handler=cmd_intents_cancel)

    refunds = sub.add_parser("refunds", parents=common, help="list a payment intent's refunds")
    refunds.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    refunds.set_defaults(handler=cmd_intents_refunds)

    receipt = sub.add_parser(
        "receipt", parents=common, help="send a payment's receipt (the sandbox records it)"
    )
    receipt.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    receipt.add_argument("emails", metavar="EMAIL", nargs="+", help="1 to 10 recipients")
    receipt.set_defaults(handler=cmd_intents_receipt)

    receipts = sub.add_parser(
        "receipts", parents=common, help="the sandbox's recorded receipts, newest first"
    )
    receipts.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID", nargs="?", default=None)
    receipts.add_argument("--limit", type=int, default=None, help="at most this many (1-100; default 20)")
    receipts.add_argument("--text", action="store_true", help="print each receipt's text")
    receipts.set_defaults(handler=cmd_intents_receipts)
    return sub


def _add_payment_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: list[argparse.ArgumentParser]
) -> None:
    """``intents pay`` and ``intents challenge``: the shopper's side, on a payintents sandbox."""
    pay = sub.add_parser(
        "pay",
        parents=common,
        help="pay a payment intent with a sandbox test card (payintents only)",
        description="Pay a Created payment intent on its sandbox checkout, as a shopper would, and "
        "show it as your key then sees it. A declined card is not an error: the intent stays "
        "Created with the decline as its last payment event.",
    )
    pay.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    pay.add_argument(
        "--card",
        type=card_number,
        default=SandboxCard.SUCCESS.value,
        help="card number, or a test card's name: "
        + ", ".join(name.lower().replace("_", "-") for name in SandboxCard.__members__)
        + " (default success, 5200 0000 0000 1005)",
    )
    pay.add_argument("--expiry", default="12/29", help="MM/YY (default 12/29)")
    pay.add_argument("--cvv", default="020", help="default 020")
    pay.add_argument(
        "--challenge",
        choices=["pass", "fail"],
        help="answer the 3-D Secure challenge of the challenge card (default: leave it waiting)",
    )
    pay.set_defaults(handler=cmd_intents_pay)

    challenge = sub.add_parser(
        "challenge", parents=common, help="pass or fail a waiting 3-D Secure challenge (payintents only)"
    )
    challenge.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    challenge.add_argument("--fail", action="store_true", help="fail it (the payment is declined)")
    challenge.set_defaults(handler=cmd_intents_challenge)
