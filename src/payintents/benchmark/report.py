"""How a benchmark run is shown: a table for people, the same figures as JSON for machines.

Besides rates and latencies: the CPU one refund costs (the server's workers and the database's
processes together, from /proc) beside what one read of an intent costs on the same server, and
their ratio (what the write path adds over a request that writes nothing); and the latency of
refunds sent open loop at half the measured rate.
"""

from __future__ import annotations

import statistics
from typing import Any

from payintents.benchmark.ceiling import CeilingResult
from payintents.benchmark.load import PhaseResult
from payintents.benchmark.run import BenchReport, HttpMeasurement, ModeReport


def latency_summary(phase: PhaseResult) -> dict[str, float]:
    ordered = sorted(phase.latencies_ms)
    if len(ordered) < 2:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": max(ordered, default=0.0)}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


def rate_per_s(phase: PhaseResult) -> float:
    return len(phase.latencies_ms) / phase.elapsed_s if phase.elapsed_s else 0.0


def cpu_ms_per_request(cpu_s: float | None, phase: PhaseResult) -> float | None:
    if cpu_s is None or not phase.latencies_ms:
        return None
    return round(1000 * cpu_s / len(phase.latencies_ms), 3)


def _cost_figures(run: HttpMeasurement) -> dict[str, Any]:
    per_refund = cpu_ms_per_request(run.refund_cpu_s, run.refunds)
    per_get = cpu_ms_per_request(run.get_cpu_s, run.gets)
    ratio = round(per_refund / per_get, 2) if per_refund is not None and per_get else None
    return {"cpuMsPerRefund": per_refund, "cpuMsPerGet": per_get, "refundToGetCpuRatio": ratio}


def _open_loop_figures(run: HttpMeasurement) -> dict[str, Any] | None:
    if run.open_loop is None:
        return None
    return {
        "ratePerS": round(run.open_loop_rate_per_s, 1),
        "refunds": len(run.open_loop.latencies_ms),
        "latencyMs": {k: round(v, 2) for k, v in latency_summary(run.open_loop).items()},
        "statuses": run.open_loop.statuses,
    }


def run_figures(run: HttpMeasurement, ceiling_per_s: float) -> dict[str, Any]:
    refunds_per_s = rate_per_s(run.refunds)
    wall_s = run.refunds.elapsed_s + run.gets.elapsed_s
    return {
        "mode": run.mode,
        "workers": run.workers,
        "storedRefundsBefore": run.stored_refunds_before,
        "refunds": len(run.refunds.latencies_ms),
        "refundsPerS": round(refunds_per_s, 1),
        "refundLatencyMs": {k: round(v, 2) for k, v in latency_summary(run.refunds).items()},
        "refundStatuses": run.refunds.statuses,
        "ceilingPerS": round(ceiling_per_s, 1),
        "ratioToCeiling": round(refunds_per_s / ceiling_per_s, 3) if ceiling_per_s else None,
        "getsPerS": round(rate_per_s(run.gets), 1),
        "getLatencyMs": {k: round(v, 2) for k, v in latency_summary(run.gets).items()},
        "getStatuses": run.gets.statuses,
        "serverCpuPercentPerWorker": [
            round(100 * cpu / wall_s, 1) if wall_s else 0.0 for cpu in run.server_cpu_s
        ],
        "serverPeakRssMbPerWorker": [round(sample.peak_rss_mb, 1) for sample in run.server],
        "clientCpuPercent": _percent(run.client_cpu_s, wall_s),
        # PostgreSQL's processes, in per cent of one core (None on SQLite: it runs in the workers).
        "databaseCpuPercent": _database_percent(run, wall_s),
        "machineIdlePercent": None if run.machine is None else round(100 * run.machine.idle_share, 1),
        **_cost_figures(run),
        # Refunds due on a fixed schedule at half the rate above; latency counted from when due.
        "openLoop": _open_loop_figures(run),
        "auditOk": run.audit_ok,
        # The audit's invariants with their violation counts and example ids.
        "audit": run.audit,
    }


def _percent(cpu_s: float, wall_s: float) -> float:
    return round(100 * cpu_s / wall_s, 1) if wall_s else 0.0


def _database_percent(run: HttpMeasurement, wall_s: float) -> float | None:
    if run.machine is None or run.machine.database_cpu_s is None:
        return None
    return _percent(run.machine.database_cpu_s, wall_s)


# A run whose busiest worker used this many times the CPU of its idlest one measured fewer workers
# than it says: the kernel handed most of the load's keep-alive connections to one of them.
UNEVEN_CPU_FACTOR = 3


def uneven_worker_notes(report: BenchReport) -> list[str]:
    """A warning under each run whose workers did very unequal shares of the work."""
    notes = []
    for mode in report.modes:
        for run in mode.runs:
            cpu = run_figures(run, mode.ceiling.per_s)["serverCpuPercentPerWorker"]
            if len(cpu) > 1 and max(cpu) > UNEVEN_CPU_FACTOR * max(min(cpu), 1):
                shares = "/".join(f"{c:.0f}" for c in cpu)
                notes.append(
                    f"note: {mode.mode} with {run.workers} workers ran unevenly (cpu % {shares}): most "
                    "connections went to one worker, so it measured fewer workers; run it again"
                )
    return notes


def as_json(report: BenchReport) -> dict[str, Any]:
    return {
        "backend": report.backend,
        "concurrency": report.concurrency,
        "ok": report.ok,
        "historyLoadS": None if report.history_load_s is None else round(report.history_load_s, 1),
        "historyRows": report.history_rows,
        "modes": [_mode_json(mode) for mode in report.modes],
    }


