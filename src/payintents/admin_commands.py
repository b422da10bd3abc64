"""The ``payintents keys``, ``users`` and ``terminals`` commands: API keys created (shown once),
listed (never the key) and revoked; dashboard users created, listed, given a new password and
deleted; an account's virtual card terminals listed and added.

Handlers import the server's stack only when they run, so building the parser costs nothing at
start-up. Each handler gets the CLI's way of turning its arguments into ``Settings`` (``--database``
wins over the environment), migrates the database like every other command, and exits 1 with the
reason, on stderr, when the store refuses (an unknown account, user or key; a short password).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payintents.bootstrap import Settings
    from payintents.domain.errors import DomainError
    from payintents.service.dependencies import Dependencies

SettingsOf = Callable[[argparse.Namespace], "Settings"]
WithDatabase = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
# argparse names no public type for what add_subparsers returns.
Subparsers = argparse._SubParsersAction
ENVIRONMENTS = {"sandbox": "sandbox", "production": "prod"}


def _refusal_text(refused: DomainError) -> str:
    """What the store refused, in its own words, for one line on stderr."""
    from payintents.domain.errors import ValidationError

    details = refused.errors.values() if isinstance(refused, ValidationError) else [[refused.detail]]
    return f"payintents: {' '.join(m for ms in details for m in ms)}"


def _read_password(from_stdin: bool) -> str:
    """The first line of stdin, or typed twice at a prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    from payintents.bootstrap import ConfigurationError

    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise ConfigurationError("the two passwords differ")
    return password


def run_handler(
    settings_of: SettingsOf, work: Callable[[Dependencies, argparse.Namespace], None]
) -> Callable[[argparse.Namespace], int]:
    """A handler: migrate, build the dependencies, do ``work``; a refusal exits 1 with its reason."""

    def handler(args: argparse.Namespace) -> int:
        from payintents.bootstrap import build_checked_dependencies, migrate
        from payintents.domain.errors import DomainError
        from payintents.service.upstream_ports import SecretKeyMissingError

        settings = settings_of(args)
        migrate(settings)
        try:
            work(build_checked_dependencies(settings), args)
        except DomainError as refused:
            print(_refusal_text(refused), file=sys.stderr)
            return 1
        except SecretKeyMissingError as missing:
            print(f"payintents: {missing}", file=sys.stderr)
            return 1
        return 0

    return handler


# --- keys ----------------------------------------------------------------------------------------


