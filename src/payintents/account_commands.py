"""The ``payintents accounts`` commands: an account created with its API keys (shown once), and
its upstream (ADR 0031) set, removed or resealed after a secret key rotation.

An upstream's Dojo key is read from the first line of stdin (``--upstream-key-stdin``), never
from an argument (which ``ps`` and shell histories show), and is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import TYPE_CHECKING

from payintents.admin_commands import SettingsOf, Subparsers, WithDatabase, run_handler
from payintents.gateway_commands import accounts_subscribe_upstream, subscribe_or_warn

if TYPE_CHECKING:
    from payintents.service.dependencies import Dependencies

DEFAULT_UPSTREAM_URL = "https://api.dojo.tech"


def _upstream_key(args: argparse.Namespace) -> str:
    from payintents.domain.errors import ValidationError

    if not args.upstream_key_stdin:
        raise ValidationError(
            {"upstreamKey": ["Give the upstream's key on stdin with --upstream-key-stdin."]}
        )
    return sys.stdin.readline().strip()


def accounts_create(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.accounts import create_account
    from payintents.service.upstreams import check_upstream, set_upstream

    key = None
    if args.upstream is not None:
        # Everything checked before the account exists: a refused upstream leaves nothing behind.
        key = _upstream_key(args)
        check_upstream(deps, args.upstream_url, key)
    account = create_account(deps, args.name)
    shown = {"accountId": account.account_id, "sandboxKey": account.sandbox_key, "prodKey": account.prod_key}
    if key is not None:
        set_upstream(deps, account.account_id, args.upstream_url, key)
        shown["upstream"] = f"{args.upstream} {args.upstream_url.rstrip('/')}"
    print(json.dumps(shown), flush=True)
    if key is not None:
        subscribe_or_warn(deps, account.account_id)


def accounts_set_upstream(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.upstreams import set_upstream

    set_upstream(deps, args.account, args.upstream_url, _upstream_key(args))
    print(f"Production payments of {args.account} now go to Dojo at {args.upstream_url.rstrip('/')}.")
    subscribe_or_warn(deps, args.account)


def accounts_remove_upstream(deps: Dependencies, args: argparse.Namespace) -> None:
    import asyncio

    from payintents.service.upstream_webhooks import unsubscribe_upstream
    from payintents.service.upstreams import check_removable, remove_upstream

    # Refused before the subscription goes; unsubscribed while the key is still there to ask with.
    check_removable(deps, args.account)
    asyncio.run(unsubscribe_upstream(deps, args.account))
    if remove_upstream(deps, args.account):
        print(f"{args.account} has no upstream any more: its production key uses the built-in processor.")
    else:
        print(f"{args.account} had no upstream.")


def accounts_reseal_upstreams(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.upstreams import reseal_upstreams

    print(f"Resealed {reseal_upstreams(deps)} upstream key(s) with the current PAYINTENTS_SECRET_KEY.")


def _with_upstream(sub: argparse.ArgumentParser, *, required: bool) -> None:
    if not required:
        sub.add_argument(
            "--upstream", choices=("dojo",), help="send the production key's payments to Dojo (a gateway)"
        )
    sub.add_argument(
        "--upstream-url", default=DEFAULT_UPSTREAM_URL, metavar="URL", help=f"default {DEFAULT_UPSTREAM_URL}"
    )
    sub.add_argument(
        "--upstream-key-stdin",
        action="store_true",
        help="read the account's Dojo secret key from the first line of stdin (needs PAYINTENTS_SECRET_KEY)",
    )


def add_account_parsers(
    commands: Subparsers[argparse.ArgumentParser], with_database: WithDatabase, settings_of: SettingsOf
) -> None:
    accounts = commands.add_parser(
        "accounts",
        help="accounts create|set-upstream|subscribe-upstream|remove-upstream|reseal-upstreams: accounts",
    )
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True, metavar="COMMAND")
    run = partial(run_handler, settings_of)
    create = with_database(
        account_commands.add_parser(
            "create",
            help="create an account; prints its id and keys as JSON (keys are shown once)",
            description="Create an account and print {accountId, sandboxKey, prodKey} as one JSON "
            "line. The keys are stored hashed: keep them, they are shown only this once. With "
            "--upstream dojo, the production key's payments go to Dojo (docs/adr/0031).",
        )
    )
    create.add_argument("name", help="the merchant's name, shown in the dashboard")
    _with_upstream(create, required=False)
    create.set_defaults(handler=run(accounts_create))

    upstream = with_database(
        account_commands.add_parser("set-upstream", help="send an account's production payments to Dojo")
    )
    upstream.add_argument("account", help="the account id (acc_…)")
    _with_upstream(upstream, required=True)
    upstream.set_defaults(handler=run(accounts_set_upstream))

    subscribe = with_database(
        account_commands.add_parser(
            "subscribe-upstream",
            help="(re)subscribe the gateway to an account's webhooks at Dojo (needs PAYINTENTS_PUBLIC_URL)",
            description="Subscribe this server at the account's Dojo to payment_intent.status_updated, "
            "posting to PAYINTENTS_PUBLIC_URL/upstream/dojo/webhooks/ACCOUNT; its earlier "
            "subscriptions there are deleted first (Dojo allows one per event). create --upstream "
            "and set-upstream do this too. Exit 1, with the reason, if it could not be done.",
        )
    )
    subscribe.add_argument("account", help="the account id (acc_…)")
    subscribe.set_defaults(handler=run(accounts_subscribe_upstream))

    remove = with_database(
        account_commands.add_parser("remove-upstream", help="back to the built-in processor for production")
    )
    remove.add_argument("account", help="the account id (acc_…)")
    remove.set_defaults(handler=run(accounts_remove_upstream))

    reseal = with_database(
        account_commands.add_parser(
            "reseal-upstreams", help="seal every upstream key with the current PAYINTENTS_SECRET_KEY"
        )
    )
    reseal.set_defaults(handler=run(accounts_reseal_upstreams))
