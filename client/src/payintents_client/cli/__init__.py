"""The ``payintents-client`` command: refunds, payment intents and webhooks for people and scripts.

Its help texts are plain text (``DESCRIPTION`` and each option's help), never this docstring's
markup. Errors are one line on stderr with the API's traceId; the exit code is 1 (2 for bad
arguments).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from payintents_client._client import Client
from payintents_client._transport import DEFAULT_VERSION
from payintents_client._version import __version__
from payintents_client.cli._commands import UsageError, add_intent_commands
from payintents_client.cli._customer_commands import add_customer_commands
from payintents_client.cli._listen import add_webhook_commands
from payintents_client.cli._output import Output
from payintents_client.cli._terminals import DEFAULT_SOFTWARE_HOUSE, add_terminal_commands
from payintents_client.errors import ApiError, ConfigurationError, PayintentsError

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Refunds, payment intents and webhooks of Dojo's card-payments API (or of a payintents server),
for people and scripts.

  {prog} refund pi_sandbox_... --amount 10.00 --reason "Demo refund"
  {prog} intents create --amount 10.00 --reference "Order 234"
  {prog} intents pay pi_sandbox_...          (a sandbox test card)
  {prog} intents list --status Captured
  {prog} webhooks listen --forward-to http://127.0.0.1:5000/hooks
  {prog} terminal-sessions sale tm_sandbox_... pi_sandbox_...

Every command takes --base-url (default $PAYINTENTS_BASE_URL or https://api.dojo.tech),
--api-key (default $PAYINTENTS_API_KEY) and --json (machine-readable output). Errors are one
line on stderr with the API's traceId; the exit code is 1 (2 for bad arguments).
"""
# The client's own errors name its Python arguments; a person at the command line set an option.
CLI_WORDING = {
    "api_key": "no API key: pass --api-key or set PAYINTENTS_API_KEY",
    "base_url": "--base-url (or PAYINTENTS_BASE_URL) must be an http(s) URL such as http://127.0.0.1:8000",
    "version": f"--api-version must be a date like {DEFAULT_VERSION}",
}


def _common_options() -> argparse.ArgumentParser:
    # SUPPRESS: an option given before the command is not overwritten by the command's default.
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help="API root, e.g. http://127.0.0.1:8000 (default $PAYINTENTS_BASE_URL or https://api.dojo.tech)",
    )
    group.add_argument("--api-key", default=argparse.SUPPRESS, help="API key (default $PAYINTENTS_API_KEY)")
    group.add_argument(
        "--api-version", default=argparse.SUPPRESS, help=f"API version header (default {DEFAULT_VERSION})"
    )
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    return common


def build_parser(prog: str = "payintents-client") -> argparse.ArgumentParser:
    common = [_common_options()]
    parser = argparse.ArgumentParser(
        prog=prog,
        parents=common,
        description=DESCRIPTION.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"payintents-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    intent_commands = add_intent_commands(commands, common)
    add_customer_commands(commands, intent_commands, common)
    add_webhook_commands(commands, common)
    add_terminal_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "payintents-client") -> int:
    """Run one command; returns the exit code (0 ok, 1 API or network error, 2 bad arguments)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    out = Output(as_json=bool(getattr(args, "json", False)), prog=prog)
    try:
        with Client(
            getattr(args, "api_key", None),
            base_url=getattr(args, "base_url", None),
            version=getattr(args, "api_version", DEFAULT_VERSION),
            software_house_id=getattr(args, "software_house_id", None)
            or os.environ.get("PAYINTENTS_SOFTWARE_HOUSE_ID")
            or DEFAULT_SOFTWARE_HOUSE,
        ) as client:
            return int(args.handler(args, client, out))
    except UsageError as exc:
        out.error(str(exc))
        return 2
    except ConfigurationError as exc:
        out.error(CLI_WORDING.get(exc.setting or "", str(exc)))
        return 1
    except ApiError as exc:
        out.error(exc.one_line())
        return 1
    except PayintentsError as exc:
        out.error(str(exc))
        return 1
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
