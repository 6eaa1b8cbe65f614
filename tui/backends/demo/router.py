"""The demo's traffic router: the same contract as the Istio router, over routes held in memory."""

from __future__ import annotations

from tui.backends.base import WriteRefused
from tui.backends.demo.routes import RouteTable
from tui.model import TrafficSplit, WeightChange, WeightError, validate_weight, with_weights


class DemoRouter:
    def __init__(self, table: RouteTable, description: str = "demo router (simulated)",
                 simulated: bool = True) -> None:
        self.table = table
        self.description = description
        self.simulated = simulated  # the lab's is not: its load generator sends real requests by these weights

    def describe(self) -> str:
        return self.description

    def read(self) -> TrafficSplit:
        return self.table.split()

    def set_canary_weight(self, canary: int, change: WeightChange, route: str | None = None,
                          force: bool = False) -> TrafficSplit:
        try:
            validate_weight(canary)
        except WeightError as exc:
            raise WriteRefused(str(exc)) from None
        current = self.table.split()
        targets = [r for r in current.driven_routes if route is None or r.label == route]
        if not targets:
            raise WriteRefused(f"no driven route named {route!r}" if route else "no driven route to change")
        wanted = {r.index for r in targets}
        routes = tuple(with_weights(r, canary) if r.index in wanted else r for r in current.routes)
        return self.table.write_routes(routes, expected_version=current.version, change=change)

    def scale_canary(self, replicas: int) -> None:
        if replicas < 0:
            raise WriteRefused("replicas must be >= 0")
        self.table.set_canary_replicas(replicas)

    def canary_replicas(self) -> int | None:
        return self.table.canary_replicas

    def canary_readiness(self) -> tuple[int, int] | None:
        """(replicas, replicas ready): scaled up from 0, the demo's pods take a while to start."""
        return self.table.canary_replicas, self.table.ready_replicas()

    def close(self) -> None:
        pass
