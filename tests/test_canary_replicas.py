"""A canary scaled to 0 (by a rollback) gets no traffic until someone scales it back up.

Before, `+` after a rollback sent 5% of the users to a canary without pods: on the demo the
checklist read "canary 100.00% errors"; on Istio every such request is a 503.
"""

from __future__ import annotations

import json

import pytest

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    fk,
    guide,
    kubeconfig,
    replicas,
    stored_vs,
    vs_patches,
    weights,
    write_config,
)
from tests.conftest import make_demo_controller
from tui.assembly import build_controller
from tui.backends.base import BackendError
from tui.cli import main
from tui.config import load

SCALED_TO_0 = "the canary is scaled to 0 replicas"


@pytest.fixture
def rolled_back():
    controller, clock = make_demo_controller()
    controller.poll_once()
    assert controller.rollback("5xx on /pay", who="sre@bridge").ok
    yield controller, clock
    controller.close()


def test_after_a_rollback_nothing_sends_the_canary_traffic(rolled_back):
    controller, _ = rolled_back
    for attempt in (lambda: controller.step(+1, "key +", who="sre@bridge"),
                    lambda: controller.set_weight(20, "key w", who="sre@bridge"),
                    lambda: controller.promote("key p", who="sre@bridge"),
                    lambda: controller.set_automation(True, who="sre@bridge")):
        result = attempt()
        assert not result.ok and SCALED_TO_0 in result.message and "scale it up first" in result.message
    assert controller.current_split().canary_weight == 0
    refused = [e for e in controller.state().events if not e.ok and e.kind != "alarm"]
    assert [e.kind for e in refused] == ["step", "set-weight", "promote", "auto"]
    assert not controller.autopilot.progress.enabled  # refused up front, not started and halted


def test_scaled_back_up_the_canary_takes_traffic_again(rolled_back):
    controller, clock = rolled_back
    result = controller.scale_canary(2, "image v1.2.1 fixes the 5xx", who="sre@bridge")
    assert result.ok and result.message == "canary scaled from 0 to 2 replicas"
    event = controller.state().events[-1]
    assert (event.kind, event.who, event.reason) == ("scale", "sre@bridge", "image v1.2.1 fixes the 5xx")
    # Its pods take a while to start (the demo's: 20 s); until one is ready it gets no traffic.
    refused = controller.step(+1, "key +", who="sre@bridge")
    assert not refused.ok and refused.transient and "none of the canary's 2 replicas is ready yet" in refused.message
    clock.advance(20)
    assert controller.step(+1, "key +", who="sre@bridge").ok
    for _ in range(30):
        clock.advance(2)
        state = controller.poll_once()
    errors = next(c for c in state.verdict.checks if c.name == "error rate")
    assert errors.canary is not None and errors.canary < 0.05  # served, not failed fast


def test_scaling_to_0_under_traffic_is_refused_a_rollback_does_it():
    controller, _ = make_demo_controller()
    try:
        result = controller.scale_canary(0, "tidy up", who="sre@bridge")
        assert not result.ok and "still takes 5% of the traffic" in result.message
        assert controller.router.canary_replicas() == 2
        assert not controller.scale_canary(-1, "typo").ok and not controller.scale_canary(True, "typo").ok
    finally:
        controller.close()


def test_a_read_only_console_cannot_scale():
    controller, _ = make_demo_controller(read_only=True)
    try:
        result = controller.scale_canary(3, "more room")
        assert not result.ok and "read-only" in result.message
    finally:
        controller.close()


# --- Istio: the canary Deployment's scale subresource --------------------------------------


@pytest.fixture
def config(guide, kubeconfig, tmp_path):
    return write_config(tmp_path, kubeconfig, audit={"file": str(tmp_path / "audit.jsonl")})


