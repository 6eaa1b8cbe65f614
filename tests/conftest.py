"""Shared fixtures: a demo controller on a manual clock, so tests decide when time passes."""

from __future__ import annotations

import pytest

from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import demo_config

TEST_WHO = "sre@bridge"


class UnreadableRouter:
    """A router whose reads time out, as an unreachable API's do, while anything else (its writes,
    the metrics) goes on: the console no longer knows the weights."""

    def __init__(self, router):
        self.router = router

    def __getattr__(self, name):
        return getattr(self.router, name)

    def read(self):
        from tui.backends.base import BackendError

        raise BackendError("Kubernetes API: read timed out (5s)", transient=True)


def make_demo_controller(read_only: bool = False, **demo):
    clock = ManualClock(start=1_800_000_000.0)  # 2027-01-15 08:00:00 UTC
    controller = build_controller(demo_config(**demo), clock=clock, read_only=read_only, who=TEST_WHO)
    return controller, clock


@pytest.fixture
def demo_controller():
    controller, clock = make_demo_controller()
    yield controller, clock
    controller.close()