def _ceiling_json(ceiling: CeilingResult | None) -> dict[str, Any] | None:
    if ceiling is None:
        return None
    return {
        "transactions": ceiling.transactions,
        "perS": round(ceiling.per_s, 1),
        "refused": ceiling.failures,
    }


def _mode_json(mode: ModeReport) -> dict[str, Any]:
    return {
        "mode": mode.mode,
        "ceiling": _ceiling_json(mode.ceiling),
        "twoPhaseCeiling": _ceiling_json(mode.two_phase_ceiling),
        "runs": [run_figures(run, mode.ceiling.per_s) for run in mode.runs],
    }


def ceiling_lines(report: BenchReport) -> list[str]:
    """Per mode, the bare SQL of one refund in one transaction and in the two-phase write's three."""
    lines = []
    for mode in report.modes:
        two_phase = mode.two_phase_ceiling
        if two_phase is None:
            continue
        share = two_phase.per_s / mode.ceiling.per_s if mode.ceiling.per_s else 0.0
        lines.append(
            f"bare SQL ceiling, {mode.mode}: one transaction {mode.ceiling.per_s:,.0f}/s, "
            f"two-phase (reserve, ledger, record) {two_phase.per_s:,.0f}/s ({share:.2f} of it)"
        )
    return lines


def _cost_columns(figures: dict[str, Any]) -> str:
    per_refund, per_get = figures["cpuMsPerRefund"], figures["cpuMsPerGet"]
    ratio = figures["refundToGetCpuRatio"]
    return (
        f"{'-' if per_refund is None else f'{per_refund:.2f}':>13} "
        f"{'-' if per_get is None else f'{per_get:.2f}':>10} {'-' if ratio is None else f'{ratio:.1f}':>6}"
    )


def _open_loop_columns(open_loop: dict[str, Any] | None) -> str:
    if open_loop is None:
        return f"{'-':>7} {'-':>8} {'-':>8}"
    ms = open_loop["latencyMs"]
    return f"{open_loop['ratePerS']:>7,.0f} {ms['p50']:>8.1f} {ms['p99']:>8.1f}"


def _statuses(figures: dict[str, Any]) -> str:
    text = " ".join(f"{k}:{v}" for k, v in sorted(figures["refundStatuses"].items()))
    if figures["openLoop"] is not None:
        text += " open " + " ".join(f"{k}:{v}" for k, v in sorted(figures["openLoop"]["statuses"].items()))
    return text


def as_text(report: BenchReport) -> str:
    lines = [f"payintents bench: {report.backend}, concurrency {report.concurrency}", ""]
    header = (
        f"{'mode':<7} {'workers':>7} {'stored':>9} {'refunds/s':>10} {'ceiling/s':>10} {'ratio':>6} "
        f"{'p50':>6} {'p95':>6} {'p99':>6} {'max':>7} {'GET p50':>8} {'GET p99':>8} "
        f"{'cpu %/worker':>14} {'db cpu %':>8} {'idle %':>6} {'rss MB/worker':>14} "
        f"{'cpu ms/refund':>13} {'cpu ms/GET':>10} {'x GET':>6} {'open/s':>7} {'open p50':>8} {'open p99':>8}"
        "  statuses"
    )
    lines.append(header)
    for mode in report.modes:
        for run in mode.runs:
            f = run_figures(run, mode.ceiling.per_s)
            ms, get_ms = f["refundLatencyMs"], f["getLatencyMs"]
            cpu = "/".join(f"{c:.0f}" for c in f["serverCpuPercentPerWorker"])
            rss = "/".join(f"{r:.0f}" for r in f["serverPeakRssMbPerWorker"])
            db_cpu = "-" if f["databaseCpuPercent"] is None else f"{f['databaseCpuPercent']:.0f}"
            idle = "-" if f["machineIdlePercent"] is None else f"{f['machineIdlePercent']:.0f}"
            lines.append(
                f"{mode.mode:<7} {run.workers:>7} {run.stored_refunds_before:>9,} "
                f"{f['refundsPerS']:>10,.0f} {f['ceilingPerS']:>10,.0f} {f['ratioToCeiling'] or 0:>6.2f} "
                f"{ms['p50']:>6.1f} {ms['p95']:>6.1f} {ms['p99']:>6.1f} {ms['max']:>7.1f} "
                f"{get_ms['p50']:>8.1f} {get_ms['p99']:>8.1f} {cpu:>14} {db_cpu:>8} {idle:>6} {rss:>14} "
                f"{_cost_columns(f)} {_open_loop_columns(f['openLoop'])}  {_statuses(f)}"
            )
    lines.append("")
    lines += ceiling_lines(report)
    lines += uneven_worker_notes(report)
    if report.history_load_s is not None:
        rows = ", ".join(f"{name} {count:,}" for name, count in report.history_rows.items())
        lines.append(f"history loaded in {report.history_load_s:.1f} s: {rows}")
    audits_ok = all(run.audit_ok for mode in report.modes for run in mode.runs)
    lines.append(
        "audit: 0 violations in every run"
        if audits_ok
        else "audit: VIOLATIONS FOUND (see --json for the invariants and ids)"
    )
    if not report.ok and audits_ok:
        lines.append("FAILED: some requests were not answered 200 (see the statuses)")
    return "\n".join(lines)
