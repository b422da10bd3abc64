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
    # The same refunds' bare SQL in the two-phase write's three commits, beside the one-transaction form.
    two_phase = mode["twoPhaseCeiling"]
    assert two_phase["transactions"] == command.SMOKE["refunds"] and two_phase["refused"] == 0
    assert two_phase["perS"] > 0
    (run,) = mode["runs"]
    assert run["refundStatuses"] == {"200": command.SMOKE["refunds"]}
    assert run["getStatuses"] == {"200": command.SMOKE["gets"]}
    assert run["refundsPerS"] > 0 and run["ratioToCeiling"] > 0
    assert set(run["refundLatencyMs"]) == {"p50", "p95", "p99", "max"}
    assert len(run["serverPeakRssMbPerWorker"]) == 1 and run["auditOk"] is True
    assert run["audit"]["invariants"]["REFUND_CAP"]["violations"] == 0  # what --json promises to show
    # SQLite runs inside the workers: no database figure of its own; the machine's idle share is real.
    assert run["databaseCpuPercent"] is None and 0 <= run["machineIdlePercent"] <= 100
    # What a refund costs beside a read that writes nothing, on the same server.
    assert run["cpuMsPerRefund"] > 0 and run["cpuMsPerGet"] > 0
    assert run["refundToGetCpuRatio"] == pytest.approx(run["cpuMsPerRefund"] / run["cpuMsPerGet"], abs=0.01)
    # Then refunds open loop at half the rate the closed loop reached, every one answered 200.
    open_loop = run["openLoop"]
    assert open_loop["ratePerS"] == pytest.approx(run["refundsPerS"] / 2, rel=0.01)
    assert open_loop["statuses"] == {"200": open_loop["refunds"]} and 0 < open_loop["refunds"] <= 150
    assert 0 < open_loop["latencyMs"]["p50"] <= open_loop["latencyMs"]["p99"]


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


def _costed_report(open_loop: PhaseResult | None) -> BenchReport:
    refunds = PhaseResult([1.0, 2.0, 3.0, 4.0], {"200": 4}, 0.1)
    gets = PhaseResult([0.5, 0.5], {"200": 2}, 0.01)
    run = HttpMeasurement(
        "many", 1, 0, refunds, gets, 0.01, [], [0.05], True,
        refund_cpu_s=0.010, get_cpu_s=0.002, open_loop=open_loop, open_loop_rate_per_s=20.0,
    )  # fmt: skip
    return BenchReport("sqlite", 32, [ModeReport("many", CeilingResult(4, 0.01, 0), [run])])


def test_the_cpu_of_a_refund_is_shown_beside_the_cpu_of_a_read() -> None:
    figures = report.as_json(_costed_report(None))["modes"][0]["runs"][0]
    # 10 ms over 4 refunds, 2 ms over 2 reads.
    assert (figures["cpuMsPerRefund"], figures["cpuMsPerGet"], figures["refundToGetCpuRatio"]) == (
        2.5,
        1.0,
        2.5,
    )
    assert figures["openLoop"] is None
    header, row = report.as_text(_costed_report(None)).splitlines()[2:4]
    assert "cpu ms/refund" in header and "cpu ms/GET" in header and "open p99" in header
    assert "2.50" in row and "1.00" in row


def test_the_open_loop_latency_is_reported_with_its_rate_and_answers() -> None:
    open_loop = PhaseResult([float(n) for n in range(1, 101)], {"200": 99, "503": 1}, 5.0)
    built = _costed_report(open_loop)
    figures = report.as_json(built)["modes"][0]["runs"][0]["openLoop"]
    assert figures["ratePerS"] == 20.0 and figures["refunds"] == 100
    assert figures["statuses"] == {"200": 99, "503": 1}
    assert figures["latencyMs"]["p50"] == 50.5 and figures["latencyMs"]["p99"] == 99.01
    assert "open 200:99 503:1" in report.as_text(built)
    assert built.ok is False  # an open-loop refund that was not answered 200 fails the run
