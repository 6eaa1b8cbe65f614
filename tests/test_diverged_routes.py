"""Driven routes at different weights (one region moved with --route): no step jumps a route.

Before, on the guide's multi-region VirtualService with us-east at 10% and default at 5%,
`+` set both to 15%: default's canary share tripled in one press, and the event log and the
audit trail said "canary 10% -> 15%".
"""

from __future__ import annotations

import time

import pytest

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    fk,
    guide,
    guide_vs,
    kubeconfig,
    stored_vs,
    weights,
    write_config,
)
from tui.app.app import CanaryApp
from tui.app.screens.weight import WeightScreen
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import load


@pytest.fixture
def controller(guide, kubeconfig, tmp_path):
    guide.put_object(guide_vs(multiregion=True))
    made = build_controller(load(write_config(tmp_path, kubeconfig)), clock=ManualClock(start=time.time()),
                            who="sre@bridge")
    assert made.set_weight(10, "us-east first", route="us-east").ok  # as the guide's manifest has it
    yield made
    made.close()


def test_a_step_or_automation_over_diverged_routes_is_refused(controller, guide):
    assert controller.current_split().diverged == (("us-east", 10), ("default", 5))
    for result in (controller.step(+1, "key +"), controller.step(-1, "key -"), controller.set_automation(True)):
        assert not result.ok
        assert "the driven routes differ (us-east 10%, default 5%)" in result.message
        assert "set one weight for all first" in result.message
    vs = stored_vs(guide)
    assert (weights(vs, "us-east"), weights(vs, "default")) == ([90, 10], [95, 5])
    assert not controller.autopilot.progress.enabled


def test_one_weight_for_all_says_where_each_route_came_from(controller, guide):
    result = controller.set_weight(10, "align the regions")
    assert result.ok and result.message == "canary us-east 10% -> 10%, default 5% -> 10%"
    assert controller.state().events[-1].message == result.message
    assert controller.step(+1, "key +").ok  # aligned: a step moves each route by one step
    vs = stored_vs(guide)
    assert (weights(vs, "us-east"), weights(vs, "default")) == ([85, 15], [85, 15])


async def test_the_weight_dialog_names_each_routes_weight(controller):
    controller.poll_once()
    app = CanaryApp(controller, poll=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WeightScreen)
        question = str(screen.query_one("#question").render())
        assert "every driven route (now us-east 10%, default 5%)" in question


async def test_large_print_says_the_routes_differ_and_shows_a_change_made_outside(controller, guide):
    controller.poll_once()
    app = CanaryApp(controller, poll=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("L")
        await pilot.pause()
        bridge = app.screen
        assert str(bridge.query_one("#weight-label").render()) == "weight %\nus-east\nroutes differ"
        # kubectl moves the default route: the last decision on the shared screen is that move.
        def edit(obj):
            route = next(r for r in obj["spec"]["http"] if r.get("name") == "default")
            route["route"][0]["weight"], route["route"][1]["weight"] = 80, 20
        guide.mutate("networking.istio.io", "x0tta6bl4", "virtualservices", "x0tta6bl4-app", edit)
        app.apply_state(controller.poll_once())
        await pilot.pause()
        decision = str(bridge.query_one("#decision").render())
        assert decision.splitlines()[0] == "routes differ: us-east canary 10%, default canary 20%"
        assert "outside: weights changed outside this console: route default: canary 5% -> 20%" in decision


def test_the_reports_timeline_keeps_each_routes_weight(controller):
    from tui.operations.report import build_report, render_markdown

    controller.set_weight(10, "align the regions")
    text = render_markdown(build_report(controller.rollout_record, controller.config))
    row = next(line for line in text.splitlines() if "align the regions" in line)
    assert row.endswith("| align the regions — canary us-east 10% -> 10%, default 5% -> 10% |")
    plain = next(line for line in text.splitlines() if "us-east first" in line)
    assert plain.endswith("| us-east first — canary 10% -> 10% on route us-east |")


def test_a_weight_that_raises_any_route_is_checked_against_a_canary_that_cannot_serve(controller, guide):
    """Before: with us-east at 10% and default at 5%, `w 8` on a canary scaled to 0 went through:
    only the first route (10% -> 8%) was compared, and default's share rose to 8% of failing requests."""
    from istio_fixtures import set_ready

    set_ready(guide, 0)  # its pods are not ready
    result = controller.set_weight(8, "align lower")
    assert not result.ok and "none of the canary's 2 replicas is ready yet" in result.message
    vs = stored_vs(guide)
    assert (weights(vs, "us-east"), weights(vs, "default")) == ([90, 10], [95, 5])
    assert controller.set_weight(5, "align down").ok  # lower on every route: the safe way
