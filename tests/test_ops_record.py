"""RolloutRecord: running sums in constant memory, the weights, the timeline, save/load."""

from __future__ import annotations

import json
import math
import os
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import make_demo_controller
from tui.model import (
    Check,
    Destination,
    Event,
    MetricsSnapshot,
    Result,
    Route,
    TrafficSplit,
    Verdict,
    VersionSample,
)
from tui.operations.record import FORMAT, RolloutRecord

T0 = datetime(2027, 1, 15, 8, 0, 0, tzinfo=timezone.utc)
INF = math.inf


def split(canary: int) -> TrafficSplit:
    route = Route(0, None, (), (
        Destination("app-stable", "stable", 100 - canary, "stable"),
        Destination("app-canary", "canary", canary, "canary"),
    ), driven=True)
    return TrafficSplit(routes=(route,))


def hist(*pairs: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    return tuple(pairs)


def sample(requests=100.0, errors=1.0, histogram=(), **kw) -> VersionSample:
    return VersionSample(requests=requests, errors=errors, histogram=histogram, **kw)


def snap(at: datetime, stable: VersionSample, canary: VersionSample, error: str | None = None) -> MetricsSnapshot:
    return MetricsSnapshot(at=at, stable=stable, canary=canary, interval_s=10.0, error=error)


def event(kind: str, at: datetime, frm=None, to=None, reason="", who="sre@bridge", ok=True, message=""):
    return Event(at=at, kind=kind, message=message or f"{kind} {frm} -> {to}", who=who,
                 from_canary=frm, to_canary=to, reason=reason, ok=ok)


def test_sums_counts_and_histograms_over_polls():
    r = RolloutRecord("app")
    h1 = hist((100, 50), (500, 90), (INF, 100))
    r.on_poll(T0, split(5), snap(T0, sample(1000, 10, h1), sample(100, 1, h1)), None)
    r.on_poll(T0 + timedelta(seconds=10), split(5),
              snap(T0 + timedelta(seconds=10), sample(1000, 20, h1), sample(300, 9, h1)), None)
    s, c = r.version("stable"), r.version("canary")
    assert (s.requests, s.errors) == (2000, 30)
    assert (c.requests, c.errors) == (400, 10)
    assert c.error_rate == pytest.approx(10 / 400)
    assert s.buckets() == ((100, 100), (500, 180), (INF, 200))
    assert r.samples == 2 and r.polls == 2
    assert r.first_poll == T0 and r.last_poll == T0 + timedelta(seconds=10)


def test_running_means_of_windowed_values_and_business():
    r = RolloutRecord("app")
    for i, (p95, cpu, conv) in enumerate([(100.0, 0.5, 0.05), (300.0, 0.7, 0.03)]):
        at = T0 + timedelta(seconds=10 * i)
        v = VersionSample(p95_ms=p95, cpu_cores=cpu, memory_bytes=1e8, business={"conversion": conv})
        r.on_poll(at, split(10), snap(at, v, v), None)
    c = r.version("canary")
    assert c.mean("p95_ms") == pytest.approx(200.0)
    assert c.mean("cpu_cores") == pytest.approx(0.6)
    assert c.means["p95_ms"].min == 100.0 and c.means["p95_ms"].max == 300.0
    assert c.business["conversion"].value == pytest.approx(0.04)
    assert c.mean("error_rate") is None  # never seen: no data, not 0


def test_histograms_with_different_bounds_are_merged_by_bound():
    r = RolloutRecord("app")
    r.on_poll(T0, None, snap(T0, sample(histogram=hist((100, 10), (INF, 20))),
                             sample(histogram=hist((100, 10), (INF, 20)))), None)
    at = T0 + timedelta(seconds=10)
    r.on_poll(at, None, snap(at, sample(histogram=hist((50, 4), (100, 6), (INF, 10))),
                             sample(histogram=())), None)
    # At 50 the first histogram has nothing known below 50 (0), the second 4.
    assert r.version("stable").buckets() == ((50, 4), (100, 16), (INF, 30))
    assert r.version("canary").buckets() == ((100, 10), (INF, 20))


def test_the_same_snapshot_is_summed_once_and_failed_polls_are_counted():
    r = RolloutRecord("app")
    s = snap(T0, sample(100, 1), sample(10, 1))
    r.on_poll(T0, split(5), s, None)
    r.on_poll(T0 + timedelta(seconds=10), split(5), s, None)  # the console still shows the last good one
    r.on_poll(T0 + timedelta(seconds=20), None, None, None)
    r.on_poll(T0 + timedelta(seconds=30), None, snap(T0, sample(), sample(), error="timeout"), None)
    assert r.version("stable").requests == 100
    assert (r.polls, r.samples, r.failed_polls) == (4, 1, 2)
    assert r.last_poll == T0 + timedelta(seconds=30)


def test_weights_initial_peak_final_from_polls_and_events():
    r = RolloutRecord("app")
    r.on_poll(T0, split(0), None, None)  # canary deployed, no traffic yet
    r.on_event(event("set-weight", T0 + timedelta(seconds=5), 0, 5))
    r.on_poll(T0 + timedelta(seconds=10), split(5), None, None)
    r.on_event(event("auto-step", T0 + timedelta(seconds=20), 5, 30, who="automation"))
    r.on_event(event("rollback", T0 + timedelta(seconds=30), 30, 0, reason="errors"))
    r.on_poll(T0 + timedelta(seconds=40), split(0), None, None)
    assert (r.weight_start, r.weight_initial, r.weight_peak, r.weight_final) == (0, 5, 30, 0)


def test_weight_from_the_first_event_before_any_poll():
    r = RolloutRecord("app")
    r.on_event(event("step", T0, 10, 15))
    assert (r.weight_start, r.weight_initial, r.weight_peak, r.weight_final) == (10, 10, 15, 15)


def test_timeline_has_weight_changes_and_check_failures_only():
    r = RolloutRecord("app")
    r.on_event(event("set-weight", T0, 0, 5, reason="start"))
    r.on_event(event("info", T0, message="poll recovered"))
    r.on_event(event("auto", T0, message="automatic progression on"))
    r.on_event(event("check", T0 + timedelta(seconds=1), who="", ok=False,
                     message="check failed: error rate: canary 5.00% > 1.00%"))
    r.on_event(event("step", T0, 5, 10, ok=False, message="step refused: read-only"))
    r.on_event(event("rollback", T0 + timedelta(seconds=2), 5, 0, reason="bad"))
    r.on_event(event("rollback", T0 + timedelta(seconds=2), None, None, reason="bad",
                     message="canary scaled to 0 replicas"))
    kinds = [e["kind"] for e in r.timeline]
    assert kinds == ["set-weight", "check", "rollback"]
    check = r.timeline[1]
    assert check["reason"] == "check failed: error rate: canary 5.00% > 1.00%"
    assert check["at"] == "2027-01-15T08:00:01Z"
    assert r.refused == 1
    assert r.outcome == "rolled back" and r.decision["reason"] == "bad"


def test_decision_is_the_last_promote_or_rollback_and_a_later_change_reopens_it():
    r = RolloutRecord("app")
    assert r.outcome == "in progress"
    r.on_event(event("promote", T0, 50, 100, reason="all green"))
    assert r.outcome == "promoted"
    r.on_event(event("set-weight", T0 + timedelta(seconds=5), 100, 20, reason="again"))
    assert r.outcome == "in progress"
    r.on_event(event("rollback", T0 + timedelta(seconds=9), 20, 0, reason="no"))
    assert r.outcome == "rolled back" and r.decision["reason"] == "no"
    r.on_event(event("promote", T0 + timedelta(seconds=10), 0, 100, ok=False, message="promote refused: x"))
    assert r.outcome == "rolled back"  # a refused promote decides nothing


def test_timeline_is_capped_oldest_dropped_and_counted():
    r = RolloutRecord("app", timeline_capacity=10)
    for i in range(25):
        r.on_event(event("set-weight", T0 + timedelta(seconds=i), i, i + 1))
    assert len(r.timeline) == 10
    assert r.timeline_dropped == 15
    assert [e["to"] for e in r.timeline] == list(range(16, 26))
    d = RolloutRecord.from_dict(json.loads(json.dumps(r.to_dict())))
    assert len(d.timeline) == 10 and d.timeline.maxlen == 10 and d.timeline_dropped == 15


def test_default_timeline_capacity_is_5000():
    r = RolloutRecord("app")
    for i in range(6000):
        r.on_event(event("step", T0 + timedelta(seconds=i), i % 100, (i + 1) % 100))
    assert len(r.timeline) == 5000 and r.timeline_dropped == 1000


def test_memory_is_constant_however_long_the_rollout():
    r = RolloutRecord("app", timeline_capacity=100)
    h = hist((100, 50), (250, 80), (500, 95), (1000, 99), (INF, 100))

    def feed(n: int, start: int) -> None:
        for i in range(start, start + n):
            at = T0 + timedelta(seconds=10 * i)
            v = VersionSample(requests_per_second=10, error_rate=0.01, p50_ms=80, p95_ms=400, p99_ms=900,
                              cpu_cores=0.5, memory_bytes=1e8, requests=100, errors=1, histogram=h,
                              business={"conversion": 0.05})
            r.on_poll(at, split(i % 50), snap(at, v, v), Verdict.combine(()))
            r.on_event(event("step", at, i % 50, (i + 1) % 50))

    feed(500, 0)  # the timeline and the stages (a weight change every poll) at their caps
    size_small = len(json.dumps(r.to_dict()))
    tracemalloc.start()
    # Once more under tracing, so what the next feed replaces was allocated traced: its freeing
    # counts against what replaces it.
    feed(500, 500)
    before = tracemalloc.take_snapshot()
    feed(5000, 1000)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if "record.py" in str(s.traceback))
    assert grown < 64 * 1024  # 5000 more polls and events: no growth beyond noise
    assert abs(len(json.dumps(r.to_dict())) - size_small) < 2000
    assert len(r.version("canary").histogram) == 5
    assert r.version("canary").requests == 600_000
    assert len(r.stages) == 200 and r.stages_dropped == 6001 - 200  # the first weight, then one per step


