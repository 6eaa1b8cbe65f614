"""Automatic progression at the fast clock: advance on pass, roll back on fail, hold on manual change."""

from tests.conftest import UnreadableRouter, make_demo_controller
from tui.controller.progression import Progress, step_index_for
from tui.model import Check, Result, Verdict


class ScriptedEvaluator:
    """A verdict chosen by the test, so the progression logic is tested on its own."""

    def __init__(self, result=Result.PASS):
        self.result = result
        self.resets = 0

    def observe(self, snap, canary_weight):
        check = Check("error rate", "error_rate", 0.05 if self.result is Result.FAIL else 0.004, 0.005,
                      "<= 1.00%", self.result, "canary 5.00% > 1.00%" if self.result is Result.FAIL else "")
        return Verdict.combine((check,), at=snap.at)

    def reset(self):
        self.resets += 1


def _controller(result=Result.PASS, **policy):
    controller, clock = make_demo_controller()
    controller.evaluator = ScriptedEvaluator(result)
    controller.autopilot.policy = controller.config.rollout.__class__(
        **{**controller.config.rollout.__dict__, "bake_s": 60.0, **policy})
    return controller, clock


def _run(controller, clock, seconds, step=2):
    for _ in range(int(seconds / step)):
        clock.advance(step)
        state = controller.poll_once()
    return state


def test_step_index_for():
    steps = (5, 10, 15, 20)
    assert step_index_for(steps, 0) == 0
    assert step_index_for(steps, 5) == 0
    assert step_index_for(steps, 12) == 1
    assert step_index_for(steps, 100) == 3


def test_healthy_canary_walks_every_step_then_waits_for_a_person():
    controller, clock = _controller()
    assert controller.toggle_auto().ok
    state = _run(controller, clock, 60 * 12)
    assert controller.current_split().canary_weight == 50
    assert controller.autopilot.progress.finished == "waiting for promotion"
    weights = [e.to_canary for e in state.events if e.kind == "auto-step"]
    assert weights == [10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert state.mode == "AUTO"


def test_a_person_promoting_or_rolling_back_ends_the_run_with_what_they_did():
    # Waiting for a person at the last step, then the person promotes: the header's "last run"
    # said "waiting for promotion" over a canary at 100%.
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 60 * 12)
    assert controller.state().automation.endswith("once every check passes (baked)")
    assert controller.promote(reason="key p (confirmed)", who="alice").ok
    state = _run(controller, clock, 2)
    assert controller.autopilot.progress.finished == "promoted by alice"
    assert state.automation == "last run: promoted by alice"
    assert state.mode == "MANUAL"
    assert any(e.kind == "auto" and e.message == "automatic progression ended: promoted by alice"
               for e in state.events)
    # Mid-run, held by a manual change: a rollback ends it the same way.
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 130)
    controller.set_weight(30, reason="key w", who="bob")
    assert controller.state().mode == "AUTO HELD"
    assert controller.rollback(reason="key r (confirmed)", who="bob").ok
    assert controller.autopilot.progress.finished == "rolled back by bob"
    assert not controller.autopilot.progress.enabled
    # Off and already ended: a later promotion leaves its last words alone.
    assert controller.scale_canary(2, reason="back up", who="bob").ok
    controller.set_weight(5, reason="key w", who="bob")
    controller.promote(reason="key p", who="bob")
    assert controller.autopilot.progress.finished == "rolled back by bob"


def test_automation_at_100_percent_is_refused_and_past_the_last_step_says_the_real_weight():
    # After a promotion, `a` turned automation on "from 100% (step 10/10)" and the header read
    # "step 10/10 at 50% (last) → wait for a person" over a canary at 100%.
    controller, clock = _controller()
    assert controller.promote(reason="key p (confirmed)").ok
    result = controller.toggle_auto()
    assert not result.ok and "already takes 100% (promoted): nothing to progress" in result.message
    assert not controller.autopilot.progress.enabled
    # Held by a change to 100% made outside: no resume either.
    controller, clock = _controller()
    controller.toggle_auto()
    controller.router.set_canary_weight(100, None)  # as kubectl would: no note, not through the console
    _run(controller, clock, 2)
    assert controller.state().mode == "AUTO HELD"
    result = controller.toggle_auto()
    assert not result.ok and ":auto off ends automation" in result.message
    # Above the last step (50%) but not promoted: the last step, at the weight it is really at.
    controller, clock = _controller()
    controller.set_weight(60, reason="key w")
    assert controller.toggle_auto().ok
    assert controller.state().automation.startswith("step 10/10 at 60% (last) → wait for a person")


