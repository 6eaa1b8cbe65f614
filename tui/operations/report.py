"""The Canary Deployment Report (the seed guide's format), built from the recorded history.

``build_report(record, config)`` gives a JSON-ready dict (numbers as numbers, ``None``
where there is no data); ``render_markdown(report)`` the guide's report as Markdown.

Numbers, over the whole recorded rollout (see record.py):

* response time p50/p95/p99: the quantile of the latency histogram summed over every
  poll (every request counts once), interpolated inside a bucket as Prometheus does;
  when either version has no histogram, the mean of the windowed values instead;
* error rate: errors / requests summed over every poll interval (traffic-weighted);
  when either version has no counts, the mean of the windowed error rates;
* CPU cores, memory bytes, requests/s (in all and per pod) and business metrics: the mean
  of the polled values; the cpu and memory lines say the load per pod they were used at (a
  pod serving less looks cheaper);
* the relative difference: (canary - stable) / stable * 100, ``None`` when either is
  missing or stable is 0 (0 when both are 0); for the error rate also the absolute
  difference in percentage points (the criteria's "stable + 0.5%").

``source`` says which of these was used for each metric.

``stages``: the same counts per stretch at one canary weight (requests, errors, the error
rate, p95), so a fault the whole-rollout figures dilute shows at the weight it came at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tui.durations import format_duration
from tui.formatting import RESULT_MARK, cores, mib, ms, pct
from tui.model import Result, histogram_quantile, utc_iso
from tui.operations.record import LOAD_PER_INSTANCE, RolloutRecord, Stage, VersionTotals, _parse_time

REPORT_FORMAT = "canary-console/report/1"
TITLE = "Canary Deployment Report"

SOURCE_HISTOGRAM = "histogram over the rollout"
SOURCE_COUNTS = "counts over the rollout"
SOURCE_MEAN = "mean of polled values"


def relative_diff(canary: float | None, stable: float | None) -> float | None:
    """(canary - stable) / stable in percent; None without both values or when stable is 0 (unless both are)."""
    if canary is None or stable is None:
        return None
    if stable == 0:
        return 0.0 if canary == 0 else None
    return (canary - stable) / stable * 100.0


def _compare(stable: float | None, canary: float | None, unit: str, source: str | None) -> dict[str, Any]:
    return {
        "stable": stable,
        "canary": canary,
        "diff_pct": relative_diff(canary, stable),
        "unit": unit,
        "source": source if (stable is not None or canary is not None) else None,
    }


def _quantile_metric(record: RolloutRecord, q: float, field: str) -> dict[str, Any]:
    s, c = record.version("stable"), record.version("canary")
    if s.buckets() and c.buckets():
        return _compare(histogram_quantile(s.buckets(), q), histogram_quantile(c.buckets(), q), "ms",
                        SOURCE_HISTOGRAM)
    return _compare(s.mean(field), c.mean(field), "ms", SOURCE_MEAN)


def _error_metric(record: RolloutRecord) -> dict[str, Any]:
    s, c = record.version("stable"), record.version("canary")
    if s.error_rate is not None and c.error_rate is not None:
        out = _compare(s.error_rate, c.error_rate, "ratio", SOURCE_COUNTS)
    else:
        out = _compare(s.mean("error_rate"), c.mean("error_rate"), "ratio", SOURCE_MEAN)
    stable, canary = out["stable"], out["canary"]
    out["diff_pp"] = None if stable is None or canary is None else (canary - stable) * 100.0
    return out


def _mean_metric(record: RolloutRecord, field: str, unit: str) -> dict[str, Any]:
    return _compare(record.version("stable").mean(field), record.version("canary").mean(field), unit,
                    SOURCE_MEAN)


def _business(record: RolloutRecord, config: Any) -> list[dict[str, Any]]:
    specs = list(getattr(getattr(config, "criteria", None), "business", ()) or ())
    names = [str(spec["name"]) for spec in specs]
    minimum = {str(spec["name"]): spec.get("minRatioToStable") for spec in specs}
    s, c = record.version("stable"), record.version("canary")
    names += sorted(n for n in set(s.business) | set(c.business) if n not in names)
    out = []
    for name in names:
        stable = s.business[name].value if name in s.business else None
        canary = c.business[name].value if name in c.business else None
        out.append({
            "name": name,
            "stable": stable,
            "canary": canary,
            "ratio": canary / stable if canary is not None and stable else None,
            "diff_pct": relative_diff(canary, stable),
            "min_ratio": minimum.get(name),
            "source": SOURCE_MEAN if (stable is not None or canary is not None) else None,
        })
    return out


def _stage_version(totals: VersionTotals) -> dict[str, Any]:
    buckets = totals.buckets()
    return {
        "requests": totals.requests,
        "errors": totals.errors,
        "error_rate": totals.error_rate if totals.error_rate is not None else totals.mean("error_rate"),
        "p95_ms": histogram_quantile(buckets, 0.95) if buckets else totals.mean("p95_ms"),
    }


def _stage(stage: Stage) -> dict[str, Any]:
    return {
        "canary_weight": stage.weight,
        "start": utc_iso(stage.since),
        "end": utc_iso(stage.until),
        "duration_s": (stage.until - stage.since).total_seconds(),
        "stable": _stage_version(stage.versions["stable"]),
        "canary": _stage_version(stage.versions["canary"]),
    }


def _decision(record: RolloutRecord) -> dict[str, Any]:
    outcome = record.outcome
    d = record.decision
    if outcome != "in progress" and d is not None:
        return {
            "outcome": outcome,
            "at": utc_iso(_parse_time(d["at"])) if d.get("at") else None,
            "who": d.get("who") or None,
            "from": d.get("from"),
            "to": d.get("to"),
            "reason": d.get("reason") or None,
            "verdict_at_decision": d.get("verdict"),
            "last_verdict": record.last_verdict,
        }
    if d is not None:
        why = (f"the canary was {d['outcome']} ({d.get('reason') or 'no reason given'}), "
               f"then its weight changed again: now {record.weight_final}%")
    elif record.weight_final is not None:
        why = f"neither promoted nor rolled back yet: canary at {record.weight_final}%"
    else:
        why = "neither promoted nor rolled back yet"
    return {"outcome": "in progress", "at": None, "who": None, "from": None, "to": None, "reason": why,
            "verdict_at_decision": None, "last_verdict": record.last_verdict}


def _judged_by(config: Any) -> dict[str, Any] | None:
    """The bounds and the judge's error levels the decision was made with (the config the report is built from)."""
    criteria, judge = getattr(config, "criteria", None), getattr(config, "judge", None)
    if criteria is None or judge is None:
        return None
    judged = {
        "p95_max_ms": criteria.p95_max_ms,
        "p95_max_ratio_to_stable": criteria.p95_max_ratio,
        "error_rate_max": criteria.error_max,
        "error_rate_max_delta_to_stable": criteria.error_max_delta,
        "alpha": judge.alpha,
        "effect_requests": judge.effect_requests,
        "pass_alpha": judge.pass_alpha,
    }
    latency_alpha = getattr(judge, "latency_alpha", None)
    if latency_alpha is not None and latency_alpha != judge.alpha:  # only when set apart from alpha
        judged["latency_alpha"] = latency_alpha
    return judged