def test_verdicts_and_check_failures_are_counted():
    r = RolloutRecord("app")
    failing = Check("error rate", "error_rate", 0.05, 0.001, "<= 1.00%", Result.FAIL, "canary 5.00% > 1.00%")
    passing = Check("p95 latency", "p95_ms", 100, 90, "<= 500 ms", Result.PASS)
    r.on_poll(T0, None, None, Verdict.combine((passing,)))
    r.on_poll(T0, None, None, Verdict.combine((passing, failing), at=T0))
    assert r.verdicts == {"pass": 1, "fail": 1}
    assert r.check_failures == {"error rate": 1}
    assert r.last_verdict["result"] == "fail"
    assert r.last_verdict["failing"] == ["error rate: canary 5.00% > 1.00%"]


def _busy_record() -> RolloutRecord:
    r = RolloutRecord("x0tta6bl4-app", timeline_capacity=50)
    h = hist((100, 60), (250, 90), (500, 99), (INF, 100))
    for i in range(20):
        at = T0 + timedelta(seconds=10 * i)
        v = VersionSample(p95_ms=200.0 + i, cpu_cores=0.5, memory_bytes=1.5e8, requests=100, errors=i % 3,
                          histogram=h, business={"conversion": 0.05})
        r.on_poll(at, split(5 + i), snap(at, v, v), Verdict.combine((), at=at))
    r.on_event(event("set-weight", T0, 0, 5, reason="start"))
    r.on_event(event("check", T0 + timedelta(seconds=50), who="", ok=False, message="check failed: x"))
    r.on_event(event("promote", T0 + timedelta(seconds=200), 24, 100, reason="ok"))
    return r