def test_auto_promote_at_the_last_step():
    controller, clock = _controller(promote="auto")
    controller.toggle_auto()
    state = _run(controller, clock, 60 * 12)
    assert controller.current_split().canary_weight == 100
    assert state.mode == "MANUAL"
    assert controller.autopilot.progress.finished == "promoted"


def test_bake_time_is_respected():
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 58)
    assert controller.current_split().canary_weight == 5
    _run(controller, clock, 4)
    assert controller.current_split().canary_weight == 10
    assert "→ 15% in" in controller.state().automation


def test_failure_rolls_back_through_the_one_rollback_path_with_the_reason():
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 130)
    assert controller.current_split().canary_weight == 15
    controller.evaluator.result = Result.FAIL
    state = _run(controller, clock, 2)
    assert controller.current_split().canary_weight == 0
    assert controller.router.table.canary_replicas == 0
    rollback = [e for e in state.events if e.kind == "rollback" and e.to_canary == 0][-1]
    assert rollback.who == "automation"
    assert rollback.reason == "auto-rollback: error rate: canary 5.00% > 1.00%"
    assert controller.autopilot.progress.finished.startswith("rolled back")
    assert state.mode == "MANUAL"


def test_fail_without_auto_rollback_halts():
    controller, clock = _controller(auto_rollback=False)
    controller.toggle_auto()
    controller.evaluator.result = Result.FAIL
    _run(controller, clock, 4)
    assert controller.current_split().canary_weight == 5
    assert controller.autopilot.progress.finished.startswith("halted")


def test_manual_change_holds_automation_until_resumed():
    controller, clock = _controller()
    controller.toggle_auto()
    controller.set_weight(30, reason="key w")
    state = _run(controller, clock, 300)
    assert controller.current_split().canary_weight == 30  # never fights its operator
    assert state.mode == "AUTO HELD"
    assert "HELD: manual change to 30%" in state.automation
    controller.toggle_auto()  # resume
    _run(controller, clock, 62)
    assert controller.current_split().canary_weight == 35


def test_no_data_halts_and_never_promotes():
    controller, clock = _controller(no_data_timeout_s=30.0, promote="auto", rollback_on_no_data=True)
    controller.toggle_auto()

    class Dead:
        def describe(self):
            return "dead"

        def poll(self):
            from tui.backends.base import BackendError

            raise BackendError("down")

        def close(self):
            pass

    controller.metrics = Dead()
    state = _run(controller, clock, 40)
    assert controller.autopilot.progress.finished.startswith("halted: no data for")
    assert controller.current_split().canary_weight == 0  # rollbackOnNoData
    assert not any(e.kind == "promote" for e in state.events)


def test_a_restarted_controller_resumes_from_the_stored_state():
    controller, clock = _controller()
    stored = {}
    controller.router.save_progress = stored.update
    controller.router.load_progress = lambda: dict(stored)
    controller.toggle_auto()
    _run(controller, clock, 130)
    assert Progress.from_dict(stored).step == 2
    # a new controller over the same world (the demo's "cluster"), as after a restart
    from tui.controller import RolloutController

    again = RolloutController(controller.config, controller.router, controller.metrics, clock=clock,
                              evaluator=ScriptedEvaluator(), who="other@host")
    again.autopilot.policy = controller.autopilot.policy
    assert again.resume_automation()
    assert again.state().mode == "AUTO"
    _run(again, clock, 62)
    assert again.current_split().canary_weight == 20
    assert any("resumed automatic progression at step 3/10" in e.message for e in again.state().events)


def test_auto_toggle_is_refused_read_only():
    controller, _ = make_demo_controller(read_only=True)
    assert not controller.toggle_auto().ok


