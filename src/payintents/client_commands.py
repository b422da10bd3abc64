"""The client's commands under the server's name: ``payintents refund …``, ``intents …``, ``webhooks …``.

They belong to the client distribution (``payintents_client.cli``), which this module hands the
arguments to. ``payintents --help`` lists them from the table below rather than from the client's
parser, because importing the client (httpx and its models) would double the time the help takes;
a test checks the table against the client's parser, so a command added there shows up here.
"""

from __future__ import annotations

import sys

# Every client command a person can type after ``payintents``, with what it does.
CLIENT_COMMAND_SUMMARIES = (
    ("refund", "refund all or part of a captured payment (refund ID --amount 10.00)"),
    ("intents create", "create a payment intent"),
    ("intents get", "show a payment intent"),
    ("intents list", "list payment intents, newest first"),
    ("intents capture", "capture a Manual authorization"),
    ("intents cancel", "cancel a Created payment intent"),
    ("intents refunds", "list a payment intent's refunds"),
    ("intents receipt", "send a payment's receipt (the sandbox records it: intents receipt ID EMAIL...)"),
    ("intents receipts", "the sandbox's recorded receipts, newest first ([ID] [--text])"),
    ("intents pay", "pay a sandbox intent with a test card (intents pay ID [--card ...])"),
    ("intents challenge", "pass or fail a sandbox payment's waiting 3-D Secure challenge"),
    ("intents charge", "charge the card the intent's setup intent saved (merchant-initiated)"),
    ("customers create", "create a customer"),
    ("customers cards", "list a customer's saved cards"),
    ("webhooks listen", "receive verified webhook events here, printing their signing secret"),
    ("webhooks list", "list webhook subscriptions"),
    ("webhooks events", "list the events one can subscribe to"),
    ("terminal-sessions sale", "take payment for an intent on a card terminal"),
    ("terminal-sessions matched-refund", "refund part of a captured intent at a terminal"),
    ("terminal-sessions unlinked-refund", "refund any amount to the card at a terminal"),
    ("terminal-sessions get", "show a terminal session"),
    ("terminal-sessions cancel", "cancel a terminal session before a card is presented"),
    ("terminal-sessions signature", "accept or reject the cardholder's signature"),
    ("terminal-sessions present-card", "sandbox: present a card at a virtual terminal"),
)
CLIENT_COMMANDS = frozenset(path.split()[0] for path, _ in CLIENT_COMMAND_SUMMARIES)
_INSTALL_HINT = "pip install 'payintents-client[cli]'; in the repository, make test installs it"


def client_commands_help() -> str:
    """The help's section on the client commands, laid out like argparse's own list."""
    width = max(len(path) for path, _ in CLIENT_COMMAND_SUMMARIES) + 2
    rows = [f"    {path:<{width}}{summary}" for path, summary in CLIENT_COMMAND_SUMMARIES]
    return "\n".join(
        [
            "client commands, for a running server (from payintents-client:",
            f"  {_INSTALL_HINT}):",
            *rows,
            "",
            "Each command explains its options: payintents COMMAND --help (e.g. payintents serve --help).",
        ]
    )


def run_client_command(arguments: list[str]) -> int:
    """Run ``payintents refund …`` and friends with the payintents-client CLI, under this name."""
    try:
        from payintents_client.cli import main as client_main
    except ImportError:
        print(f"payintents: '{arguments[0]}' needs payintents-client ({_INSTALL_HINT})", file=sys.stderr)
        return 2
    return int(client_main(arguments, prog="payintents"))
