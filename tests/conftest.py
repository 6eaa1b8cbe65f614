"""Shared fixtures: a demo controller on a manual clock, so tests decide when time passes."""

from __future__ import annotations

import pytest

from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import demo_config

TEST_WHO = "sre@bridge"


def make_demo_controller(read_only: bool = False, **demo):
    clock = ManualClock(start=1_800_000_000.0)  # 2027-01-15 08:00:00 UTC
    controller = build_controller(demo_config(**demo), clock=clock, read_only=read_only, who=TEST_WHO)
    return controller, clock


@pytest.fixture
def demo_controller():
    controller, clock = make_demo_controller()
    yield controller, clock
    controller.close()