def _judged_by_line(j: dict[str, Any]) -> str:
    p95 = f"p95 <= {j['p95_max_ms']:g} ms"
    if j.get("p95_max_ratio_to_stable") is not None:
        p95 += f" and <= {j['p95_max_ratio_to_stable']:.2f}x stable"
    errors = f"error rate <= {pct(j['error_rate_max'])}"
    if j.get("error_rate_max_delta_to_stable") is not None:
        errors += f" and <= stable + {pct(j['error_rate_max_delta_to_stable'])}"
    latency = f", latency tests at alpha {j['latency_alpha']:g}" if j.get("latency_alpha") is not None else ""
    return (f"Judged by: {p95}; {errors}; sequential judge at alpha {j['alpha']:g} (the chance a stretch "
            f"of evidence on a canary within bounds fails it){latency}, PASS at {(1 - j['pass_alpha']) * 100:g}% "
            "confidence")


def build_report(record: RolloutRecord, config: Any, version: str = "canary") -> dict[str, Any]:
    """The report as a dict: ``json.dumps`` it for JSON, ``render_markdown`` it for people."""
    started: datetime | None = record.started
    ended: datetime | None = record.ended
    s, c = record.version("stable"), record.version("canary")
    return {
        "format": REPORT_FORMAT,
        "title": TITLE,
        "rollout": getattr(config, "name", None) or record.rollout or None,
        # Made-up traffic (the demo, a rehearsal) must not pass for a real rollout's numbers.
        "simulated": (getattr(config, "metrics", None) or {}).get("kind") == "demo",
        "version": version,
        "start": utc_iso(started) if started else None,
        "end": utc_iso(ended) if ended else None,
        "duration_s": (ended - started).total_seconds() if started and ended else None,
        "traffic": {
            "initial": record.weight_initial,
            "peak": record.weight_peak,
            "final": record.weight_final,
            "at_start": record.weight_start,
        },
        "metrics": {
            "response_time_p95_ms": _quantile_metric(record, 0.95, "p95_ms"),
            "response_time_p50_ms": _quantile_metric(record, 0.50, "p50_ms"),
            "response_time_p99_ms": _quantile_metric(record, 0.99, "p99_ms"),
            "error_rate": _error_metric(record),
            "cpu_cores": _mean_metric(record, "cpu_cores", "cores"),
            "memory_bytes": _mean_metric(record, "memory_bytes", "bytes"),
            "requests_per_second": _mean_metric(record, "requests_per_second", "1/s"),
            "requests_per_second_per_pod": _mean_metric(record, LOAD_PER_INSTANCE, "1/s"),
        },
        "requests": {
            "stable": {"requests": s.requests, "errors": s.errors},
            "canary": {"requests": c.requests, "errors": c.errors},
        },
        "business": _business(record, config),
        "decision": _decision(record),
        "judged_by": _judged_by(config),
        "polls": {"total": record.polls, "with_metrics": record.samples, "failed": record.failed_polls},
        "verdicts": dict(record.verdicts),
        "check_failures": dict(record.check_failures),
        "refused_actions": record.refused,
        "timeline": [dict(e) for e in record.timeline],
        "timeline_dropped": record.timeline_dropped,
        "stages": [_stage(stage) for stage in record.stages],
        "stages_dropped": record.stages_dropped,
    }


