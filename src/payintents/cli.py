"""The ``payintents`` command: serve, dispatch, migrate, accounts create, users create, expire, audit."""

from __future__ import annotations

import argparse
import json
import logging.config
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from payintents import __version__
from payintents.benchmark.command import add_bench_parser
from payintents.bootstrap import (
    ConfigurationError,
    Settings,
    audit_database,
    build_dependencies,
    build_sender,
    migrate,
)
from payintents.domain.errors import DomainError, ValidationError
from payintents.service.accounts import NewAccount, create_account, create_demo_account_if_empty
from payintents.service.expiry import run_expiry_pass
from payintents.service.users import create_user
from payintents.web.logs import logging_config
from payintents.workers.dispatcher import run_dispatcher, start_dispatcher
from payintents.workers.housekeeping import start_housekeeping

GRACEFUL_SHUTDOWN_S = 30
# How long uvicorn's supervisor waits for a worker to answer its health ping before killing and
# replacing it (uvicorn's default is 5 s). A worker starting on a busy machine can take longer
# than 5 s just to import, and was then killed again and again, so `serve --workers 2` never
# came up under load.
WORKER_HEALTHCHECK_TIMEOUT_S = 30


def _settings(args: argparse.Namespace) -> Settings:
    # Flags win over the environment; workers read the environment, so write the choice back.
    if args.database:
        os.environ["PAYINTENTS_DATABASE_URL"] = args.database
    return Settings.from_environment()


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate(_settings(args))
    print("database is at the newest schema", file=sys.stderr)
    return 0


def cmd_accounts_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    migrate(settings)
    account = create_account(build_dependencies(settings), args.name)
    print(
        json.dumps(
            {
                "accountId": account.account_id,
                "sandboxKey": account.sandbox_key,
                "prodKey": account.prod_key,
            }
        )
    )
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    """Add a dashboard user; the password comes from stdin (--password-stdin) or a prompt."""
    settings = _settings(args)
    migrate(settings)
    password = _read_password(args.password_stdin)
    try:
        user = create_user(build_dependencies(settings), args.username, args.account, password)
    except DomainError as refused:
        details = refused.errors.values() if isinstance(refused, ValidationError) else [[refused.detail]]
        print(f"payintents: {' '.join(m for ms in details for m in ms)}", file=sys.stderr)
        return 1
    print(json.dumps({"userId": user.id, "username": user.username, "accountId": user.account_id}))
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise ConfigurationError("the two passwords differ")
    return password


def cmd_expire(args: argparse.Namespace) -> int:
    settings = _settings(args)
    migrate(settings)
    report = run_expiry_pass(build_dependencies(settings))
    print(json.dumps({"intentsExpired": report.intents_expired, "keysReaped": report.keys_reaped}))
    return 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Deliver webhooks in the foreground until SIGINT or SIGTERM."""
    import signal
    import threading

    settings = _settings(args)
    logging.config.dictConfig(logging_config(args.log_level))
    migrate(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run_dispatcher(build_dependencies(settings), build_sender(settings), stop)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the invariant report as JSON; exit 1 if any invariant is broken."""
    settings = _settings(args)
    report = audit_database(settings)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from payintents.service.reporting import webhook_backlog
    from payintents.web.metrics import scrape_registry, serving_metrics, worker_samples_dir

    settings = _settings(args)
    log_config = logging_config(args.log_level)
    logging.config.dictConfig(log_config)
    migrate(settings)
    deps = build_dependencies(settings)
    demo = create_demo_account_if_empty(deps)
    base_url = f"http://{args.host}:{args.port}"
    print(welcome_text(base_url, settings.database_url, demo), flush=True)
    start_housekeeping(deps, settings.expiry_interval_s)
    if settings.dispatcher_in_serve:
        start_dispatcher(deps, build_sender(settings))
    # Several workers write their metric samples to one directory, removed when serve stops; the
    # metrics listener of this process reads them (or, with one worker, its own counters).
    with worker_samples_dir(args.workers) as samples_dir:
        registry = scrape_registry(samples_dir, lambda: webhook_backlog(deps))
        with serving_metrics(settings.metrics_address, registry):
            _run_uvicorn(args, settings, log_config)
    return 0


