"""The ``payintents`` command: its parser, and one handler per server command.

Start-up is kept short: ``payintents --version`` and ``--help`` import only the parser's own small
modules, and each handler imports the server's stack (SQLAlchemy, Alembic, uvicorn, the web app,
the benchmark) itself, when it runs. The client's commands (``refund``, ``intents``, ``webhooks``)
are listed in the help and handed to the client's own parser (``client_commands``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from payintents import __version__
from payintents.account_commands import add_account_parsers
from payintents.admin_commands import add_key_parser, add_terminal_parser, add_user_parser
from payintents.benchmark.command import add_bench_parser
from payintents.client_commands import CLIENT_COMMANDS, client_commands_help, run_client_command

if TYPE_CHECKING:
    from payintents.bootstrap import Settings
    from payintents.service.accounts import NewAccount
    from payintents.service.dependencies import Dependencies

GRACEFUL_SHUTDOWN_S = 30
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# uvicorn adds a level below debug; only serve, which loads uvicorn, knows it.
SERVE_LOG_LEVELS = (*LOG_LEVELS, "trace")
DESCRIPTION = "Run and manage a payintents server: a payments API that speaks Dojo's card-payments API."
# How long uvicorn's supervisor waits for a worker to answer its health ping before killing and
# replacing it (uvicorn's default is 5 s). A worker starting on a busy machine can take longer
# than 5 s just to import, and was then killed again and again, so `serve --workers 2` never
# came up under load.
WORKER_HEALTHCHECK_TIMEOUT_S = 30


def _settings(args: argparse.Namespace) -> Settings:
    from payintents.bootstrap import Settings

    # Flags win over the environment; workers read the environment, so write the choice back.
    if args.database:
        os.environ["PAYINTENTS_DATABASE_URL"] = args.database
    return Settings.from_environment()


def cmd_migrate(args: argparse.Namespace) -> int:
    from payintents.bootstrap import migrate

    migrate(_settings(args))
    print("database is at the newest schema", file=sys.stderr)
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from payintents.bootstrap import build_checked_dependencies, migrate
    from payintents.service.expiry import run_expiry_pass

    settings = _settings(args)
    migrate(settings)
    report = asyncio.run(run_expiry_pass(build_checked_dependencies(settings)))
    print(json.dumps({"intentsExpired": report.intents_expired, "keysReaped": report.keys_reaped}))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from payintents.bootstrap import build_checked_dependencies, migrate
    from payintents.service.reconciler import reconcile_overdue

    settings = _settings(args)
    migrate(settings)
    deps = build_checked_dependencies(settings)
    if args.account is not None:
        return _reconcile_account(deps, args)
    report = asyncio.run(reconcile_overdue(deps))
    print(
        json.dumps({"recorded": report.succeeded, "released": report.released, "unsettled": report.unsettled})
    )
    return 0 if report.unsettled == 0 else 1


def _reconcile_account(deps: Dependencies, args: argparse.Namespace) -> int:
    from payintents.domain.errors import ValidationError
    from payintents.gateway_commands import reconcile_account

    try:
        return reconcile_account(deps, args)
    except ValidationError as refused:
        print(f"payintents: {' '.join(m for ms in refused.errors.values() for m in ms)}", file=sys.stderr)
        return 2


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Deliver webhooks in the foreground until SIGINT or SIGTERM."""
    import logging.config
    import signal
    import threading

    from payintents.bootstrap import build_checked_dependencies, build_sender, migrate
    from payintents.web.logs import logging_config
    from payintents.workers.dispatcher import run_dispatcher

    settings = _settings(args)
    logging.config.dictConfig(logging_config(args.log_level))
    migrate(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run_dispatcher(build_checked_dependencies(settings), build_sender(settings), stop)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the invariant report as JSON; exit 1 if any invariant is broken."""
    import json

    from payintents.bootstrap import audit_database

    report = audit_database(_settings(args))
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import logging.config

    from payintents.bootstrap import build_checked_dependencies, build_sender, migrate
    from payintents.gateway_commands import warn_about_webhook_gaps
    from payintents.service.accounts import create_demo_account_if_empty
    from payintents.service.reporting import webhook_backlog
    from payintents.web.logs import logging_config
    from payintents.web.metrics import scrape_registry, serving_metrics, worker_samples_dir
    from payintents.workers.dispatcher import start_dispatcher
    from payintents.workers.housekeeping import start_housekeeping

    settings = _settings(args)
    log_config = logging_config(args.log_level)
    logging.config.dictConfig(log_config)
    migrate(settings)
    deps = build_checked_dependencies(settings)
    warn_about_webhook_gaps(deps, settings.public_url)
    demo = create_demo_account_if_empty(deps)
    print(welcome_text(args.host, args.port, settings.database_url, demo), flush=True)
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
        # No WebSocket routes: loading uvicorn's WebSocket protocol would only slow the start.
        ws="none",
    )


def welcome_text(host: str, port: int, database_url: str, demo: NewAccount | None) -> str:
    """What serve prints first: where it listens and, on a new database, a key and a call to try."""
    import shlex

    base_url = reachable_base_url(host, port)
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


def reachable_base_url(host: str, port: int) -> str:
    """The address a person on this machine calls: a wildcard host is reached on loopback."""
    wildcards = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 (not a bind)
    shown = wildcards.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _with_database(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub.add_argument(
        "--database",
        metavar="URL",
        help="sqlite:///path or postgresql://user@host:port/db "
        "(default $PAYINTENTS_DATABASE_URL, else sqlite:///./payintents.db)",
    )
    return sub


def _with_log_level(sub: argparse.ArgumentParser, levels: tuple[str, ...] = LOG_LEVELS) -> None:
    sub.add_argument(
        "--log-level", default="info", choices=levels, help="least severe log line written (default info)"
    )


def _add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = _with_database(
        commands.add_parser(
            "serve",
            help="migrate the database, then serve the API, the dashboard and the sandbox",
            description="Bring the database to the newest schema, then serve the API, the dashboard "
            "and the sandbox's checkout, with the housekeeping loop and a webhook dispatcher. On an "
            "empty database it creates a demo account and prints its sandbox key.",
        )
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="API worker processes (default 1; about one per core on PostgreSQL, see docs/operations.md)",
    )
    _with_log_level(serve, SERVE_LOG_LEVELS)
    serve.set_defaults(handler=cmd_serve)


def _add_maintenance_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = commands.add_parser("migrate", help="bring the database to the newest schema")
    _with_database(migrate).set_defaults(handler=cmd_migrate)
    expire = commands.add_parser("expire", help="one housekeeping pass: expire due intents, reap old keys")
    _with_database(expire).set_defaults(handler=cmd_expire)
    reconcile = commands.add_parser(
        "reconcile",
        help="settle money operations left pending past their deadline; with --account, compare a "
        "gateway account's intents with Dojo instead",
        description="Without --account: settle refunds, captures and reversals left pending past "
        "their deadline (after a crash or a processor timeout) from what the processor did; exit 1 "
        "if one stays unsettled. With --account (a gateway account, docs/gateway.md): compare its "
        "open and recent intents with Dojo (status, captured and refunded amounts, refunds) and "
        "print the differences, changing nothing; each is also a warning in the log; exit 1 if there "
        "is a difference or an intent Dojo did not answer about, 0 if none. Pending operations are "
        "settled by `serve` and by this command without --account.",
    )
    reconcile.add_argument(
        "--account", metavar="ACCOUNT", help="a gateway account (acc_…) to compare with Dojo"
    )
    reconcile.add_argument("--json", action="store_true", help="with --account: print the report as JSON")
    reconcile.add_argument(
        "--recent-hours",
        type=float,
        default=72.0,
        metavar="H",
        help="with --account: compare intents still open, or created or changed in the last H hours "
        "(default 72)",
    )
    reconcile.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="with --account: also write the counts as Prometheus gauges to PATH (node_exporter's "
        "textfile collector)",
    )
    _with_database(reconcile).set_defaults(handler=cmd_reconcile)
    audit = commands.add_parser(
        "audit", help="re-check the money invariants on every stored row; exit 1 if one is broken"
    )
    _with_database(audit).set_defaults(handler=cmd_audit)
    dispatch = _with_database(
        commands.add_parser(
            "dispatch",
            help="deliver webhooks in the foreground (for serve with PAYINTENTS_DISPATCHER=off)",
        )
    )
    _with_log_level(dispatch)
    dispatch.set_defaults(handler=cmd_dispatch)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payintents",
        description=DESCRIPTION,
        epilog=client_commands_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="server commands"
    )
    _add_serve_parser(commands)
    add_account_parsers(commands, _with_database, _settings)
    add_user_parser(commands, _with_database, _settings)
    add_key_parser(commands, _with_database, _settings)
    add_terminal_parser(commands, _with_database, _settings)
    _add_maintenance_parsers(commands)
    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in CLIENT_COMMANDS:
        return run_client_command(arguments)
    args = build_parser().parse_args(arguments)
    from payintents.bootstrap import ConfigurationError

    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        print(f"payintents: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
