"""Snapshot tests of the main screen in deterministic states (seeded demo, manual clock, no polling)."""

from tests.conftest import make_demo_controller
from tui.app.app import CanaryApp


def deterministic_app(fault: str = "none", canary: int = 5, minutes: int = 10) -> CanaryApp:
    controller, clock = make_demo_controller()
    controller.backfill()
    if canary != 5:
        controller.set_weight(canary, reason="snapshot setup")
    if fault != "none":
        controller.set_fault(fault)
    for _ in range(minutes * 30):
        clock.advance(2)
        controller.poll_once()
    return CanaryApp(controller, poll=False)


def test_main_screen_healthy(snap_compare):
    assert snap_compare(deterministic_app(), terminal_size=(120, 36))


def test_main_screen_during_a_canary_error_fault(snap_compare):
    assert snap_compare(deterministic_app(fault="errors", canary=20, minutes=3), terminal_size=(120, 36))


def test_main_screen_at_80x24(snap_compare):
    assert snap_compare(deterministic_app(), terminal_size=(80, 24))


def test_rollback_confirmation(snap_compare):
    assert snap_compare(deterministic_app(), terminal_size=(100, 30), press=["r"])
