"""The controller owns every action and every poll; it never passes on no data."""

import re
import threading

import pytest

from tests.conftest import TEST_WHO, make_demo_controller
from tui.backends.base import BackendError
from tui.model import Result


def _poll(controller, clock, seconds=2):
    clock.advance(seconds)
    return controller.poll_once()


def test_poll_reads_split_metrics_and_verdict(demo_controller):
    controller, clock = demo_controller
    state = _poll(controller, clock)
    assert state.split.canary_weight == 5
    assert state.snapshot.stable.requests_per_second > 50
    assert state.verdict.result in (Result.PASS, Result.NODATA, Result.FAIL)
    assert {c.name for c in state.verdict.checks} >= {"p95 latency", "error rate"}
    assert not state.stale and state.data_age_s == 0


def test_step_set_promote_rollback_are_recorded_with_who_from_to_why(demo_controller):
    controller, clock = demo_controller
    assert controller.step(+1, reason="key +").ok
    assert controller.current_split().canary_weight == 10
    assert controller.step(-1, reason="key -").ok
    assert controller.set_weight(42, reason="key w").ok
    assert controller.promote(reason="key p").ok
    assert controller.current_split().canary_weight == 100
    assert controller.rollback(reason="key r").ok
    assert controller.current_split().canary_weight == 0
    assert controller.router.table.canary_replicas == 0
    changes = [e for e in controller.state().events if e.to_canary is not None]
    assert [(e.kind, e.from_canary, e.to_canary, e.reason) for e in changes] == [
        ("step", 5, 10, "key +"),
        ("step", 10, 5, "key -"),
        ("set-weight", 5, 42, "key w"),
        ("promote", 42, 100, "key p"),
        ("rollback", 100, 0, "key r"),
    ]
    assert all(e.who == TEST_WHO and e.at.tzinfo is not None for e in changes)
    # then the canary scaled to 0, and the header route (not driven) said to fail from now on
    assert [e.message[:27] for e in controller.state().events[-2:]] == [
        "canary scaled to 0 replicas", "route canary-header (header"]


def test_step_clamps_at_the_ends(demo_controller):
    controller, _ = demo_controller
    controller.set_weight(0, reason="t")
    result = controller.step(-1, reason="t")
    assert not result.ok and controller.current_split().canary_weight == 0
    controller.set_weight(98, reason="t")
    assert controller.step(+1, reason="t").ok
    assert controller.current_split().canary_weight == 100


@pytest.mark.parametrize("bad", [-5, 101, 7.5])
def test_bad_weights_are_refused_before_any_write(demo_controller, bad):
    controller, _ = demo_controller
    version = controller.current_split().version
    result = controller.set_weight(bad, reason="t")
    assert not result.ok
    assert controller.current_split().version == version
    assert controller.state().events[-1].ok is False


def test_read_only_refuses_every_write():
    controller, _ = make_demo_controller(read_only=True)
    for result in (controller.step(1, "t"), controller.set_weight(10, "t"), controller.promote("t"),
                   controller.rollback("t")):
        assert not result.ok and "read-only" in result.message
    assert controller.current_split().canary_weight == 5
    assert controller.state().mode == "READ-ONLY"


class _DeadMetrics:
    def describe(self):
        return "dead"

    def poll(self):
        raise BackendError("connection refused")

    def backfill(self, seconds, step):
        raise BackendError("connection refused")

    def close(self):
        pass


def test_failed_poll_is_stale_no_data_and_recovers(demo_controller):
    controller, clock = demo_controller
    good = _poll(controller, clock)
    assert good.verdict.checks
    working = controller.metrics
    controller.metrics = _DeadMetrics()
    bad = _poll(controller, clock, 10)
    assert bad.stale and bad.error == "metrics: connection refused"
    assert bad.verdict.result is Result.NODATA
    assert all(c.result is Result.NODATA for c in bad.verdict.checks)
    assert bad.data_age_s == 10
    assert bad.snapshot is good.snapshot  # the last good numbers stay, marked stale
    controller.metrics = working
    again = _poll(controller, clock)
    assert not again.stale and again.error is None
    kinds = [e.message for e in again.events]
    # How long the screen was stale, for the incident's timeline.
    assert "poll recovered after 2s (1 poll failed)" in kinds and any(m.startswith("poll failed") for m in kinds)