# --- Markdown ------------------------------------------------------------------


def _when(iso: str | None) -> str:
    """2025-09-25T10:00:00Z -> 2025-09-25 10:00:00 UTC"""
    return "n/a" if not iso else iso.replace("T", " ").replace("Z", " UTC")


def _weight(value: int | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _signed(value: float | None) -> str:
    return "" if value is None else f" ({value:+.1f}%)"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cell(text: object) -> str:
    return str(text if text not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


_METRIC_LINES = (
    ("response_time_p95_ms", "Response Time (p95)", ms),
    ("error_rate", "Error Rate", pct),
    ("cpu_cores", "CPU Usage (cores per pod)", lambda v: "n/a" if v is None else f"{cores(v)} cores"),
    ("memory_bytes", "Memory (per pod)", mib),
)

_OUTCOME_MARK = {"promoted": "✅ Promoted", "rolled back": "❌ Rolled back", "in progress": "⏳ In progress"}

_ACTION = {"check": "check failed", "alarm": "alarm", "scale": "canary scaled"}


def _why(entry: dict[str, Any]) -> str:
    """The reason, and the controller's words when they say more than From → To (a route named,
    routes that moved from different weights, a change made outside)."""
    reason, message = entry.get("reason") or "", entry.get("message") or ""
    if entry.get("kind") == "alarm" and message and reason:
        return f"{message} — {reason}"  # the alarm is the news; the reason is what led to it
    if not message or message in reason or message == f"canary {entry.get('from')}% -> {entry.get('to')}%":
        return reason
    return f"{reason} — {message}" if reason else message


def _verdict_line(label: str, verdict: dict[str, Any]) -> str:
    try:
        mark = RESULT_MARK[Result(verdict.get("result"))]
    except ValueError:
        mark = str(verdict.get("result"))
    failing = "; ".join(verdict.get("failing") or [])
    at = verdict.get("at")
    when = f" (judged {_when(utc_iso(_parse_time(at))).replace(' UTC', '')})" if at else ""
    why = failing or verdict.get("alarm") or verdict.get("summary")  # the alarm without the screen's advice
    return f"{label}: {mark}{when}" + (f": {why}" if why else "")


def _errors_cell(v: dict[str, Any]) -> str:
    if not v.get("requests") or v.get("error_rate") is None:
        return "—"
    return f"{pct(v['error_rate'])} ({v.get('errors') or 0:,.0f})"


def _stage_lines(report: dict[str, Any]) -> list[str]:
    stages = report.get("stages") or []
    if not stages:
        return []
    lines = ["## By Canary Weight", "",
             "Each weight the canary held, in order; the judge starts afresh at every change.", ""]
    if report.get("stages_dropped"):
        lines += [f"({report['stages_dropped']} earlier stages were not kept)", ""]
    lines += ["| Canary weight | From (UTC) | For | Canary requests | Canary errors | Stable errors | "
              "Canary p95 | Stable p95 |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for st in stages:
        c, s = st.get("canary") or {}, st.get("stable") or {}
        lines.append(" | ".join([
            f"| {_weight(st.get('canary_weight'))}",
            _cell(_when(st.get("start")).replace(" UTC", "")),
            format_duration(st.get("duration_s") or 0),
            f"{c.get('requests') or 0:,.0f}",
            _errors_cell(c),
            _errors_cell(s),
            ms(c.get("p95_ms")) if c.get("requests") else "—",
            ms(s.get("p95_ms")) if s.get("requests") else "—",
        ]) + " |")
    return lines + [""]


def render_markdown(report: dict[str, Any]) -> str:
    """The guide's Canary Deployment Report in Markdown."""
    lines = [f"# {report.get('title') or TITLE}", ""]
    if report.get("simulated"):
        lines += ["**Simulated traffic** (`metrics.kind: demo`): every number below was made up by the demo's "
                  "simulation, not measured.", ""]
    duration = report.get("duration_s")
    lines += [
        f"- Rollout: {report.get('rollout') or 'n/a'}",
        f"- Version: {report.get('version') or 'n/a'}",
        f"- Start Time: {_when(report.get('start'))}",
        f"- End Time: {_when(report.get('end'))}",
        f"- Duration: {'n/a' if duration is None else format_duration(duration)}",
        "",
    ]
    traffic = report.get("traffic") or {}
    decision = report.get("decision") or {}
    outcome = decision.get("outcome") or "in progress"
    lines += [
        "## Traffic Distribution",
        "",
        f"- Initial: {_weight(traffic.get('initial'))}",
        f"- Peak: {_weight(traffic.get('peak'))}",
        f"- Final: {_weight(traffic.get('final'))} ({outcome})",
        "",
        "## Metrics Comparison",
        "",
        "Over the whole recorded rollout; the difference is canary relative to stable.",
        "",
    ]
    metrics = report.get("metrics") or {}
    load = metrics.get("requests_per_second_per_pod") or {}
    for key, label, fmt in _METRIC_LINES:
        m = metrics.get(key) or {}
        line = f"- {label}: Stable: {fmt(m.get('stable'))}, Canary: {fmt(m.get('canary'))}{_signed(m.get('diff_pct'))}"
        if key == "error_rate" and m.get("diff_pp") is not None:
            line += f", {m['diff_pp']:+.2f} pp"
        if key in ("cpu_cores", "memory_bytes") and load.get("stable") is not None and load.get("canary") is not None:
            line += f", at {load['stable']:.3g} vs {load['canary']:.3g} req/s per pod"
        lines.append(line)
    requests = report.get("requests") or {}
    totals = [f"{role.capitalize()}: {(requests.get(role) or {}).get('requests') or 0:,.0f}"
              for role in ("stable", "canary")]
    lines += [f"- Requests: {', '.join(totals)}", ""]
    lines += _stage_lines(report)
    business = report.get("business") or []
    lines += ["## Business Impact", ""]
    if business:
        for b in business:
            floor = f"; floor {b['min_ratio']:.2f}x stable" if b.get("min_ratio") is not None else ""
            lines.append(f"- {b['name']}: Stable: {_number(b.get('stable'))}, Canary: {_number(b.get('canary'))}"
                         f"{_signed(b.get('diff_pct'))}{floor}")
    else:
        lines.append("- no business metrics configured")
    lines += ["", "## Decision", ""]
    mark = _OUTCOME_MARK.get(outcome, outcome)
    if outcome == "in progress":
        lines.append(f"{mark}: {decision.get('reason') or ''}".rstrip(": "))
    else:
        by = f" by {decision['who']}" if decision.get("who") else ""
        at = f" at {_when(decision.get('at'))}" if decision.get("at") else ""
        lines.append(f"{mark} ({_weight(decision.get('from'))} → {_weight(decision.get('to'))}){by}{at}")
        lines.append("")
        lines.append(f"Reason: {decision.get('reason') or 'none given'}")
    # A decided rollout: what the checks said when it was decided (after a rollback the last
    # verdict is only "no canary requests"). One in progress: what they say last.
    if outcome != "in progress" and decision.get("verdict_at_decision"):
        lines += ["", _verdict_line("Checks when decided", decision["verdict_at_decision"])]
    elif outcome == "in progress" and decision.get("last_verdict"):
        lines += ["", _verdict_line("Last verdict", decision["last_verdict"])]
    if report.get("judged_by"):
        lines += ["", _judged_by_line(report["judged_by"])]
    lines += ["", "## Timeline", ""]
    timeline = report.get("timeline") or []
    dropped = report.get("timeline_dropped") or 0
    if dropped:
        lines += [f"({dropped} earlier entries were not kept)", ""]
    if timeline:
        lines += ["| Time (UTC) | Who | Action | From → To | Reason |", "| --- | --- | --- | --- | --- |"]
        for e in timeline:
            change = "—" if e.get("to") is None else f"{_weight(e.get('from'))} → {_weight(e.get('to'))}"
            lines.append(f"| {_cell(_when(e.get('at')).replace(' UTC', ''))} | {_cell(e.get('who'))} | "
                         f"{_cell(_ACTION.get(e.get('kind'), e.get('kind')))} | {change} | {_cell(_why(e))} |")
    else:
        lines.append("No weight changes or check failures recorded.")
    return "\n".join(lines) + "\n"
