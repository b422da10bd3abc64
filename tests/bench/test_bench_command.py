"""``payintents bench`` end to end (a smoke run against a real server on SQLite), and its verdict:
figures are never asserted, but an audit violation fails the run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from payintents.benchmark import command, report, run
from payintents.benchmark.ceiling import CeilingResult
from payintents.benchmark.load import PhaseResult
from payintents.benchmark.run import BenchReport, HttpMeasurement, ModeReport
from payintents.cli import build_parser


@pytest.mark.e2e
@pytest.mark.slow
def test_a_smoke_run_prints_every_figure_and_a_clean_audit() -> None:
    smoke = ["bench", "--smoke", "--mode", "many", "--workers", "1", "--json"]
    command_line = [sys.executable, "-m", "payintents.cli", *smoke]
    done = subprocess.run(command_line, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["backend"] == "sqlite"
    (mode,) = report["modes"]
    assert mode["ceiling"]["transactions"] == command.SMOKE["refunds"] and mode["ceiling"]["refused"] == 0
    (run,) = mode["runs"]
    assert run["refundStatuses"] == {"200": command.SMOKE["refunds"]}
    assert run["getStatuses"] == {"200": command.SMOKE["gets"]}
    assert run["refundsPerS"] > 0 and run["ratioToCeiling"] > 0
    assert set(run["refundLatencyMs"]) == {"p50", "p95", "p99", "max"}
    assert len(run["serverPeakRssMbPerWorker"]) == 1 and run["auditOk"] is True
    assert run["audit"]["invariants"]["REFUND_CAP"]["violations"] == 0  # what --json promises to show
    # SQLite runs inside the workers: no database figure of its own; the machine's idle share is real.
    assert run["databaseCpuPercent"] is None and 0 <= run["machineIdlePercent"] <= 100


def _report(audit_ok: bool, statuses: dict[str, int]) -> BenchReport:
    phase = PhaseResult([1.0, 2.0], statuses, 0.1)
    run = HttpMeasurement("many", 1, 0, phase, phase, 0.01, [], [], audit_ok)
    return BenchReport("sqlite", 32, [ModeReport("many", CeilingResult(2, 0.01, 0), [run])])


@pytest.mark.parametrize(
    ("audit_ok", "statuses", "exit_code"),
    [
        (True, {"200": 2}, 0),
        (False, {"200": 2}, 1),
        (True, {"200": 1, "503": 1}, 1),
        (True, {"timeout": 2}, 1),
    ],
)
def test_the_exit_status_is_the_audit_and_the_answers(
    audit_ok: bool,
    statuses: dict[str, int],
    exit_code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # cmd_bench imports the benchmark when it runs (start-up of the CLI): patch it where it lives.
    monkeypatch.setattr(run, "run_benchmark", lambda _config: _report(audit_ok, statuses))
    args = build_parser().parse_args(["bench", "--json"])
    assert command.cmd_bench(args) == exit_code
    assert json.loads(capsys.readouterr().out)["ok"] is (exit_code == 0)


def _two_worker_report(server_cpu_s: list[float]) -> BenchReport:
    phase = PhaseResult([1.0, 2.0], {"200": 2}, 0.1)  # with the GET phase: 0.2 s of wall time
    run = HttpMeasurement("many", 2, 0, phase, phase, 0.01, [], server_cpu_s, True)
    return BenchReport("postgres", 32, [ModeReport("many", CeilingResult(2, 0.01, 0), [run])])


def test_a_run_whose_load_went_mostly_to_one_worker_says_so() -> None:
    text = report.as_text(_two_worker_report([0.174, 0.03]))  # 87 % and 15 % of a core
    assert "note: many with 2 workers ran unevenly (cpu % 87/15)" in text


def test_an_evenly_loaded_run_has_no_note() -> None:
    assert "unevenly" not in report.as_text(_two_worker_report([0.126, 0.124]))