def test_a_bug_in_a_backend_is_a_failed_poll_not_a_crash(demo_controller):
    controller, clock = demo_controller

    class Broken(_DeadMetrics):
        def poll(self):
            raise KeyError("oops")

    controller.metrics = Broken()
    state = _poll(controller, clock)
    assert state.error == "metrics: KeyError: 'oops'"


def test_polls_never_overlap(demo_controller):
    controller, clock = demo_controller
    entered = threading.Event()
    release = threading.Event()
    real_poll = controller.metrics.poll

    def slow_poll():
        entered.set()
        release.wait(5)
        return real_poll()

    controller.metrics.poll = slow_poll
    results = []
    t = threading.Thread(target=lambda: results.append(controller.poll_once()))
    t.start()
    assert entered.wait(5)
    assert controller.poll_once() is None  # a second poll while one runs is skipped
    release.set()
    t.join(5)
    assert results and results[0] is not None


def test_history_is_bounded():
    controller, clock = make_demo_controller()
    controller.history.__init__(capacity=50)
    for _ in range(200):
        _poll(controller, clock)
    assert len(controller.state().history) == 50


def test_backfill_fills_the_charts_before_the_first_poll(demo_controller):
    controller, _ = demo_controller
    assert controller.backfill() == 300  # 10 minutes at 2 s
    assert len(controller.state().history) == 300


def test_fault_switch_and_failing_check_are_events(demo_controller):
    controller, clock = demo_controller
    controller.set_weight(50, reason="t")
    assert controller.set_fault("errors").ok
    for _ in range(40):
        state = _poll(controller, clock)
    assert state.verdict.result is Result.FAIL
    messages = [e.message for e in state.events]
    assert "injected fault: errors" in messages
    assert any(m.startswith("check failed: error rate") for m in messages)


# --- weights changed outside this console ------------------------------------------------


def _outside(controller):
    return [e for e in controller.state().events if e.kind == "outside"]


def _write_like_kubectl(controller, canary, change=None):
    """A write to the routes that did not go through this controller (kubectl, or another console)."""
    from tui.model import with_weights

    table = controller.router.table
    split = table.split()
    routes = tuple(with_weights(r, canary) if r.driven else r for r in split.routes)
    table.write_routes(routes, expected_version=split.version, change=change)


def test_a_change_made_outside_is_an_event_resets_the_judge_and_holds_automation(demo_controller):
    controller, clock = demo_controller
    _poll(controller, clock)
    assert controller.toggle_auto().ok
    for _ in range(30):
        _poll(controller, clock)
    assert controller.evaluator._tests["error rate"].requests > 250  # 30 polls at 5 req/s
    _write_like_kubectl(controller, 40)
    state = _poll(controller, clock)
    (event,) = _outside(controller)
    assert event.message == ("weights changed outside this console: canary 5% -> 40% "
                             "with no change note (kubectl, GitOps or another tool?)")
    assert (event.from_canary, event.to_canary, event.who) == (5, 40, "unknown")
    assert controller.evaluator._tests["error rate"].requests < 100  # judged afresh: one poll at 40%
    assert state.mode == "AUTO HELD" or controller.autopilot.progress.held
    assert "40%" in controller.autopilot.progress.held
    # Held: the autopilot does not walk the weight back to its step, however long it waits.
    for _ in range(400):
        _poll(controller, clock)
    assert controller.current_split().canary_weight == 40
    assert len(_outside(controller)) == 1


def test_a_change_by_another_console_names_who_and_why(demo_controller):
    from datetime import datetime, timezone

    from tui.model import WeightChange

    controller, clock = demo_controller
    _poll(controller, clock)
    note = WeightChange("alice@laptop", datetime(2027, 1, 15, 8, 0, 5, tzinfo=timezone.utc), 5, 20,
                        "p95 fine on the dashboards")
    _write_like_kubectl(controller, 20, change=note)
    _poll(controller, clock)
    (event,) = _outside(controller)
    assert event.message == "weights changed outside this console: canary 5% -> 20% by alice@laptop (set-weight)"
    assert (event.who, event.reason) == ("alice@laptop", "p95 fine on the dashboards")
    assert controller.state().split.last_change == note


