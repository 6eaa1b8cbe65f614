"""The built-in demo: a seeded simulation of stable and canary traffic (a real backend, not a mock)."""

from tui.backends.demo.simulation import DemoWorld, VersionProfile
from tui.backends.demo.router import DemoRouter
from tui.backends.demo.metrics import DemoMetrics

__all__ = ["DemoWorld", "VersionProfile", "DemoRouter", "DemoMetrics"]
