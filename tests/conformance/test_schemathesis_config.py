"""The schemathesis run's configuration says what it means: every check runs, except where an
operation's block turns one off.

No server: schemathesis's own configuration API resolves which checks apply to an operation of a
small document carrying the paths the exceptions name. The control shows why the run does not pass
`--checks all` (a check named there outranks an operation's `enabled = false`).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from tests.conformance.schemathesis_run import ALL_CHECKS
from tests.conformance.test_schemathesis import SETUP_INTENT_REFRESHES, _status_rules

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ANSWER = {"parameters": [_ID], "responses": {"200": {"description": "answered"}}}
_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "checks", "version": "1"},
    "paths": {
        "/setup-intents/{setupIntentId}": {"get": _ANSWER},
        "/setup-intents/public/{setupIntentId}": {"get": _ANSWER},
        "/payment-intents/{paymentIntentId}": {"get": _ANSWER},
        "/customers/{customerId}": {"get": _ANSWER},
        "/setup-intents/{setupIntentId}/refresh-client-session-secret": {"post": _ANSWER},
    },
}
_REFRESH = "POST /setup-intents/{setupIntentId}/refresh-client-session-secret"
# Which of the two checks the run's exceptions turn off apply, by operation, when nothing is off.
_EVERYTHING_ON = {
    "GET /setup-intents/{setupIntentId}": (True, True),
    "GET /setup-intents/public/{setupIntentId}": (True, True),
    "GET /payment-intents/{paymentIntentId}": (True, True),
    "GET /customers/{customerId}": (True, True),
    _REFRESH: (True, True),
}


def _checks_by_operation(command_line_checks: list[str] | None) -> dict[str, tuple[bool, bool]]:
    """(use_after_free, status_code_conformance) enabled, per operation of the document."""
    text = "\n\n".join([ALL_CHECKS, *_status_rules()]) + "\n"
    config = SchemathesisConfig.from_str(text)
    project = config.projects.default
    if command_line_checks is not None:
        project.checks.update(included_check_names=command_line_checks)
    schema = schemathesis.openapi.from_dict(_DOCUMENT, config=config)
    enabled: dict[str, tuple[bool, bool]] = {}
    for result in schema.get_all_operations():
        operation: Any = result.ok()
        checks = project.checks_config_for(operation=operation, phase="stateful")
        enabled[operation.label] = (checks.use_after_free.enabled, checks.status_code_conformance.enabled)
    return enabled


def test_each_exception_turns_its_check_off_and_nothing_else() -> None:
    assert SETUP_INTENT_REFRESHES and _REFRESH in SETUP_INTENT_REFRESHES
    assert _checks_by_operation(None) == {
        **_EVERYTHING_ON,
        # A canceled intent or setup intent is still read (status Canceled).
        "GET /setup-intents/{setupIntentId}": (False, True),
        "GET /setup-intents/public/{setupIntentId}": (False, True),
        "GET /payment-intents/{paymentIntentId}": (False, True),
        # A refresh reached with an empty id lands on another route's 405.
        _REFRESH: (True, False),
    }


def test_control_checks_named_on_the_command_line_override_the_exceptions() -> None:
    # What the run did before: `--checks all` switched every excepted check back on.
    assert _checks_by_operation(["all"]) == _EVERYTHING_ON


def test_every_builtin_check_runs_where_no_exception_applies() -> None:
    config = SchemathesisConfig.from_str(ALL_CHECKS + "\n")
    checks = config.projects.default.checks
    names = [name for name in checks.__slots__ if not name.startswith("_")]
    assert names
    assert all(checks.get_by_name(name=name).enabled for name in names)