def test_this_consoles_own_writes_are_never_outside_changes_even_between_polls(demo_controller):
    import time

    controller, clock = demo_controller
    read = controller.router.read

    def slow_read():  # the answer travels back slowly, as over a network: a write can land meanwhile
        split = read()
        time.sleep(0.001)
        return split

    controller.router.read = slow_read
    stop = threading.Event()

    def poll_forever():
        while not stop.is_set():
            controller.poll_once()

    poller = threading.Thread(target=poll_forever)
    poller.start()
    try:
        for i in range(100):
            assert controller.set_weight(i % 50, reason="race").ok
            assert controller.step(+1, reason="race").ok
    finally:
        stop.set()
        poller.join()
    _poll(controller, clock)
    assert _outside(controller) == []


def test_automation_never_writes_over_a_change_it_finds_just_before_its_step(demo_controller):
    controller, clock = demo_controller
    _poll(controller, clock)
    assert controller.toggle_auto().ok
    _poll(controller, clock)
    _write_like_kubectl(controller, 40)  # lands after the last poll, before the step is written
    controller.autopilot._advance_to(1, "step 1 baked")
    assert controller.router.read().canary_weight == 40
    progress = controller.autopilot.progress
    assert progress.enabled and "40%" in progress.held and not progress.finished
    assert [e.kind for e in controller.state().events if e.to_canary is not None] == ["outside"]


def test_a_promoted_canary_is_never_failed_against_an_idle_stable(demo_controller):
    """After a promote stable serves nothing: its idle per-instance cpu, or the few requests it
    counted before the write, must not fail the canary ("rollback now" on a finished rollout)."""
    controller, clock = demo_controller
    for _ in range(30):
        _poll(controller, clock)
    assert controller.promote(reason="t").ok
    for _ in range(90):  # 3 minutes: stable's rate windows empty out
        state = _poll(controller, clock)
        assert state.verdict.result is not Result.FAIL, state.verdict.summary
    by_name = {c.name: c for c in state.verdict.checks}
    for name in ("error rate vs stable", "p95 latency vs stable", "cpu vs stable", "memory vs stable"):
        assert by_name[name].result is Result.NODATA
        assert by_name[name].reason == "stable drained (canary 100%)", by_name[name]
    assert "; not compared with stable: stable drained (canary 100%); " in state.verdict.summary
    assert not [e for e in controller.state().events if e.kind == "check"]


@pytest.mark.parametrize("weight", [5, 50, 90, 95])
def test_a_healthy_canary_is_never_failed_on_usage_at_any_split(demo_controller, weight):
    """Per-instance cpu and memory are judged only where unequal loads cannot mislead: at 90%
    stable's one instance idles next to the canary's busy ones (1.5x "more cpu" for the canary),
    at 5% the other way round. At 50% the loads are alike and the checks judge."""
    controller, clock = demo_controller
    assert controller.set_weight(weight, reason="t").ok
    seen = []
    for _ in range(120):
        state = _poll(controller, clock)
        by_name = {c.name: c for c in state.verdict.checks}
        seen.append((by_name["cpu vs stable"].result, by_name["memory vs stable"].result))
        assert Result.FAIL not in seen[-1], (by_name["cpu vs stable"], by_name["memory vs stable"])
    settled = set(seen[30:])  # past the first minute: the rate windows hold the new split
    if weight == 50:
        assert settled == {(Result.PASS, Result.PASS)}
    elif weight == 5:  # the canary idles: using less proves nothing
        assert settled == {(Result.NOT_JUDGED, Result.NOT_JUDGED)}
    else:  # the canary is the busier: 1.5x stable's cpu proves nothing, memory within 1.2x passes
        assert settled == {(Result.NOT_JUDGED, Result.PASS)}
    if weight >= 90:  # the canary passes; "all checks passing" alone would be untrue
        assert state.verdict.result is Result.PASS
        assert state.verdict.summary.startswith("all checks passing (not judged: cpu vs stable); ")