def test_save_load_round_trip(tmp_path):
    from tui.config import demo_config
    from tui.operations.report import build_report

    r = _busy_record()
    path = tmp_path / "nested" / "record.json"
    r.save(path)
    loaded = RolloutRecord.load(path)
    assert loaded.to_dict() == r.to_dict()
    assert json.loads(path.read_text())["format"] == FORMAT
    config = demo_config()
    assert build_report(loaded, config) == build_report(r, config)
    # A loaded record goes on recording where it stopped: the last summed snapshot is not summed again.
    last = T0 + timedelta(seconds=190)
    loaded.on_poll(last, None, snap(last, sample(), sample()), None)
    assert loaded.samples == r.samples
    assert [f for f in os.listdir(path.parent)] == ["record.json"]  # no temporary file left


def test_save_is_atomic_an_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    r = _busy_record()
    path = tmp_path / "record.json"
    r.save(path)
    before = path.read_text()
    r.on_event(event("rollback", T0 + timedelta(seconds=300), 100, 0, reason="late"))

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        r.save(path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["record.json"]


def test_load_refuses_a_file_that_is_not_a_record(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a rollout record"):
        RolloutRecord.load(path)


def test_records_a_real_demo_controller():
    controller, clock = make_demo_controller()
    try:
        r = RolloutRecord(controller.config.name)
        controller.subscribe(r.on_event)
        for _ in range(5):
            clock.advance(2)
            r.on_state(controller.poll_once())
        assert controller.set_weight(20, reason="bigger").ok
        for _ in range(5):
            clock.advance(2)
            r.on_state(controller.poll_once())
        assert controller.rollback(reason="enough").ok
        clock.advance(2)
        r.on_state(controller.poll_once())
    finally:
        controller.close()
    assert r.samples == 11
    assert r.version("canary").requests > 0 and r.version("stable").requests > 0
    assert r.version("canary").buckets()
    assert (r.weight_initial, r.weight_peak, r.weight_final) == (5, 20, 0)
    assert [e["kind"] for e in r.timeline] == ["set-weight", "rollback", "alarm"]  # alarm: the header route fails
    assert r.outcome == "rolled back" and r.decision["reason"] == "enough"
    assert r.decision["who"] == "sre@bridge"


def test_an_automatic_rollback_keeps_the_failing_verdict_it_was_decided_on():
    # The failing verdict is acted on inside its own poll; the state that poll hands on holds
    # "judged afresh" already. Before, the report read "Last verdict: nodata", the decision's
    # verdict was lost, and the check that failed was never counted.
    controller, clock = make_demo_controller(fault="errors")
    try:
        r = RolloutRecord(controller.config.name)
        controller.subscribe(r.on_event)
        controller.subscribe_polls(r.on_state)
        assert controller.set_weight(20, reason="bigger").ok
        assert controller.toggle_auto().ok
        for _ in range(300):
            clock.advance(2)
            controller.poll_once()
            if r.outcome == "rolled back":
                break
        for _ in range(3):  # the idle canary's polls after it
            clock.advance(2)
            controller.poll_once()
    finally:
        controller.close()
    assert r.outcome == "rolled back" and r.decision["who"] == "automation"
    decided = r.decision["verdict"]
    assert decided["result"] == "fail"
    assert decided["failing"] and all(f.split(":")[0] in r.check_failures for f in decided["failing"])
    assert r.last_verdict["result"] == "nodata"  # what the polls after the rollback say
    assert r.verdicts["fail"] == 1
    # Each weight its own stage; the reads just after the rollback carry what the 20% served.
    assert [stage.weight for stage in r.stages] == [20, 0]
    at_20, after = r.stages[0].versions["canary"], r.stages[1].versions["canary"]
    assert at_20.errors / at_20.requests > 0.02
    assert after.requests == 0
    # A person's rollback between polls: the verdict on screen, counted once.
    controller, clock = make_demo_controller()
    try:
        r = RolloutRecord(controller.config.name)
        controller.subscribe(r.on_event)
        controller.subscribe_polls(r.on_state)
        for _ in range(3):
            clock.advance(2)
            controller.poll_once()
        seen = dict(r.verdicts)
        assert controller.rollback(reason="enough").ok
    finally:
        controller.close()
    assert r.verdicts == seen
    assert r.decision["verdict"] == r.last_verdict
