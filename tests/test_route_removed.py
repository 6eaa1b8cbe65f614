"""The guide's hand rollback under a running console: its `kubectl patch --type merge` on spec.http
replaces every route with one to stable, so the canary's route is gone (and the header route with it)."""

from __future__ import annotations

import http.client
import json
import time
from datetime import timedelta
from urllib.parse import urlsplit

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    G,
    NS,
    VS,
    ScriptedEvaluator,
    fast_policy,
    fk,
    guide,
    guide_vs,
    kubeconfig,
    run_polls,
    stored_vs,
    weights,
    write_config,
)
from tui.clock import ManualClock
from tui.config import load
from tui.operations.report import build_report, render_markdown

# The guide's rollback script, as kubectl sends it: a merge patch, which replaces arrays whole.
GUIDE_ROLLBACK = {"spec": {"http": [{"route": [{"destination": {"host": "x0tta6bl4-app-stable"}, "weight": 100}]}]}}


def kubectl_merge_patch(fk, body: dict) -> int:
    url = urlsplit(fk.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("PATCH", f"/apis/{G}/v1/namespaces/{NS}/virtualservices/{VS}", body=json.dumps(body),
                 headers={"Authorization": "Bearer fake-token-SECRET123",
                          "Content-Type": "application/merge-patch+json"})
    status = conn.getresponse().status
    conn.close()
    return status


def automated_console(kubeconfig, tmp_path):
    """alice's console on the guide's rollout, automation on, the judge always passing."""
    from tui.assembly import build_controller

    clock = ManualClock(start=time.time())
    controller = build_controller(load(write_config(tmp_path, kubeconfig)), clock=clock, who="alice@laptop")
    controller.evaluator = ScriptedEvaluator()
    fast_policy(controller, bake_s=60.0)
    assert controller.toggle_auto().ok
    return controller, clock


def test_a_hand_rollback_that_removed_the_canarys_route_is_a_change_made_outside(guide, kubeconfig, tmp_path):
    """Before: every poll failed with "has no http route to the canary ...: check router.canary in
    the config" (the config had not changed), nothing was said of who changed what, and automation
    carried on judging and waiting to step as if nothing had happened."""
    controller, clock = automated_console(kubeconfig, tmp_path)
    run_polls(controller, clock, 62)
    assert weights(stored_vs(guide), "default") == [90, 10]

    assert kubectl_merge_patch(guide, GUIDE_ROLLBACK) == 200
    state = run_polls(controller, clock, 120)
    said = [e for e in state.events if e.kind == "outside"]
    assert [e.message for e in said] == [
        "VirtualService x0tta6bl4/x0tta6bl4-app no longer routes to the canary "
        "x0tta6bl4-app-canary.x0tta6bl4-canary.svc.cluster.local (subset canary) (it did at "
        f"{said[0].at - timedelta(seconds=2):%H:%M:%S}): changed outside "
        "this console (kubectl, GitOps or another tool?); its routes now: #0: x0tta6bl4-app-stable 100%"]
    assert not any(e.kind == "error" and "no longer routes" in e.message for e in state.events)  # said once
    assert (said[0].from_canary, said[0].to_canary) == (10, 0)  # in effect: it gets nothing now
    report = render_markdown(build_report(controller.rollout_record, controller.config))
    assert ("| unknown | outside | 10% → 0% | VirtualService x0tta6bl4/x0tta6bl4-app no longer routes to the "
            "canary") in report
    stages = [row for row in report.split("## By Canary Weight")[1].split("##")[0].splitlines()
              if row.startswith("| ") and "%" in row]
    assert [row.split(" | ")[0] for row in stages] == ["| 5%", "| 10%", "| 0%"]  # not back to 10% from stale weights
    assert "- Final: 0%" in report
    assert state.mode == "AUTO HELD"
    assert state.automation == "HELD: no route to the canary any more: changed outside this console (a: resume)"
    assert state.stale and "no longer routes to the canary" in state.error
    assert "check router.canary" not in state.error  # the config is not what changed
    # A person's rollback now: refused, saying the canary has no route (not "check the config").
    result = controller.rollback(reason="key r (confirmed)", who="alice@laptop")
    assert not result.ok and "no longer routes to the canary" in result.message, result.message
    assert stored_vs(guide)["spec"]["http"] == GUIDE_ROLLBACK["spec"]["http"]  # nothing written over it

    # The route is put back (kubectl apply of the guide's VirtualService): the poll recovers, the
    # weights it finds are a change made outside, and automation waits for a person.
    restored = guide_vs()
    restored["metadata"]["annotations"] = stored_vs(guide)["metadata"].get("annotations", {})
    guide.put_object(restored)
    state = run_polls(controller, clock, 4)
    assert not state.stale and state.split.canary_weight == 5
    assert any(e.message.startswith("poll recovered after 2m") for e in state.events)
    assert state.mode == "AUTO HELD"
    assert controller.toggle_auto().ok and controller.state().mode == "AUTO"


def test_the_guides_hand_step_to_short_host_names_says_where_the_routes_go_now(guide, kubeconfig, tmp_path):
    """The guide's "+10%" by hand: a merge patch to hosts `x0tta6bl4-app-stable` and `x0tta6bl4-app-canary`,
    short names that Istio resolves in the VirtualService's namespace, where no canary Service is,
    and without the subset. The console's canary gets nothing; the event says where requests go now."""
    from tui.assembly import build_controller

    clock = ManualClock(start=time.time())
    controller = build_controller(load(write_config(tmp_path, kubeconfig)), clock=clock, who="alice@laptop")
    run_polls(controller, clock, 4)
    guide_step = {"spec": {"http": [{"route": [
        {"destination": {"host": "x0tta6bl4-app-stable"}, "weight": 85},
        {"destination": {"host": "x0tta6bl4-app-canary"}, "weight": 15}]}]}}
    assert kubectl_merge_patch(guide, guide_step) == 200
    state = run_polls(controller, clock, 4)
    said = [e.message for e in state.events if e.kind == "outside"]
    assert len(said) == 1 and said[0].endswith(
        "its routes now: #0: x0tta6bl4-app-stable 85%, x0tta6bl4-app-canary 15%"), said
    assert state.weights_stale
    controller.close()


def test_a_virtual_service_deleted_under_the_console_is_a_change_made_outside(guide, kubeconfig, tmp_path):
    """Before: "VirtualService ... not found: check router.namespace and router.virtualService" at
    every poll, as if the config were wrong, while automation carried on."""
    controller, clock = automated_console(kubeconfig, tmp_path)
    run_polls(controller, clock, 4)
    assert guide.delete_object(G, NS, "virtualservices", VS)
    state = run_polls(controller, clock, 4)
    said = [e.message for e in state.events if e.kind == "outside"]
    assert len(said) == 1 and said[0].endswith("its routes now: none: the VirtualService was deleted"), said
    assert state.mode == "AUTO HELD" and state.weights_stale
    controller.close()