def test_after_a_write_the_old_weights_verdict_is_not_shown_as_the_new_ones(demo_controller):
    """`run` printed "canary 10% | verdict PASS" right after stepping from 5%: the 5%'s verdict."""
    controller, clock = demo_controller
    for _ in range(1000):  # seed 1 at 5% first passes after about 22 minutes
        clock.advance(2)
        if controller.poll_once().verdict.result is Result.PASS:
            break
    assert controller.state().verdict.result is Result.PASS
    assert controller.set_weight(10, "next step").ok
    verdict = controller.state().verdict
    assert verdict.result is Result.NODATA
    assert verdict.since == controller.state().split.last_change.at
    assert {c.reason for c in verdict.checks} == {"canary now 10%: judged afresh from the next poll"}


def test_a_crashed_canary_is_an_alarm_once_then_over_once():
    """The demo's "down": announced in the events (and so the timeline and the webhook) when the
    silence begins and when the canary serves again, not at every poll, nor at a weight change."""
    from tests.conftest import make_demo_controller

    controller, clock = make_demo_controller(fault="down")
    try:
        for _ in range(10):
            state = _poll(controller, clock)
        assert controller.set_weight(3, reason="less of it").ok  # the judge starts afresh: no "over"
        for _ in range(10):
            state = _poll(controller, clock)
        controller.set_fault("none")
        for _ in range(3):
            state = _poll(controller, clock)
    finally:
        controller.close()
    told = [(e.ok, e.message) for e in state.events if e.kind == "alarm"]
    assert [ok for ok, _ in told] == [False, True] and told[1][1] == "the canary serves again", told
    assert re.match(r"the canary served nothing for 10s while routed 5% \(\d+ requests expected\): down", told[0][1])
    assert state.verdict.alarm is None


def test_two_auto_toggles_at_once_toggle_twice(demo_controller):
    """Two `a` presses whose workers overlap: each toggles what the other left, on then off (both
    read "off" and both turned it on)."""
    import threading
    import time

    controller, clock = demo_controller
    check = controller.workload.cannot_serve

    def slow_check():  # the replicas read of a busy API server
        time.sleep(0.2)
        return check()

    controller.workload.cannot_serve = slow_check
    threads = [threading.Thread(target=controller.toggle_auto) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    told = [e.message.split(" (")[0] for e in controller.state().events if e.kind == "auto"]
    assert told == ["automatic progression on from 5%", "automatic progression off"], told
    assert not controller.autopilot.progress.enabled


def test_two_steps_at_once_step_twice(demo_controller):
    """Two `+` presses whose workers overlap: 5 -> 10 -> 15, not 5 -> 10 twice."""
    import threading
    import time

    controller, clock = demo_controller
    read = controller.current_split

    def slow_read():  # a GET of the VirtualService on a busy API server
        split = read()
        time.sleep(0.2)
        return split

    controller.current_split = slow_read
    threads = [threading.Thread(target=controller.step, args=(+1, "key +")) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    steps = [e.message for e in controller.state().events if e.kind == "step"]
    assert steps == ["canary 5% -> 10%", "canary 10% -> 15%"], steps


def test_more_traffic_to_a_silent_canary_is_refused_less_is_not():
    """The canary serves nothing while routed: `+`, `w 50`, `p` and `a` would send it more of the
    requests that are failing (a promotion sent all of them). Less, and a rollback, still go."""
    from tests.conftest import make_demo_controller

    controller, clock = make_demo_controller(fault="down")
    try:
        assert controller.set_weight(20, reason="before the crash was seen").ok
        for _ in range(8):
            state = _poll(controller, clock)
        assert state.verdict.silent == "canary"
        for attempt in (lambda: controller.step(+1, "key +"), lambda: controller.set_weight(50, "key w"),
                        lambda: controller.promote("key p (confirmed)"), lambda: controller.toggle_auto()):
            result = attempt()
            assert not result.ok and "the canary served nothing for" in result.message, result.message
            assert result.message.endswith(("more traffic to it would fail too", "its steps would send it more"))
        assert controller.current_split().canary_weight == 20
        assert controller.step(-1, "key -").ok  # less: the safe way
        assert controller.rollback("key r (confirmed)").ok
    finally:
        controller.close()