class FlakyRouter:
    """The demo router behind an API that fails its next `failures` writes: `transient` as a
    timeout or a 503 does, or for good as a 403 does."""

    def __init__(self, router, failures: int, transient: bool = True):
        self.router, self.failures, self.transient = router, failures, transient
        self.attempts = 0

    def __getattr__(self, name):
        return getattr(self.router, name)

    def _maybe_fail(self):
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            from tui.backends.base import BackendError
            raise BackendError("Kubernetes API error 503 (Service Unavailable) on patch" if self.transient
                               else "forbidden: cannot patch virtualservices", transient=self.transient)

    def set_canary_weight(self, *args, **kwargs):
        self._maybe_fail()
        return self.router.set_canary_weight(*args, **kwargs)

    def scale_canary(self, replicas):
        return self.router.scale_canary(replicas)


def _flaky(controller, failures, transient=True):
    controller.router = FlakyRouter(controller.router, failures, transient)
    return controller.router


def test_a_step_that_fails_on_a_blip_is_tried_again_not_halted():
    """Before: one 503 at the moment of a step ended automation ("halted: could not set 10%"), and
    `run` then rolled back a healthy canary."""
    controller, clock = _controller()
    controller.toggle_auto()
    flaky = _flaky(controller, failures=3)
    _run(controller, clock, 60)  # baked: the step to 10% fails three times, 10 s apart
    assert controller.autopilot.progress.enabled and controller.current_split().canary_weight == 5
    assert "a write failed, retrying for" in controller.state().automation
    notes = [e.message for e in controller.state().events if e.kind == "auto" and not e.ok]
    assert notes == ["the step to 10% failed: Kubernetes API error 503 (Service Unavailable) on patch; "
                     "trying again every 10 s for up to 2m00s"]
    _run(controller, clock, 30)
    assert controller.current_split().canary_weight == 10
    assert flaky.attempts == 4  # one try every 10 s, not one per 2 s poll
    assert controller.autopilot.progress.retrying_since is None
    assert "→ 15% in" in controller.state().automation


def test_a_step_failing_past_the_no_data_timeout_halts_and_a_refusal_halts_at_once():
    controller, clock = _controller()
    controller.toggle_auto()
    _flaky(controller, failures=1000)
    _run(controller, clock, 60 + 130)
    progress = controller.autopilot.progress
    assert not progress.enabled and progress.finished.startswith("halted: could not set 10%: Kubernetes API error 503")
    controller, clock = _controller()
    controller.toggle_auto()
    _flaky(controller, failures=1, transient=False)  # a 403 does not pass by itself
    _run(controller, clock, 62)
    assert controller.autopilot.progress.finished.startswith("halted: could not set 10%: forbidden")


def test_a_failing_canary_is_rolled_back_however_long_the_api_is_down():
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 10)
    flaky = _flaky(controller, failures=30)  # five minutes of failures at one try per 10 s
    controller.evaluator.result = Result.FAIL
    _run(controller, clock, 280)
    assert controller.autopilot.progress.enabled and controller.current_split().canary_weight == 5
    _run(controller, clock, 40)
    assert controller.current_split().canary_weight == 0 and flaky.attempts == 31
    assert controller.autopilot.progress.finished.startswith("rolled back")


def test_a_person_taking_over_a_retrying_step_clears_the_retry():
    controller, clock = _controller()
    controller.toggle_auto()
    _flaky(controller, failures=1000)
    _run(controller, clock, 62)
    assert controller.autopilot.progress.retrying_since is not None
    controller.router.failures = 0
    assert controller.set_weight(10, "by hand", who="sre@bridge").ok  # holds automation at 10%
    assert controller.toggle_auto(who="sre@bridge").ok  # resume
    assert controller.autopilot.progress.retrying_since is None
    assert "retrying" not in controller.state().automation


class LateAnswerRouter(FlakyRouter):
    """The API applies the next writes but their answers time out ("may or may not have been applied")."""

    def set_canary_weight(self, *args, **kwargs):
        self.attempts += 1
        split = self.router.set_canary_weight(*args, **kwargs)
        if self.failures > 0:
            self.failures -= 1
            from tui.backends.base import BackendError
            raise BackendError("Kubernetes API did not answer within 5s; the change may or may not have "
                               "been applied: re-read before retrying", transient=True)
        return split


