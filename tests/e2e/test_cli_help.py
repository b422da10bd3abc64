"""``payintents --help``, ``--version`` and every command's help, run as a person types them.

Start-up speed is measured, never asserted here (``python -m tests.harness.startup_bench``); what
is asserted is its cause: the version and the help load none of the server's heavy stacks.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from payintents_client.cli import build_parser as build_client_parser

from payintents.cli import build_parser, reachable_base_url

PAYINTENTS = Path(sys.executable).parent / "payintents"
# What the help must not load: the web and database stacks, the benchmark and the server processes
# it shares with the tests, the client (httpx).
HEAVY_MODULES = (
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "starlette",
    "httpx",
    "argon2",
    "jinja2",
    "payintents.bootstrap",
    "payintents.benchmark.run",
    "payintents.testbed",
    "payintents_client",
)
# reStructuredText that reads as noise in a terminal: ``literal``, :role:`x`, `link`_.
RST_MARKUP = re.compile(r"``|:(class|func|meth|mod|attr|data|exc|ref):`|`_\b")


def person_runs(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAYINTENTS), *arguments], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("arguments", [["--version"], ["--help"], ["serve", "--help"]])
def test_version_and_help_load_no_heavy_module(arguments: list[str]) -> None:
    probe = (
        "import sys\n"
        "from payintents.cli import main\n"
        "try:\n"
        f"    main({arguments!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_version_prints_the_version() -> None:
    done = person_runs("--version")
    assert done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\n", done.stdout), done


def _client_command_paths() -> Iterator[str]:
    """Every command of the client's own parser, as typed after ``payintents``: ``intents list``."""
    for name, sub in _subparsers(build_client_parser()).items():
        nested = _subparsers(sub)
        yield from (f"{name} {inner}" for inner in nested) if nested else [name]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_help_lists_every_server_and_client_command_without_markup() -> None:
    done = person_runs("--help")
    assert done.returncode == 0, done.stderr
    listed = {line.strip().split("  ")[0] for line in done.stdout.splitlines() if line.startswith("    ")}
    server_commands = set(_subparsers(build_parser()))
    assert server_commands <= listed
    assert set(_client_command_paths()) <= listed, done.stdout
    assert "webhooks listen" in listed
    assert not RST_MARKUP.search(done.stdout), done.stdout


def test_serve_help_explains_every_option() -> None:
    done = person_runs("serve", "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--database", "--host", "--port", "--workers", "--log-level"):
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(option))
        explained = line.split(option, 1)[1].split(maxsplit=1)
        # The text follows the option's metavar on its line, or starts the next line.
        assert len(explained) == 2 or done.stdout.split(line, 1)[1].startswith("\n" + " " * 20), line
    assert not RST_MARKUP.search(done.stdout), done.stdout


def _every_parser(
    parser: argparse.ArgumentParser, path: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for name, sub in _subparsers(parser).items():
        yield from _every_parser(sub, f"{path} {name}")


def _help_of_every_command() -> list[object]:
    parsers = [
        *_every_parser(build_parser(), "payintents"),
        *_every_parser(build_client_parser("payintents"), "payintents"),
        *_every_parser(build_client_parser(), "payintents-client"),
    ]
    return [pytest.param(path, parser, id=path) for path, parser in parsers]


@pytest.mark.parametrize(
    ("path", "parser"),
    [pytest.param(path, parser, id=path) for path, parser in _every_parser(build_parser(), "payintents")],
)
def test_every_option_of_every_server_command_has_a_help_text(
    path: str, parser: argparse.ArgumentParser
) -> None:
    unexplained = [
        action.option_strings or action.dest
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert unexplained == [], f"{path}: {unexplained}"


@pytest.mark.parametrize(("path", "parser"), _help_of_every_command())
def test_no_help_shows_restructuredtext_markup(path: str, parser: argparse.ArgumentParser) -> None:
    assert not RST_MARKUP.search(parser.format_help()), f"{path}:\n{parser.format_help()}"


def test_unknown_client_command_names_pass_through_to_the_client() -> None:
    done = person_runs("intents", "--help")
    assert done.returncode == 0 and "usage: payintents intents" in done.stdout, done


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8100"),
        ("0.0.0.0", "http://127.0.0.1:8100"),
        ("::", "http://[::1]:8100"),
        ("192.0.2.7", "http://192.0.2.7:8100"),
    ],
)
def test_the_welcome_names_an_address_a_person_can_call(host: str, expected: str) -> None:
    assert reachable_base_url(host, 8100) == expected


def test_a_client_command_without_the_client_says_how_to_install_it() -> None:
    """After ``make run`` alone (the runtime, not the client): one line naming the fix, exit 2."""
    probe = (
        "import sys\n"
        "sys.modules['payintents_client'] = None  # as if not installed\n"
        "from payintents.cli import main\n"
        "sys.exit(main(['refund', 'pi_x', '--amount', '1.00']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "payintents: 'refund' needs payintents-client "
        "(pip install 'payintents-client[cli]'; in the repository, make test installs it)"
    ]