def test_istio_refuses_traffic_to_a_canary_deployment_at_0_replicas(config, guide, capsys, tmp_path):
    assert main(["rollback", "--reason", "5xx", "--config", str(config)]) == 0
    assert replicas(guide) == 0
    patches = len(vs_patches(guide))
    capsys.readouterr()
    assert main(["set-weight", "10", "--config", str(config)]) == 1
    assert SCALED_TO_0 in capsys.readouterr().err
    assert len(vs_patches(guide)) == patches  # refused before any write
    assert weights(stored_vs(guide), "default") == [100, 0]

    assert main(["scale", "2", "--reason", "image v1.2.1", "--config", str(config)]) == 0
    assert "canary scaled from 0 to 2 replicas" in capsys.readouterr().out
    assert replicas(guide) == 2
    assert main(["set-weight", "10", "--config", str(config)]) == 0
    assert weights(stored_vs(guide), "default") == [90, 10]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    scale = next(e for e in audit if e["action"] == "scale")
    assert (scale["reason"], scale["message"], scale["result"]) == (
        "image v1.2.1", "canary scaled from 0 to 2 replicas", "ok")
    # A console opened later shows the audit trail's last entries in its own words (not "None -> None").
    later = build_controller(load(config))
    try:
        replayed = [e.message for e in later.state().events if e.kind == "audit"]
    finally:
        later.close()
    assert audit[-3]["result"].startswith(f"refused: {SCALED_TO_0}")
    assert replayed[-3:] == [f"set-weight 0 -> 10: {audit[-3]['result']}",
                             "scale: canary scaled from 0 to 2 replicas", "set-weight 0 -> 10: ok"]