def test_a_rollback_whose_answer_timed_out_is_known_as_ours_when_read_back():
    """Before: the next read showed the weights at 0% with automation's own note, taken as a change
    made outside: "automation held at 0%: manual change by automation", and no scale-down."""
    controller, clock = _controller()
    controller.toggle_auto()
    _run(controller, clock, 10)
    controller.router = LateAnswerRouter(controller.router, failures=1)
    controller.evaluator.result = Result.FAIL
    _run(controller, clock, 2)  # the rollback lands; its answer does not
    assert controller.router.read().canary_weight == 0
    _run(controller, clock, 2)  # read back: ours
    events = controller.state().events
    assert not [e for e in events if e.kind == "outside"]
    assert [e.message for e in events if e.kind == "rollback"][-2:] == [
        "canary 5% -> 0% (went through; its answer had timed out)", "canary scaled to 0 replicas"]
    assert controller.router.canary_replicas() == 0
    progress = controller.autopilot.progress
    assert not progress.held and not progress.enabled and progress.finished == "rolled back (error rate)"


def test_an_auto_step_whose_answer_timed_out_carries_on_from_the_new_step():
    controller, clock = _controller()
    controller.toggle_auto()
    controller.router = LateAnswerRouter(controller.router, failures=1)
    _run(controller, clock, 62)  # the step to 10% lands at 60 s; its answer does not; read back at 62 s
    progress = controller.autopilot.progress
    assert controller.router.read().canary_weight == 10 and not progress.held
    assert progress.step == 1 and progress.retrying_since is None
    assert "step 2/10 at 10% → 15% in" in controller.state().automation


def test_a_stored_step_behind_the_weights_resumes_where_the_weights_are():
    """A store that failed (its PATCH timed out) left step 1 (5%) stored at 15%: the resumed
    automation's next "step" was 10%, a step backwards."""
    controller, clock = _controller()
    stored = {}
    controller.router.save_progress = stored.update
    controller.router.load_progress = lambda: dict(stored)
    controller.toggle_auto()
    controller.router.save_progress = lambda state: None  # from here every store is lost
    _run(controller, clock, 130)
    assert controller.current_split().canary_weight == 15 and Progress.from_dict(stored).step == 0
    from tui.controller import RolloutController

    again = RolloutController(controller.config, controller.router, controller.metrics, clock=clock,
                              evaluator=ScriptedEvaluator(), who="other@host")
    again.autopilot.policy = controller.autopilot.policy
    assert again.resume_automation()
    notes = [e.message for e in again.state().events if e.kind == "auto"]
    assert notes == ["the stored step 1 (5%) is not where the weights are (15%): resuming at step 3 (15%), "
                     "baking afresh", "resumed automatic progression at step 3/10 (15%)"]
    _run(again, clock, 62)
    assert [e.to_canary for e in again.state().events if e.kind == "auto-step"] == [20]


def test_a_stored_step_beyond_fewer_steps_resumes_at_a_real_one():
    """rollout.steps shortened since the state was stored: the resume named steps[42] and crashed."""
    controller, clock = _controller()
    stored = {"enabled": True, "step": 42, "since": 0.0}
    controller.router.load_progress = lambda: dict(stored)
    controller.router.save_progress = stored.update
    assert controller.resume_automation()
    assert controller.autopilot.progress.step == 0  # the weights (5%) are at step 1
    assert any(e.message == "resumed automatic progression at step 1/10 (5%)" for e in controller.state().events)


def test_automation_never_rolls_back_onto_a_stable_that_serves_nothing():
    """Stable crashed (its series gone) under its 95% while the canary breaches its error bound:
    the rollback would send every request to stable. Automation holds and the alarm says why;
    once stable serves again, the canary's failure rolls it back."""
    from dataclasses import replace as copy_with

    from tui.model import VersionSample

    controller, clock = make_demo_controller(fault="errors")
    demo_poll = controller.metrics.poll
    stable_down = {"on": True}

    def poll():
        snap = demo_poll()
        return copy_with(snap, stable=VersionSample()) if stable_down["on"] else snap

    controller.metrics.poll = poll
    try:
        assert controller.toggle_auto().ok
        state = _run(controller, clock, 120)
        assert controller.current_split().canary_weight == 5  # held, not rolled back onto stable
        assert controller.autopilot.progress.enabled and not controller.autopilot.progress.finished
        assert state.verdict.summary.startswith("hold: stable served nothing for")
        alarms = [e.message for e in state.events if e.kind == "alarm"]
        assert len(alarms) == 1 and "a rollback would send every request to it" in alarms[0]
        stable_down["on"] = False
        state = _run(controller, clock, 10)
        assert controller.current_split().canary_weight == 0
        assert controller.autopilot.progress.finished.startswith("rolled back")
        assert any(e.message == "stable serves again" for e in state.events)
    finally:
        controller.close()


