"""A console that watches (another drives) shows the driver's automation, and carries it on from
where the driver stored it when it takes over.

Before, a watcher's header said only READ-ONLY, and its automation state was what it read when it
started: taking over after the driver quit at 15%, it stepped "on" to 10% (then 15% again).
"""

from __future__ import annotations

import time

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    fk,
    guide,
    kubeconfig,
    stored_vs,
    weights,
    write_config,
)
from tests.test_progression import ScriptedEvaluator
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import load
from tui.controller.driver import DriverGuard


def _console(config, clock, who):
    controller = build_controller(load(config), clock=clock, who=who)
    controller.evaluator = ScriptedEvaluator()
    controller.autopilot.policy = controller.config.rollout.__class__(
        **{**controller.config.rollout.__dict__, "bake_s": 60.0})
    guard = DriverGuard(controller, controller.router.driver_lease(), holder=f"{who} pid 1")
    guard.check()
    return controller, guard


def test_a_watcher_shows_the_drivers_automation_and_takes_it_over_where_it_stands(guide, kubeconfig, tmp_path):
    config = write_config(tmp_path, kubeconfig)
    start = time.time()
    clock_a, clock_b = ManualClock(start=start), ManualClock(start=start)
    alice, guard_a = _console(config, clock_a, "alice@a")
    bob, guard_b = _console(config, clock_b, "bob@b")
    try:
        assert not alice.read_only and bob.read_only
        assert alice.toggle_auto(who="alice@a").ok
        bob.resume_automation()  # as the console does at start: it only watches
        assert not [e for e in bob.state().events if e.kind == "auto"]  # no "resumed" from a watcher
        for _ in range(65):  # a bit over two bakes: alice's automation walks 5 -> 10 -> 15
            clock_a.advance(2)
            clock_b.advance(2)
            alice.poll_once()
            bob.poll_once()
        assert weights(stored_vs(guide), "default") == [85, 15]
        assert bob.state().automation.startswith("driver: step 3/10 at 15% → 20% in")
        guard_a.stop()  # alice quits; her automation stays on in the VirtualService
        alice.close()
        guard_b.check()
        assert not bob.read_only
        resumed = [e.message for e in bob.state().events if e.kind == "auto"]
        assert resumed == ["resumed automatic progression at step 3/10 (15%)"]
        for _ in range(40):
            clock_b.advance(2)
            bob.poll_once()
        assert weights(stored_vs(guide), "default") == [80, 20]  # on from 15%, never back to 10%
        assert [e.to_canary for e in bob.state().events if e.kind == "auto-step"] == [20]
    finally:
        guard_b.stop()
        bob.close()


def test_status_says_who_drives_and_what_their_automation_does(guide, kubeconfig, tmp_path, capsys):
    import json

    from istio_fixtures import put_lease
    from tui.cli import main

    config = write_config(tmp_path, kubeconfig)
    assert main(["status", "--config", str(config)]) == 0
    assert "  no console drives it (the lease is free)" in capsys.readouterr().out.splitlines()
    alice, guard = _console(config, ManualClock(start=time.time()), "alice@a")
    try:
        assert alice.toggle_auto(who="alice@a").ok
        out_lines = (main(["status", "--config", str(config)]), capsys.readouterr().out)[1].splitlines()
        assert any(line.startswith("  driven by alice@a pid 1 (lease until ") for line in out_lines)
        assert any(line.startswith("  automation: step 1/10 at 5% → 10% in ") for line in out_lines)
        assert main(["status", "--json", "--config", str(config)]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["driver"]["holder"] == "alice@a pid 1" and doc["automation"]["on"] is True
    finally:
        guard.stop()
        alice.close()
    put_lease(guide, "bob@b pid 2", renewed=time.time() - 60)  # expired: nobody drives
    assert main(["status", "--config", str(config)]) == 0
    assert "  no console drives it (the lease is free)" in capsys.readouterr().out.splitlines()


def test_a_driver_that_cannot_read_its_lease_says_automation_is_paused_not_who_drives():
    """Before: with the API unreachable, the console went read-only and its header read "driver:
    step 1/10 at 5% → 10% once every check passes": another console seemed to drive, and none did."""
    from tests.conftest import make_demo_controller
    from tui.backends.base import BackendError, LeaseStatus

    class FlakyLease:
        down = False

        def try_acquire(self, holder, duration_s):
            if self.down:
                raise BackendError("Kubernetes API did not answer within 2s", transient=True)
            return LeaseStatus(True, holder)

        def release(self, holder):
            pass

        def describe(self):
            return "test lease"

    controller, _ = make_demo_controller()
    lease = FlakyLease()
    guard = DriverGuard(controller, lease, holder="alice@laptop pid 1")
    guard.check()
    assert controller.toggle_auto().ok
    lease.down = True
    guard.check()
    state = controller.state()
    assert state.read_only and state.automation == \
        "automation paused: the lease cannot be read, so no console may drive"
    lease.down = False
    guard.check()
    assert not controller.read_only and controller.state().automation.startswith("step 1/10 at 5%")
    controller.close()