def test_istio_refuses_traffic_to_a_canary_scaled_up_whose_pods_are_not_ready(config, guide, capsys):
    """Before: `:scale 2` then `+` sent the canary 5% of the requests at once, while its new pods
    were still starting: Istio answers a subset without ready endpoints with 503s."""
    from istio_fixtures import set_ready

    assert main(["rollback", "--reason", "5xx", "--config", str(config)]) == 0
    set_ready(guide, 0)  # the rollback's scale-down: its pods are gone
    assert main(["scale", "2", "--reason", "image v1.2.1", "--config", str(config)]) == 0
    patches = len(vs_patches(guide))
    capsys.readouterr()
    assert main(["set-weight", "10", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "none of the canary's 2 replicas is ready yet" in err and "try again once one is" in err, err
    assert len(vs_patches(guide)) == patches  # refused before any write
    set_ready(guide, 1)  # one pod passed its readiness probe: it can serve
    assert main(["set-weight", "10", "--config", str(config)]) == 0
    assert weights(stored_vs(guide), "default") == [90, 10]


def test_automation_waits_for_a_ready_canary_rather_than_halting(guide, kubeconfig, tmp_path):
    """A step refused for want of a ready pod may pass by itself: automation tries again."""
    import time

    from istio_fixtures import ScriptedEvaluator, fast_policy, run_polls, set_ready
    from tui.clock import ManualClock

    clock = ManualClock(start=time.time())
    controller = build_controller(load(write_config(tmp_path, kubeconfig)), clock=clock, who="alice@laptop")
    try:
        controller.evaluator = ScriptedEvaluator()
        fast_policy(controller, bake_s=60.0)
        assert controller.toggle_auto().ok
        set_ready(guide, 0)  # its pods restart (a node drained, say)
        run_polls(controller, clock, 62)
        assert weights(stored_vs(guide), "default") == [95, 5]
        assert controller.autopilot.progress.enabled and controller.autopilot.progress.retrying_since is not None
        set_ready(guide, 2)
        run_polls(controller, clock, 12)
        assert weights(stored_vs(guide), "default") == [90, 10]
    finally:
        controller.close()


def test_istio_without_the_canary_deployment_says_so_and_sends_nothing(config, guide, capsys):
    assert guide.delete_object("apps", "x0tta6bl4-canary", "deployments", "x0tta6bl4-app-canary")
    patches = len(vs_patches(guide))
    assert main(["set-weight", "10", "--config", str(config)]) == 1
    assert "cannot read the canary's replicas" in capsys.readouterr().err
    assert len(vs_patches(guide)) == patches
    # --force writes anyway (an operator who knows better: a canary outside this Deployment).
    assert main(["set-weight", "10", "--force", "--config", str(config)]) == 0
    assert weights(stored_vs(guide), "default") == [90, 10]


def test_scaling_a_canary_another_controller_owns_is_refused(config, guide, capsys):
    from istio_fixtures import FLAGGER, guide_vs

    vs = guide_vs()
    vs["metadata"]["ownerReferences"] = FLAGGER
    guide.put_object(vs)
    assert main(["scale", "3", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "owned by Flagger" in err and "which manages the canary's replicas: scale through it" in err
    assert replicas(guide) == 2


def test_less_traffic_to_a_canary_that_cannot_serve_is_never_refused():
    """Before: with the canary at 10% and its pods gone (scaled down by hand, or none ready), `-`
    was refused ("every request sent to it would fail") and left it at 10%: the safe way was shut."""
    controller, clock = make_demo_controller()
    try:
        assert controller.set_weight(10, "key w", who="sre@bridge").ok
        controller.router.table.set_canary_replicas(0)  # kubectl scale --replicas=0, by hand
        assert controller.step(-1, "key -", who="sre@bridge").ok
        assert controller.current_split().canary_weight == 5
        refused = controller.step(+1, "key +", who="sre@bridge")
        assert not refused.ok and SCALED_TO_0 in refused.message
        assert controller.set_weight(0, "key w", who="sre@bridge").ok
    finally:
        controller.close()


# --- a route this console does not drive, to a canary at 0 pods -------------------------------


def test_a_rollback_says_the_header_route_now_fails_and_the_poll_watches_its_pods(rolled_back):
    """The guide's x-canary route is opt-in: a rollback leaves it (the guide's merge patch deleted
    it) but scales the canary to 0, so each of its requests fails. Before, nothing said so."""
    controller, clock = rolled_back
    alarm = [e for e in controller.state().events if e.kind == "alarm"]
    assert len(alarm) == 1 and not alarm[0].ok
    assert alarm[0].message == ('route canary-header (headers x-canary exact "true"; not driven) still sends '
                                "requests to the canary, now at 0 replicas: they fail until the canary is scaled "
                                "up (:scale N, canary-console scale N) or the route is changed")
    assert (alarm[0].who, alarm[0].reason) == ("sre@bridge", "5xx on /pay")
    clock.advance(2)
    state = controller.poll_once()
    assert state.canary_pods == (0, 0)
    # `status` says it too, in text and in JSON
    from tui.cli import render_status, status_document

    doc = status_document(state)
    assert [(r["name"], r["fails"]) for r in doc["routes"]] == [("canary-header", "canary at 0 pods"), ("default", None)]
    assert "[not driven] headers x-canary exact \"true\"  FAILS: canary at 0 pods" in render_status(doc)
    assert controller.scale_canary(2, "fixed build", who="sre@bridge").ok
    clock.advance(2)
    assert controller.poll_once().canary_pods == (2, 0)  # starting: still no pod to answer
    assert [e.kind for e in controller.state().events].count("alarm") == 1  # not over yet
    clock.advance(20)
    assert controller.poll_once().canary_pods == (2, 2)
    served = controller.state().events[-1]  # the alarm's end, for the timeline and the webhook
    assert (served.kind, served.ok, served.message) == (
        "alarm", True, "route canary-header: requests to the canary are served again (2 of 2 canary pods ready)")
    assert controller.step(+1, "key +", who="sre@bridge").ok
    clock.advance(2)
    assert controller.poll_once().canary_pods is None  # weighted again: the judge watches it


def test_the_pods_are_read_only_while_nothing_but_opt_in_routes_reach_the_canary():
    controller, clock = make_demo_controller()
    reads = []
    readiness = controller.router.canary_readiness
    controller.router.canary_readiness = lambda: reads.append(1) or readiness()
    try:
        controller.poll_once()
        assert controller.state().canary_pods is None and reads == []  # canary weighted 5%: no extra call
        controller.router.canary_readiness = lambda: (_ for _ in ()).throw(BackendError("timed out"))
        assert controller.set_weight(0, "drain", who="sre@bridge").ok
        clock.advance(2)
        state = controller.poll_once()
        assert state.error is None and state.canary_pods is None  # its failure is no answer, not the poll's
    finally:
        controller.close()