def keys_create(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.domain.intent import Environment
    from payintents.service.keys import create_key

    issued = create_key(deps, args.account, Environment(ENVIRONMENTS[args.environment]))
    new = issued.record
    shown = {"keyId": new.key_id, "accountId": new.account_id, "environment": args.environment}
    print(json.dumps({**shown, "key": issued.raw_key}))
    print("The key is shown this once: payintents keeps only its hash.", file=sys.stderr)


def keys_list(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.keys import list_keys

    keys = list_keys(deps, args.account)
    rows = [
        {
            "keyId": key.key_id,
            "prefix": key.prefix + "…",
            "environment": _environment_name(key.environment),
            "createdAt": _when(key.created_at),
            "lastUsedAt": _when(key.last_used_at, "never"),
            "revokedAt": _when(key.revoked_at, "-"),
        }
        for key in keys
    ]
    headers = ("ID", "PREFIX", "ENVIRONMENT", "CREATED", "LAST USED", "REVOKED")
    _print_rows(rows, headers, as_json=args.json)


def keys_revoke(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.keys import revoke_key

    done = revoke_key(deps, args.key)
    key = done.key
    named = f"{key.key_id} ({key.prefix}…, {_environment_name(key.environment)}, account {key.account_id})"
    if not done.revoked_now:
        print(f"{named} was already revoked at {_when(key.revoked_at)}.")
        return
    print(f"Revoked {named}; {_sessions(done.sessions_ended)} ended. It opens nothing from now on.")


# --- users ---------------------------------------------------------------------------------------


def users_create(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.users import create_user

    user = create_user(deps, args.username, args.account, _read_password(args.password_stdin))
    print(json.dumps({"userId": user.id, "username": user.username, "accountId": user.account_id}))


def users_list(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.users import list_users

    rows = [
        {"username": u.username, "accountId": u.account_id, "createdAt": _when(u.created_at)}
        for u in list_users(deps, args.account)
    ]
    _print_rows(rows, ("USERNAME", "ACCOUNT", "CREATED"), as_json=args.json)


def users_set_password(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.users import set_password

    ended = set_password(deps, args.username, _read_password(args.password_stdin))
    print(f"New password set for {args.username}; {_sessions(ended)} ended.")


def users_delete(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.service.users import delete_user

    ended = delete_user(deps, args.username)
    print(f"Deleted {args.username}; {_sessions(ended)} ended.")


# --- the parsers ---------------------------------------------------------------------------------


def add_key_parser(
    commands: Subparsers[argparse.ArgumentParser], with_database: WithDatabase, settings_of: SettingsOf
) -> None:
    keys = commands.add_parser("keys", help="keys create|list|revoke: an account's API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    run = partial(run_handler, settings_of)

    create = with_database(
        key_commands.add_parser("create", help="create an API key; prints it as JSON, this once only")
    )
    create.add_argument("account", help="the account id (acc_…)")
    create.add_argument(
        "--environment", required=True, choices=tuple(ENVIRONMENTS), help="which objects the key opens"
    )
    create.set_defaults(handler=run(keys_create))

    listed = with_database(
        key_commands.add_parser("list", help="an account's keys: id, prefix, environment, dates")
    )
    listed.add_argument("account", help="the account id (acc_…)")
    listed.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    listed.set_defaults(handler=run(keys_list))

    revoke = with_database(
        key_commands.add_parser("revoke", help="revoke a key at once, and end its dashboard sessions")
    )
    revoke.add_argument("key", metavar="KEY_OR_ID", help="the key's id (key_…) or the key itself")
    revoke.set_defaults(handler=run(keys_revoke))


def terminals_create(deps: Dependencies, args: argparse.Namespace) -> None:
    from payintents.domain.intent import Environment
    from payintents.service.terminals import create_terminal

    terminal = create_terminal(deps, args.account, Environment(ENVIRONMENTS[args.environment]))
    print(json.dumps({"id": terminal.id, "tid": terminal.tid, "environment": args.environment}))


def terminals_list(deps: Dependencies, args: argparse.Namespace) -> None:
    import asyncio

    from payintents.domain.intent import Environment, Scope
    from payintents.service.terminals import list_terminals

    scope = Scope(args.account, Environment(ENVIRONMENTS[args.environment]))
    found = asyncio.run(list_terminals(deps, scope))
    rows = [{"id": t.id, "tid": t.tid, "status": t.status.value} for t in found]
    _print_rows(rows, ("ID", "TID", "STATUS"), as_json=args.json)


def add_terminal_parser(
    commands: Subparsers[argparse.ArgumentParser], with_database: WithDatabase, settings_of: SettingsOf
) -> None:
    terminals = commands.add_parser("terminals", help="terminals create|list: an account's virtual terminals")
    terminal_commands = terminals.add_subparsers(dest="terminals_command", required=True, metavar="COMMAND")
    run = partial(run_handler, settings_of)
    for name, work, text in (
        ("create", terminals_create, "add a virtual card terminal; prints it as JSON"),
        ("list", terminals_list, "an account's terminals: id, tid, status"),
    ):
        sub = with_database(terminal_commands.add_parser(name, help=text))
        sub.add_argument("account", help="the account id (acc_…)")
        sub.add_argument(
            "--environment", default="sandbox", choices=tuple(ENVIRONMENTS), help="default sandbox"
        )
        if name == "list":
            sub.add_argument("--json", action="store_true", help="one JSON array instead of a table")
        sub.set_defaults(handler=run(work))


def add_user_parser(
    commands: Subparsers[argparse.ArgumentParser], with_database: WithDatabase, settings_of: SettingsOf
) -> None:
    users = commands.add_parser("users", help="users create|list|set-password|delete: dashboard users")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    run = partial(run_handler, settings_of)

    def with_password(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("username", help="the name the user signs in with")
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of stdin"
        )
        return sub

    create = with_password(
        with_database(
            user_commands.add_parser("create", help="create a dashboard user (asks for the password)")
        )
    )
    create.add_argument("--account", required=True, help="the account id (acc_…) the user works in")
    create.set_defaults(handler=run(users_create))

    listed = with_database(user_commands.add_parser("list", help="dashboard users: name, account, created"))
    listed.add_argument("--account", help="only this account's users (acc_…)")
    listed.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    listed.set_defaults(handler=run(users_list))

    new_password = with_password(
        with_database(
            user_commands.add_parser("set-password", help="give a user a new password; ends their sessions")
        )
    )
    new_password.set_defaults(handler=run(users_set_password))

    delete = with_database(user_commands.add_parser("delete", help="delete a user; ends their sessions"))
    delete.add_argument("username", help="the name the user signs in with")
    delete.set_defaults(handler=run(users_delete))


# --- output --------------------------------------------------------------------------------------


def _print_rows(rows: list[dict[str, str]], headers: Sequence[str], *, as_json: bool) -> None:
    """JSON for scripts, or a table with aligned columns for people."""
    if as_json:
        print(json.dumps(rows))
        return
    table = [list(headers), *([*row.values()] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _when(moment: datetime | None, missing: str = "") -> str:
    return missing if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _environment_name(environment: str) -> str:
    return next(name for name, value in ENVIRONMENTS.items() if value == environment)


def _sessions(count: int) -> str:
    return f"{count} dashboard session{'' if count == 1 else 's'}"
