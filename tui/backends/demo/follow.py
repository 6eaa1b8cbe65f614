"""A real router with the demo's simulated metrics: the simulation follows the real weights.

A rehearsal (`router.kind: istio`, `metrics.kind: demo`) steers a real VirtualService and
judges simulated traffic. That traffic must be split as the VirtualService says, or the
served share, the judge's counts and every step would describe weights nobody set.
"""

from __future__ import annotations

from typing import Any

from tui.backends.base import TrafficRouter
from tui.backends.demo.simulation import DemoWorld
from tui.model import TrafficSplit, WeightChange


def _driven(split: TrafficSplit) -> tuple[tuple[int, int], ...]:
    return tuple((r.stable_weight, r.canary_weight) for r in split.driven_routes)


class FollowedRouter:
    """Wraps a router: every split it reads or writes, and every canary scale, is copied into
    the simulation (no extra requests: only what the controller asked for anyway)."""

    def __init__(self, router: TrafficRouter, world: DemoWorld) -> None:
        self.router = router
        self.world = world
        self._first = True  # the first split read: the weights the simulated past (backfill) had

    def describe(self) -> str:
        return self.router.describe()

    def read(self) -> TrafficSplit:
        return self._follow(self.router.read())

    def set_canary_weight(self, canary: int, change: WeightChange, route: str | None = None,
                          force: bool = False) -> TrafficSplit:
        return self._follow(self.router.set_canary_weight(canary, change, route=route, force=force))

    def scale_canary(self, replicas: int) -> None:
        self.router.scale_canary(replicas)
        self.world.table.set_canary_replicas(replicas)

    def canary_replicas(self) -> int | None:
        read = getattr(self.router, "canary_replicas", None)
        replicas = read() if read is not None else None
        self._follow_replicas(replicas)
        return replicas

    def canary_readiness(self) -> tuple[int, int] | None:
        read = getattr(self.router, "canary_readiness", None)
        got = read() if read is not None else None
        self._follow_replicas(got[0] if got is not None else None)
        return got

    def _follow_replicas(self, replicas: int | None) -> None:
        """A scale made outside the console (kubectl scale) reaches the simulation too."""
        if replicas is not None and replicas != self.world.table.canary_replicas:
            self.world.table.set_canary_replicas(replicas)

    def close(self) -> None:
        self.router.close()

    def __getattr__(self, name: str) -> Any:
        # The router's optional parts (its lease, its progress store, left_as_is) as they are.
        return getattr(self.router, name)

    def _follow(self, split: TrafficSplit) -> TrafficSplit:
        table = self.world.table
        if _driven(split) != _driven(table.split()):
            # Later changes: the simulation first serves the traffic up to now under the old weights.
            table.write_routes(split.routes, expected_version=None, since_start=self._first)
        self._first = False
        return split
