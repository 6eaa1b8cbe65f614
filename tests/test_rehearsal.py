"""A rehearsal: a real VirtualService steered, simulated metrics judged (`metrics.kind: demo`).

The simulated traffic follows the VirtualService's weights, its own writes and anyone else's,
and the canary's scale. Before, it stayed at its own 5% whatever the VirtualService said: the
traffic panel read "Served canary 4.9%" under a route at 20%, and the judge counted requests
at a weight nobody had set.
"""

from __future__ import annotations

import time

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    G,
    NS,
    VS,
    fk,
    guide,
    kubeconfig,
    write_config,
)
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import load


def _set_default_route(fk, canary: int) -> None:
    """What `kubectl edit` would do: new weights, no change note."""
    def edit(obj):
        route = next(r for r in obj["spec"]["http"] if r.get("name") == "default")
        route["route"][0]["weight"], route["route"][1]["weight"] = 100 - canary, canary
    fk.mutate(G, NS, "virtualservices", VS, edit)


def _served_share(controller, clock, seconds: int = 90) -> float:
    for _ in range(seconds // 2):
        clock.advance(2)
        state = controller.poll_once()
    c = state.snapshot.canary.requests_per_second
    s = state.snapshot.stable.requests_per_second
    return c / (c + s)


def test_the_simulated_traffic_follows_the_virtualservice(guide, kubeconfig, tmp_path):
    _set_default_route(guide, 30)  # before the console starts: its backfilled past is at 30% too
    clock = ManualClock(start=time.time())
    controller = build_controller(load(write_config(tmp_path, kubeconfig)), clock=clock)
    try:
        assert controller.backfill() > 0
        past = controller.history.points()
        assert {p.canary_weight for p in past} == {30}
        middle = past[len(past) // 2]
        assert 0.25 < middle.canary_rps / (middle.canary_rps + middle.stable_rps) < 0.35
        assert 0.25 < _served_share(controller, clock) < 0.35
        _set_default_route(guide, 50)  # someone else's change
        assert 0.45 < _served_share(controller, clock) < 0.55
        assert controller.set_weight(10, "step back", who="sre@bridge").ok  # this console's own
        assert 0.07 < _served_share(controller, clock) < 0.13
        assert controller.rollback("rehearsed", who="sre@bridge").ok
        assert controller.router.world.table.canary_replicas == 0
    finally:
        controller.close()


def test_a_scale_made_outside_the_console_reaches_the_simulation(guide, kubeconfig, tmp_path):
    """The simulated canary follows the Deployment's replicas read before a write, as it did before
    that read became the readiness read (kubectl scale --replicas=0 by hand: its share fails)."""
    from istio_fixtures import CANARY_NS, DEPLOYMENT

    clock = ManualClock(start=time.time())
    controller = build_controller(load(write_config(tmp_path, kubeconfig)), clock=clock)
    try:
        guide.mutate("apps", CANARY_NS, "deployments", DEPLOYMENT, lambda o: o["spec"].update(replicas=0))
        assert not controller.step(+1, "key +", who="sre@bridge").ok  # scaled to 0: refused
        assert controller.router.world.table.canary_replicas == 0
    finally:
        controller.close()
