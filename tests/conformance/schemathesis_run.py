"""Running the ``st`` command (schemathesis) against a real server and reading what it reports.

``run_schemathesis`` starts ``st run`` as a subprocess with a config file, the hooks module
(tests/conformance/schemathesis_hooks.py) when asked, a pinned seed and bounded example counts, and
returns its JSON report plus the test cases it generated, counted by phase and data mode (from the
NDJSON event stream).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
HOOKS_MODULE = "tests.conformance.schemathesis_hooks"
ST_COMMAND = [sys.executable, "-m", "schemathesis.cli"]
# A guard against a hung run, not a speed target: one run takes 30-100 s alone, but with a second
# copy of the suite beside it a run took more than 300 s.
RUN_TIMEOUT_S = 900


@dataclass(frozen=True)
class StReport:
    """What one ``st run`` found: its exit code, JSON report and generated cases by phase/mode."""

    exit_code: int
    report: dict[str, Any]
    cases: Counter[tuple[str, str]]
    output: str

    @property
    def operations_tested(self) -> int:
        return int(self.report["operations"]["tested"])

    @property
    def generated(self) -> int:
        return int(self.report["test_cases"]["generated"])

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.report["failures"])

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.report["errors"])

    def summary(self) -> str:
        by_mode = ", ".join(f"{phase}/{mode} {n}" for (phase, mode), n in sorted(self.cases.items()))
        failures = ", ".join(f"{f['code']} {f['title']}: {f['count']}" for f in self.failures) or "none"
        return (
            f"schemathesis {self.report['schemathesis_version']}: {self.operations_tested} operations, "
            f"{self.generated} test cases ({by_mode}); failures: {failures}; errors: {len(self.errors)}; "
            f"{self.report['running_time']:.1f} s"
        )


def run_schemathesis(schema: str, config: Path, report_dir: Path, *args: str, hooks: bool = True) -> StReport:
    """``st run SCHEMA`` with ``config`` and ``args``; reports are written into ``report_dir``."""
    json_path, ndjson_path = report_dir / "report.json", report_dir / "events.ndjson"
    command = [*ST_COMMAND, "--config-file", str(config), "run", schema, "--no-color"]
    command += ["--report", "json,ndjson", "--report-json-path", str(json_path)]
    command += ["--report-ndjson-path", str(ndjson_path), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if hooks:
        env["SCHEMATHESIS_HOOKS"] = HOOKS_MODULE
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    if not json_path.exists():
        raise RuntimeError(f"st wrote no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    report = json.loads(json_path.read_text())
    return StReport(done.returncode, report, _count_cases(ndjson_path), done.stdout + done.stderr)


def _count_cases(ndjson_path: Path) -> Counter[tuple[str, str]]:
    """Generated test cases by (phase, data mode), from the scenarios the event stream records."""
    counts: Counter[tuple[str, str]] = Counter()
    with ndjson_path.open() as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if not finished or not finished.get("recorder"):
                continue
            for case in finished["recorder"].get("cases", {}).values():
                meta = case["value"].get("meta") or {}
                mode = (meta.get("generation") or {}).get("mode", "unknown")
                counts[(finished["phase"], mode)] += 1
    return counts


# Every check, enabled in the config file rather than by `--checks all`: in schemathesis 4 a check
# the command line names outranks an operation's `enabled = false` (ChecksConfig.from_hierarchy),
# so a per-operation exception would not hold (tests/conformance/test_schemathesis_config.py).
# The response-time check needs its limit named to run; 10 s is the one `--checks all` used.
ALL_CHECKS = "[checks]\nenabled = true\nmax_response_time = 10"


def toml_value(value: Any) -> str:
    """A TOML value for strings, numbers, lists and flat tables (JSON's string escapes are TOML's)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def operation_block(name: str, **settings: Any) -> str:
    """One ``[[operations]]`` table for the operation labelled ``name`` (e.g. "POST /webhooks")."""
    lines = ["[[operations]]", f"include-name = {toml_value(name)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    return "\n".join(lines)
