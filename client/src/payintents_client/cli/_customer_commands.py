"""``customers`` commands (create, a customer's saved cards) and ``intents charge`` (a
merchant-initiated charge of the card a setup intent saved)."""

from __future__ import annotations

import argparse

from payintents_client._client import Client
from payintents_client.cli._output import Output


def cmd_customers_create(args: argparse.Namespace, client: Client, out: Output) -> int:
    customer = client.customers.create(name=args.name, email_address=args.email)
    if out.as_json:
        out.json(dict(customer.raw))
        return 0
    out.fields(f"Customer {customer.id}", [("name", customer.name), ("email", customer.email_address)])
    return 0


def cmd_customers_cards(args: argparse.Namespace, client: Client, out: Output) -> int:
    """A customer's saved cards, read with a customer secret issued for the purpose."""
    secret = client.customers.create_secret(args.customer_id).secret
    found = client.customers.payment_methods(args.customer_id, secret)
    if out.as_json:
        out.json(dict(found.raw))
        return 0
    rows = [
        (m.id, m.card_details.get("pan"), m.card_details.get("scheme"), m.card_details.get("expiryDate"))
        for m in found.saved_payment_methods
    ]
    out.table(["id", "card", "scheme", "expires"], rows, "No saved cards.")
    return 0


def cmd_intents_charge(args: argparse.Namespace, client: Client, out: Output) -> int:
    charged = client.payment_intents.charge(args.payment_intent_id, idempotency_key=args.idempotency_key)
    if out.as_json:
        out.json(dict(charged.raw))
        return 0
    out.fields(
        f"Charged {charged.payment_intent_id}", [("status", charged.status), ("message", charged.message)]
    )
    return 0


def add_customer_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    intents: argparse._SubParsersAction[argparse.ArgumentParser],
    common: list[argparse.ArgumentParser],
) -> None:
    customers = commands.add_parser("customers", help="create customers and list their saved cards")
    sub = customers.add_subparsers(dest="customers_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", parents=common, help="create a customer")
    create.add_argument("--name")
    create.add_argument("--email")
    create.set_defaults(handler=cmd_customers_create)
    cards = sub.add_parser("cards", parents=common, help="list a customer's saved cards")
    cards.add_argument("customer_id", metavar="CUSTOMER_ID")
    cards.set_defaults(handler=cmd_customers_cards)

    charge = intents.add_parser(
        "charge", parents=common, help="charge the card the intent's setup intent saved (merchant-initiated)"
    )
    charge.add_argument("payment_intent_id", metavar="PAYMENT_INTENT_ID")
    charge.add_argument("--idempotency-key", help="reuse a key to retry a charge safely (default: a new one)")
    charge.set_defaults(handler=cmd_intents_charge)