def _run_uvicorn(args: argparse.Namespace, settings: Settings, log_config: dict[str, Any]) -> None:
    import uvicorn

    from payintents.web.http_protocol import serving_protocol

    uvicorn.run(
        "payintents.bootstrap:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_config=log_config,
        # Our own access log carries the traceId; uvicorn's would repeat it without one.
        access_log=False,
        # On SIGTERM, stop accepting and let in-flight requests (and their commits) finish.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
        # Head limits, read timeouts and the connection limit; requests refused before any route
        # runs (unreadable, too large, too slow) get Dojo's error body too, not uvicorn's text.
        http=serving_protocol(settings.http_limits),
    )


def welcome_text(base_url: str, database_url: str, demo: NewAccount | None) -> str:
    lines = [
        f"payintents {__version__} on {base_url} (database {database_url})",
        f"Merchant dashboard: {base_url}/dashboard (an API key, or a user from `payintents users create`)",
    ]
    if demo is None:
        lines.append("Use a key you created before, or make one: payintents accounts create NAME")
        return "\n".join(lines)
    body = '{"amount":{"value":1000,"currencyCode":"GBP"},"reference":"Order 234"}'
    curl = (
        f"curl -s {base_url}/payment-intents -H {shlex.quote('Authorization: Basic ' + demo.sandbox_key)}"
        f" -H 'Version: 2024-02-05' -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
    lines += [
        f"Created demo account {demo.account_id}.",
        f"Sandbox key (shown once, keep it): {demo.sandbox_key}",
        "Create a payment intent:",
        f"  {curl}",
        f"Then pay it at {base_url}/checkout/<id> with card 5200 0000 0000 1005, and refund it with",
        "POST /payment-intents/<id>/refunds (see README).",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payintents",
        description=__doc__,
        epilog="With the client installed, also: payintents refund | intents | webhooks.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_database(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--database", help="database URL (default $PAYINTENTS_DATABASE_URL or SQLite)")
        return sub

    serve = with_database(commands.add_parser("serve", help="run the API server"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=cmd_serve)

    with_database(commands.add_parser("migrate", help="apply database migrations")).set_defaults(
        handler=cmd_migrate
    )
    with_database(commands.add_parser("expire", help="run one expiry and key-reaping pass")).set_defaults(
        handler=cmd_expire
    )

    with_database(
        commands.add_parser("audit", help="check the money invariants on every stored row")
    ).set_defaults(handler=cmd_audit)
    dispatch = with_database(commands.add_parser("dispatch", help="deliver webhooks (foreground)"))
    dispatch.add_argument("--log-level", default="info")
    dispatch.set_defaults(handler=cmd_dispatch)

    accounts = commands.add_parser("accounts", help="manage accounts")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    create = with_database(account_commands.add_parser("create", help="create an account"))
    create.add_argument("name")
    create.set_defaults(handler=cmd_accounts_create)

    users = commands.add_parser("users", help="manage dashboard users")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    new_user = with_database(user_commands.add_parser("create", help="create a dashboard user"))
    new_user.add_argument("username")
    new_user.add_argument("--account", required=True, help="the account id (acc_…) the user works in")
    new_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    new_user.set_defaults(handler=cmd_users_create)
    add_bench_parser(commands)
    return parser


# Commands for people working with a running server; they come from the client distribution.
CLIENT_COMMANDS = ("refund", "intents", "webhooks")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in CLIENT_COMMANDS:
        return _run_client_command(arguments)
    args = build_parser().parse_args(arguments)
    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        print(f"payintents: {exc}", file=sys.stderr)
        return 2


def _run_client_command(arguments: list[str]) -> int:
    """``payintents refund …`` and friends: the payintents-client CLI, under this command's name."""
    try:
        from payintents_client.cli import main as client_main
    except ImportError:
        print(
            f"payintents: '{arguments[0]}' needs the client: pip install 'payintents-client[cli]' "
            "(in this repository: pip install -e './client[cli]')",
            file=sys.stderr,
        )
        return 2
    return int(client_main(arguments, prog="payintents"))


if __name__ == "__main__":
    sys.exit(main())
