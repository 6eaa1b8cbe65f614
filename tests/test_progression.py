"""Automatic progression at the fast clock: advance on pass, roll back on fail, hold on manual change."""

from tests.conftest import make_demo_controller
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
