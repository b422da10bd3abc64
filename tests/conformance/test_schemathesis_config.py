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
from tests.conformance.test_schemathesis import _status_rules

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_GET = {"get": {"parameters": [_ID], "responses": {"200": {"description": "read"}}}}
_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "checks", "version": "1"},
    "paths": {
        "/setup-intents/{setupIntentId}": _GET,
        "/payment-intents/{paymentIntentId}": _GET,
        "/customers/{customerId}": _GET,
    },
}


def _use_after_free_by_operation(command_line_checks: list[str] | None) -> dict[str, bool]:
    text = "\n\n".join([ALL_CHECKS, *_status_rules()]) + "\n"
    config = SchemathesisConfig.from_str(text)
    project = config.projects.default
    if command_line_checks is not None:
        project.checks.update(included_check_names=command_line_checks)
    schema = schemathesis.openapi.from_dict(_DOCUMENT, config=config)
    enabled: dict[str, bool] = {}
    for result in schema.get_all_operations():
        operation: Any = result.ok()
        checks = project.checks_config_for(operation=operation, phase="stateful")
        enabled[operation.label] = checks.use_after_free.enabled
    return enabled


def test_a_canceled_object_read_skips_use_after_free_and_other_reads_keep_it() -> None:
    assert _use_after_free_by_operation(None) == {
        "GET /setup-intents/{setupIntentId}": False,
        "GET /payment-intents/{paymentIntentId}": False,
        "GET /customers/{customerId}": True,
    }


def test_control_checks_named_on_the_command_line_override_the_exceptions() -> None:
    # What the run did before: `--checks all` switched use_after_free back on for every read.
    assert set(_use_after_free_by_operation(["all"]).values()) == {True}


def test_every_builtin_check_runs_where_no_exception_applies() -> None:
    config = SchemathesisConfig.from_str(ALL_CHECKS + "\n")
    checks = config.projects.default.checks
    names = [name for name in checks.__slots__ if not name.startswith("_")]
    assert names
    assert all(checks.get_by_name(name=name).enabled for name in names)
