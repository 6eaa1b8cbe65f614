"""Deterministic demo screens (seeded demo, manual clock, no polling): for snapshots and screenshots."""

from __future__ import annotations

from tui.app.app import CanaryApp
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import demo_config

SHOWCASE_START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def showcase_app(fault: str = "none", canary: int = 5, minutes: int = 10, who: str = "sre@bridge",
                 read_only: bool = False) -> CanaryApp:
    """The demo after `minutes` at `canary`% with `fault`, frozen at that instant."""
    clock = ManualClock(start=SHOWCASE_START)
    controller = build_controller(demo_config(), clock=clock, who=who)
    controller.backfill()
    if canary != 5:
        controller.set_weight(canary, reason="showcase setup")
    if fault != "none":
        controller.set_fault(fault)
    for _ in range(int(minutes * 60 / controller.config.interval_s)):
        clock.advance(controller.config.interval_s)
        controller.poll_once()
    controller.read_only = read_only
    return CanaryApp(controller, poll=False)
