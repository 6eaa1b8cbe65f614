"""The Canary Deployment Report, field by field, from a recorded history with known numbers."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from tui.config import from_mapping
from tui.model import Check, Destination, Event, MetricsSnapshot, Result, Route, TrafficSplit, Verdict, VersionSample
from tui.operations.record import RolloutRecord
from tui.operations.report import build_report, relative_diff, render_markdown

T0 = datetime(2027, 1, 15, 8, 0, 0, tzinfo=timezone.utc)
INF = math.inf
MiB = 2**20

# Stable: 90% of requests <= 250 ms, all <= 500 ms: p95 = 250 + 250 * 0.5 = 375 ms.
STABLE_H = ((100, 500), (250, 900), (500, 1000), (1000, 1000), (INF, 1000))
# Canary: 80% <= 250 ms, all <= 500 ms: p95 = 250 + 250 * 15/20 = 437.5 ms. (Per 100 requests.)
CANARY_H = ((100, 40), (250, 80), (500, 100), (1000, 100), (INF, 100))


def config():
    return from_mapping({
        "name": "x0tta6bl4-app",
        "metrics": {"business": [{"name": "conversion", "query": "q", "minRatioToStable": 0.98}]},
    })


def split(canary: int) -> TrafficSplit:
    return TrafficSplit(routes=(Route(0, None, (), (
        Destination("s", "stable", 100 - canary, "stable"),
        Destination("c", "canary", canary, "canary"),
    ), driven=True),))


def scale(h, k):
    return tuple((b, c * k) for b, c in h)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind, t, frm=None, to=None, reason="", who="sre@bridge", ok=True, message=""):
    return Event(at=at(t), kind=kind, message=message or f"canary {frm}% -> {to}%", who=who,
                 from_canary=frm, to_canary=to, reason=reason, ok=ok)


def recorded_rollback() -> RolloutRecord:
    """Two polls of metrics with known numbers, weights 0 -> 5 -> 10 -> 25 -> 0, a failed check, a rollback."""
    r = RolloutRecord("x0tta6bl4-app")
    r.on_poll(at(0), split(0), None, None)
    r.on_event(ev("set-weight", 5, 0, 5, reason="start the canary"))
    stable1 = VersionSample(requests=1000, errors=10, histogram=STABLE_H, p95_ms=380, error_rate=0.01,
                            cpu_cores=0.5, memory_bytes=100 * MiB, requests_per_second=100,
                            business={"conversion": 0.05})
    canary1 = VersionSample(requests=100, errors=1, histogram=CANARY_H, p95_ms=400, error_rate=0.01,
                            cpu_cores=0.6, memory_bytes=120 * MiB, requests_per_second=10,
                            business={"conversion": 0.04})
    ok = Check("error rate", "error_rate", 0.01, 0.01, "<= 1.00%", Result.PASS)
    r.on_poll(at(10), split(5), MetricsSnapshot(at(10), stable1, canary1, 10.0), Verdict.combine((ok,), at(10)))
    r.on_event(ev("auto-step", 20, 5, 10, reason="auto: step 1 baked", who="automation"))
    r.on_event(ev("auto-step", 30, 10, 25, reason="auto: step 2 baked", who="automation"))
    stable2 = VersionSample(requests=1000, errors=20, histogram=STABLE_H, p95_ms=390, error_rate=0.02,
                            cpu_cores=0.7, memory_bytes=100 * MiB, requests_per_second=100,
                            business={"conversion": 0.05})
    canary2 = VersionSample(requests=300, errors=9, histogram=scale(CANARY_H, 3), p95_ms=460, error_rate=0.03,
                            cpu_cores=0.9, memory_bytes=120 * MiB, requests_per_second=30,
                            business={"conversion": 0.04})
    bad = Check("error rate vs stable", "error_rate", 0.03, 0.02, "<= stable + 0.50%", Result.FAIL,
                "canary - stable = 1.00%")
    # A poll at 25% before the one with its counts: counts go to the weight their interval began at.
    r.on_poll(at(32), split(25), MetricsSnapshot(at(32), VersionSample(), VersionSample(), 10.0), None)
    r.on_poll(at(40), split(25), MetricsSnapshot(at(40), stable2, canary2, 10.0), Verdict.combine((bad,), at(40)))
    r.on_event(ev("check", 40, who="", ok=False, message="check failed: error rate vs stable: canary - stable = 1.00%"))
    reason = "auto-rollback: error rate vs stable: canary - stable = 1.00%"
    r.on_event(ev("rollback", 41, 25, 0, reason=reason, who="automation"))
    r.on_event(ev("rollback", 41, None, None, reason=reason, who="automation", message="canary scaled to 0 replicas"))
    r.on_poll(at(50), split(0), None, None)
    return r


def test_header_times_and_traffic():
    rep = build_report(recorded_rollback(), config(), version="v2.1.0")
    assert rep["title"] == "Canary Deployment Report"
    assert rep["rollout"] == "x0tta6bl4-app"
    assert rep["version"] == "v2.1.0"
    assert rep["start"] == "2027-01-15T08:00:00Z"
    assert rep["end"] == "2027-01-15T08:00:50Z"
    assert rep["duration_s"] == 50.0
    assert rep["traffic"] == {"initial": 5, "peak": 25, "final": 0, "at_start": 0}


def test_version_defaults_to_canary():
    assert build_report(recorded_rollback(), config())["version"] == "canary"


def test_response_time_from_the_summed_histograms():
    m = build_report(recorded_rollback(), config())["metrics"]["response_time_p95_ms"]
    assert m["stable"] == pytest.approx(375.0)
    assert m["canary"] == pytest.approx(437.5)
    assert m["diff_pct"] == pytest.approx((437.5 - 375.0) / 375.0 * 100)  # +16.67%
    assert m["unit"] == "ms" and m["source"] == "histogram over the rollout"
    p50 = build_report(recorded_rollback(), config())["metrics"]["response_time_p50_ms"]
    assert p50["stable"] == pytest.approx(100.0)  # exactly 50% at the 100 ms bound
    assert p50["canary"] == pytest.approx(100 + 150 * (50 - 40) / 40)  # 137.5


def test_error_rate_from_counts_weighted_by_traffic():
    m = build_report(recorded_rollback(), config())["metrics"]["error_rate"]
    assert m["stable"] == pytest.approx(30 / 2000)  # 1.5%
    assert m["canary"] == pytest.approx(10 / 400)  # 2.5%, not the mean of 1% and 3%
    assert m["diff_pct"] == pytest.approx((0.025 - 0.015) / 0.015 * 100)  # +66.7%
    assert m["diff_pp"] == pytest.approx(1.0)
    assert m["source"] == "counts over the rollout"


def test_cpu_memory_and_rps_are_means_of_the_polls():
    m = build_report(recorded_rollback(), config())["metrics"]
    assert m["cpu_cores"]["stable"] == pytest.approx(0.6)
    assert m["cpu_cores"]["canary"] == pytest.approx(0.75)
    assert m["cpu_cores"]["diff_pct"] == pytest.approx(25.0)
    assert m["memory_bytes"]["stable"] == pytest.approx(100 * MiB)
    assert m["memory_bytes"]["canary"] == pytest.approx(120 * MiB)
    assert m["memory_bytes"]["diff_pct"] == pytest.approx(20.0)
    assert m["requests_per_second"]["canary"] == pytest.approx(20.0)
    rep = build_report(recorded_rollback(), config())
    assert rep["requests"] == {"stable": {"requests": 2000, "errors": 30}, "canary": {"requests": 400, "errors": 10}}


def test_business_metrics_canary_vs_stable():
    (b,) = build_report(recorded_rollback(), config())["business"]
    assert b["name"] == "conversion"
    assert b["stable"] == pytest.approx(0.05) and b["canary"] == pytest.approx(0.04)
    assert b["ratio"] == pytest.approx(0.8)
    assert b["diff_pct"] == pytest.approx(-20.0)
    assert b["min_ratio"] == 0.98


def test_decision_rolled_back_with_the_reason_of_the_rollback():
    d = build_report(recorded_rollback(), config())["decision"]
    assert d["outcome"] == "rolled back"
    assert d["reason"] == "auto-rollback: error rate vs stable: canary - stable = 1.00%"
    assert d["who"] == "automation"
    assert d["at"] == "2027-01-15T08:00:41Z"
    assert (d["from"], d["to"]) == (25, 0)
    assert d["last_verdict"]["result"] == "fail"


def test_decision_promoted_and_in_progress():
    r = RolloutRecord("x0tta6bl4-app")
    assert build_report(r, config())["decision"]["outcome"] == "in progress"
    r.on_event(ev("set-weight", 0, 0, 50, reason="go"))
    d = build_report(r, config())["decision"]
    assert d["outcome"] == "in progress" and "canary at 50%" in d["reason"]
    r.on_event(ev("promote", 60, 50, 100, reason="every check passed for 2h"))
    d = build_report(r, config())["decision"]
    assert (d["outcome"], d["reason"], d["to"]) == ("promoted", "every check passed for 2h", 100)
    assert build_report(r, config())["traffic"]["final"] == 100


def test_timeline_entries():
    tl = build_report(recorded_rollback(), config())["timeline"]
    rows = [(e["at"], e["who"], e["kind"], e["from"], e["to"], e["reason"]) for e in tl]
    assert rows == [
        ("2027-01-15T08:00:05Z", "sre@bridge", "set-weight", 0, 5, "start the canary"),
        ("2027-01-15T08:00:20Z", "automation", "auto-step", 5, 10, "auto: step 1 baked"),
        ("2027-01-15T08:00:30Z", "automation", "auto-step", 10, 25, "auto: step 2 baked"),
        ("2027-01-15T08:00:40Z", "", "check", None, None,
         "check failed: error rate vs stable: canary - stable = 1.00%"),
        ("2027-01-15T08:00:41Z", "automation", "rollback", 25, 0,
         "auto-rollback: error rate vs stable: canary - stable = 1.00%"),
    ]


def test_json_has_numbers_where_numbers_and_null_where_no_data():
    rep = build_report(recorded_rollback(), config())
    back = json.loads(json.dumps(rep, allow_nan=False))
    assert back == rep
    assert isinstance(back["metrics"]["error_rate"]["canary"], float)
    assert isinstance(back["traffic"]["peak"], int)
    empty = json.loads(json.dumps(build_report(RolloutRecord("x"), config()), allow_nan=False))
    assert empty["start"] is None and empty["end"] is None and empty["duration_s"] is None
    assert empty["traffic"] == {"initial": None, "peak": None, "final": None, "at_start": None}
    for metric in empty["metrics"].values():
        assert metric["stable"] is None and metric["canary"] is None and metric["diff_pct"] is None
    assert empty["business"][0]["canary"] is None and empty["business"][0]["ratio"] is None
    assert empty["timeline"] == []
    assert empty["judged_by"] == {"p95_max_ms": 500, "p95_max_ratio_to_stable": 1.10, "error_rate_max": 0.01,
                                  "error_rate_max_delta_to_stable": 0.005, "alpha": 0.01, "effect_requests": 500,
                                  "pass_alpha": 0.05}


def test_windowed_means_when_there_are_no_counts_or_histograms():
    r = RolloutRecord("app")
    s = VersionSample(p95_ms=200, error_rate=0.01)
    c = VersionSample(p95_ms=300, error_rate=0.02)
    r.on_poll(at(0), None, MetricsSnapshot(at(0), s, c, 10.0), None)
    m = build_report(r, config())["metrics"]
    assert m["response_time_p95_ms"]["source"] == "mean of polled values"
    assert m["response_time_p95_ms"]["diff_pct"] == pytest.approx(50.0)
    assert m["error_rate"]["source"] == "mean of polled values"
    assert m["error_rate"]["diff_pct"] == pytest.approx(100.0)


def test_relative_diff_edges():
    assert relative_diff(420, 450) == pytest.approx(-6.666666, rel=1e-5)  # the guide's -6.7%
    assert relative_diff(0.006, 0.008) == pytest.approx(-25.0)
    assert relative_diff(None, 1) is None and relative_diff(1, None) is None
    assert relative_diff(0.0, 0.0) == 0.0
    assert relative_diff(0.01, 0.0) is None  # no finite ratio to stable 0


def test_markdown_follows_the_guide():
    text = render_markdown(build_report(recorded_rollback(), config(), version="v2.1.0"))
    assert text.startswith("# Canary Deployment Report\n")
    for line in (
        "- Rollout: x0tta6bl4-app",
        "- Version: v2.1.0",
        "- Start Time: 2027-01-15 08:00:00 UTC",
        "- End Time: 2027-01-15 08:00:50 UTC",
        "- Duration: 50s",
        "- Initial: 5%",
        "- Peak: 25%",
        "- Final: 0% (rolled back)",
        "- Response Time (p95): Stable: 375 ms, Canary: 438 ms (+16.7%)",
        "- Error Rate: Stable: 1.50%, Canary: 2.50% (+66.7%), +1.00 pp",
        "- CPU Usage (cores per pod): Stable: 0.600 cores, Canary: 0.750 cores (+25.0%)",
        "- Memory (per pod): Stable: 100 MiB, Canary: 120 MiB (+20.0%)",
        "- Requests: Stable: 2,000, Canary: 400",
        "- conversion: Stable: 0.05, Canary: 0.04 (-20.0%); floor 0.98x stable",
        "❌ Rolled back (25% → 0%) by automation at 2027-01-15 08:00:41 UTC",
        "Reason: auto-rollback: error rate vs stable: canary - stable = 1.00%",
        "Judged by: p95 <= 500 ms and <= 1.10x stable; error rate <= 1.00% and <= stable + 0.50%; sequential "
        "judge at alpha 0.01 (the chance a stretch of evidence on a canary within bounds fails it), PASS at 95% "
        "confidence",
        "| Time (UTC) | Who | Action | From → To | Reason |",
        "| 2027-01-15 08:00:05 | sre@bridge | set-weight | 0% → 5% | start the canary |",
        "| 2027-01-15 08:00:30 | automation | auto-step | 10% → 25% | auto: step 2 baked |",
        "| 2027-01-15 08:00:40 | — | check failed | — | check failed: error rate vs stable: canary - stable = 1.00% |",
        "| 2027-01-15 08:00:41 | automation | rollback | 25% → 0% | "
        "auto-rollback: error rate vs stable: canary - stable = 1.00% |",
    ):
        assert line in text.splitlines(), line


def test_markdown_without_data_says_so_and_escapes_table_cells():
    r = RolloutRecord("app")
    r.on_event(ev("set-weight", 0, 0, 5, reason="a | b\nc"))
    text = render_markdown(build_report(r, config()))
    assert "- Response Time (p95): Stable: n/a, Canary: n/a" in text
    assert "| 2027-01-15 08:00:00 | sre@bridge | set-weight | 0% → 5% | a \\| b c |" in text
    assert "⏳ In progress: neither promoted nor rolled back yet: canary at 5%" in text
    empty = render_markdown(build_report(RolloutRecord("app"), config()))
    assert "No weight changes or check failures recorded." in empty
    assert "- Start Time: n/a" in empty


def test_markdown_notes_dropped_timeline_entries():
    r = RolloutRecord("app", timeline_capacity=2)
    for i in range(5):
        r.on_event(ev("step", i, i, i + 1))
    text = render_markdown(build_report(r, config()))
    assert "(3 earlier entries were not kept)" in text


def test_judged_by_names_a_latency_alpha_set_apart():
    cfg = from_mapping({"name": "app", "judge": {"alpha": 0.0125, "latencyAlpha": 0.002}})
    rep = build_report(RolloutRecord("app"), cfg)
    assert rep["judged_by"]["alpha"] == 0.0125 and rep["judged_by"]["latency_alpha"] == 0.002
    assert "sequential judge at alpha 0.0125 (the chance a stretch of evidence on a canary within bounds fails it), " \
           "latency tests at alpha 0.002, PASS at 95% confidence" in render_markdown(rep)
    same = build_report(RolloutRecord("app"), from_mapping({"name": "app", "judge": {"latencyAlpha": 0.01}}))
    assert "latency_alpha" not in same["judged_by"]  # equal to alpha: nothing to tell apart


def test_cpu_and_memory_say_the_load_per_pod_they_were_used_at():
    # A canary pod serving a fifth of a stable pod's requests uses less cpu: the line says so.
    r = RolloutRecord("x0tta6bl4-app")
    for i, (stable_pods, canary_pods) in enumerate([(5, 1), (4, 1)]):
        stable = VersionSample(requests=1900, errors=0, cpu_cores=0.13, memory_bytes=330 * MiB,
                               requests_per_second=95, instances=stable_pods)
        canary = VersionSample(requests=100, errors=0, cpu_cores=0.07, memory_bytes=310 * MiB,
                               requests_per_second=5, instances=canary_pods)
        r.on_poll(at(10 * (i + 1)), split(5), MetricsSnapshot(at(10 * (i + 1)), stable, canary, 10.0), None)
    rep = build_report(r, config())
    load = rep["metrics"]["requests_per_second_per_pod"]
    assert load["stable"] == pytest.approx((19 + 23.75) / 2) and load["canary"] == pytest.approx(5.0)
    text = render_markdown(rep)
    assert "- CPU Usage (cores per pod): Stable: 0.130 cores, Canary: 0.070 cores (-46.2%), at 21.4 vs 5 req/s per pod" \
        in text.splitlines()
    assert "- Memory (per pod): Stable: 330 MiB, Canary: 310 MiB (-6.1%), at 21.4 vs 5 req/s per pod" in text.splitlines()
    # Without instance counts (an istio preset without an `instances` query) nothing is claimed.
    assert "req/s per pod" not in render_markdown(build_report(recorded_rollback(), config()))


def test_each_weight_held_is_its_own_stage_so_a_fault_is_not_diluted_by_the_whole_rollout():
    stages = build_report(recorded_rollback(), config())["stages"]
    assert [(s["canary_weight"], s["start"], s["duration_s"]) for s in stages] == [
        (0, "2027-01-15T08:00:00Z", 5.0),
        (5, "2027-01-15T08:00:05Z", 15.0),
        (10, "2027-01-15T08:00:20Z", 10.0),
        (25, "2027-01-15T08:00:30Z", 11.0),
        (0, "2027-01-15T08:00:41Z", 9.0),
    ]
    at_25 = stages[3]
    assert at_25["canary"]["requests"] == 300 and at_25["canary"]["errors"] == 9
    assert at_25["canary"]["error_rate"] == pytest.approx(0.03)  # the rollout as a whole: 2.50%
    assert at_25["stable"]["error_rate"] == pytest.approx(0.02)
    assert at_25["canary"]["p95_ms"] == pytest.approx(437.5)
    assert at_25["stable"]["p95_ms"] == pytest.approx(375.0)
    assert stages[2]["canary"]["requests"] == 0 and stages[2]["canary"]["error_rate"] is None
    text = render_markdown(build_report(recorded_rollback(), config())).splitlines()
    assert "## By Canary Weight" in text
    assert "| 25% | 2027-01-15 08:00:30 | 11s | 300 | 3.00% (9) | 2.00% (20) | 438 ms | 375 ms |" in text
    assert "| 10% | 2027-01-15 08:00:20 | 10s | 0 | — | — | — | — |" in text
    assert text.index("## By Canary Weight") < text.index("## Decision")


def test_the_decision_shows_the_checks_it_was_made_on_not_the_idle_canarys_after_it():
    r = recorded_rollback()
    idle = Check("error rate", "error_rate", None, 0.01, "<= 1.00%", Result.NODATA,
                 "no canary requests yet (canary 0%)")
    r.on_poll(at(60), split(0), None, Verdict.combine((idle,), at(60)))
    rep = build_report(r, config())
    assert rep["decision"]["last_verdict"]["result"] == "nodata"
    assert rep["decision"]["verdict_at_decision"]["result"] == "fail"
    text = render_markdown(rep).splitlines()
    assert ("Checks when decided: ✗ FAIL (judged 2027-01-15 08:00:40): error rate vs stable: canary - stable "
            "= 1.00%") in text
    assert not any(line.startswith("Last verdict") for line in text)
    # A rollout still going shows its last verdict instead.
    going = RolloutRecord("app")
    going.on_poll(at(0), split(5), None, Verdict.combine((idle,), at(0)))
    text = render_markdown(build_report(going, config())).splitlines()
    assert any(line.startswith("Last verdict: ? UNDECIDED (judged 2027-01-15 08:00:00)") for line in text)


def test_stages_survive_a_save_and_load(tmp_path):
    r = recorded_rollback()
    r.save(tmp_path / "h.json")
    back = RolloutRecord.load(tmp_path / "h.json")
    assert build_report(back, config())["stages"] == build_report(r, config())["stages"]
    assert build_report(back, config())["decision"] == build_report(r, config())["decision"]
    # A history written before stages were kept still loads, with none.
    old = r.to_dict()
    del old["stages"], old["stages_dropped"], old["stages_capacity"]
    assert RolloutRecord.from_dict(old).stages == type(r.stages)()


def test_a_decision_on_an_alarm_names_the_alarm_not_the_screens_advice():
    r = RolloutRecord("app")
    r.on_event(ev("set-weight", 0, 0, 5, reason="go"))
    alarm = "the canary served nothing for 10s while routed 5% (50 requests expected): down"
    quiet = Check("error rate", "error_rate", None, 0.005, "<= 1.00%", Result.NODATA,
                  "served nothing for 10s while routed 5%")
    verdict = Verdict(Result.NODATA, (quiet,), f"{alarm}; roll back (r) unless only its metrics are missing",
                      at(10), alarm=alarm, silent="canary")
    r.on_poll(at(10), split(5), None, verdict)
    r.on_event(ev("rollback", 11, 5, 0, reason=f"auto-rollback: {alarm}", who="automation"))
    text = render_markdown(build_report(r, config())).splitlines()
    assert f"Checks when decided: ? UNDECIDED (judged 2027-01-15 08:00:10): {alarm}" in text


def test_a_report_on_simulated_traffic_says_so_before_any_number():
    """A demo's or a rehearsal's report read like a real rollout's: made-up numbers, unmarked."""
    demo = build_report(recorded_rollback(), config())
    assert demo["simulated"] is True
    text = render_markdown(demo)
    assert text.index("**Simulated traffic**") < text.index("- Rollout:"), text
    real = build_report(recorded_rollback(), from_mapping({
        "name": "x0tta6bl4-app", "metrics": {"kind": "prometheus", "url": "http://prometheus:9090"}}))
    assert real["simulated"] is False and "Simulated" not in render_markdown(real)


def test_an_alarm_in_the_timeline_reads_alarm_first():
    """After a rollback, the header route's alarm came after the rollback's whole reason in its
    row: 'auto-rollback: error rate ... — route canary-header ... fail'. The alarm is the news."""
    from tests.conftest import make_demo_controller

    controller, _ = make_demo_controller()
    r = RolloutRecord(controller.config.name)
    controller.subscribe(r.on_event)
    try:
        assert controller.rollback("5xx on /pay").ok
    finally:
        controller.close()
    rows = [line for line in render_markdown(build_report(r, config())).splitlines() if "| alarm |" in line]
    assert len(rows) == 1
    assert rows[0].split(" | ")[-1].startswith('route canary-header (headers x-canary exact "true"; not driven) '
                                               "still sends requests to the canary"), rows[0]
    assert rows[0].endswith(" — 5xx on /pay |"), rows[0]