def test_a_crashed_canary_is_rolled_back_by_automation_and_only_told_in_manual():
    controller, clock = make_demo_controller(fault="down")
    try:
        assert controller.toggle_auto().ok
        state = _run(controller, clock, 30)
        assert controller.current_split().canary_weight == 0
        rollback = [e for e in state.events if e.kind == "rollback" and e.to_canary == 0][-1]
        assert rollback.who == "automation"
        assert rollback.reason.startswith("auto-rollback: the canary served nothing for 1")
        assert controller.autopilot.progress.finished == "rolled back (the canary served nothing)"
    finally:
        controller.close()
    controller, clock = make_demo_controller(fault="down")  # MANUAL: a person steers
    try:
        state = _run(controller, clock, 30)
        assert controller.current_split().canary_weight == 5
        assert state.verdict.summary.endswith("roll back (r) unless only its metrics are missing")
    finally:
        controller.close()


def test_a_poll_whose_weights_could_not_be_read_passes_no_check_and_never_advances():
    """Before: a poll whose router read failed but whose metrics came judged the canary as usual:
    the screen said "STALE ... checks count as no data" over ✓ checks, the header said "data 2s
    old" after a minute without weights, and automation went on judging and trying to step on them
    rather than count the time without data."""
    controller, clock = _controller(no_data_timeout_s=30.0, rollback_on_no_data=False)
    controller.toggle_auto()
    _run(controller, clock, 20)
    controller.router = UnreadableRouter(controller.router)
    state = _run(controller, clock, 44)  # baked (60 s) while the reads fail
    assert state.stale and state.verdict.result is Result.NODATA
    assert state.data_age_s >= 44  # the weights' age, not the metrics' 2 s
    assert not any(c.result is Result.PASS for c in state.verdict.checks)
    assert controller.router.router.read().canary_weight == 5
    assert controller.autopilot.progress.finished == \
        "halted: no data for 32s (router: Kubernetes API: read timed out (5s))"


def test_a_poll_slow_in_its_metrics_did_read_the_weights():
    """The weights are "as last read" only when reading them failed, not when the metrics of the
    same poll took long (a slow Prometheus): that said "reading the weights fails" falsely."""
    controller, clock = make_demo_controller()
    metrics = controller.metrics

    class SlowMetrics:
        def __getattr__(self, name):
            return getattr(metrics, name)

        def poll(self):
            clock.advance(6)  # three intervals in the queries
            return metrics.poll()

    controller.metrics = SlowMetrics()
    clock.advance(2)
    state = controller.poll_once()
    assert not state.weights_stale and state.split_failed is False
    assert state.data_age_s >= 6  # the header ages it all the same
    controller.close()


def test_every_hint_names_the_key_as_bound():
    """Messages below the app named the default keys ("press a to resume", "roll back (r)"): with
    keys rebound, a person under stress pressed a key that did nothing, or something else."""
    from tui.assembly import build_controller, judge_for
    from tui.clock import ManualClock
    from tui.config import from_mapping

    config = from_mapping({"name": "x0tta6bl4-app",
                           "keys": {"auto": "A", "promote": "P", "rollback": "ctrl+r", "weight": "W",
                                    "command": "ctrl+k"}})
    controller = build_controller(config, clock=ManualClock(start=1_800_000_000.0), who="sre@bridge")
    try:
        assert controller.toggle_auto().ok
        assert controller.set_weight(10, reason="by hand").ok  # holds automation
        held = controller.state().events[-1]
        assert held.message.endswith("(press A to resume)"), held.message
        assert controller.state().automation.endswith("(A: resume)"), controller.state().automation
        assert judge_for(config).rollback_key == "ctrl+r"
        assert controller.rollback("5xx").ok
        assert controller.state().events[-1].message.endswith("scaled up (ctrl+k then scale N, "
                                                              "canary-console scale N) or the route is changed")
        refused = controller.step(+1, "key +")
        assert "scale it up first (ctrl+k then scale N, or canary-console scale N)" in refused.message
    finally:
        controller.close()
