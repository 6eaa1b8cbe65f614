"""The guide's routes held in memory: what the VirtualService is to Istio, for the demo and the lab."""

from __future__ import annotations

import threading
from typing import Callable

from tui.backends.base import ConflictError
from tui.model import Destination, Route, TrafficSplit, WeightChange

STABLE_HOST = "x0tta6bl4-app-stable.x0tta6bl4.svc.cluster.local"
CANARY_HOST = "x0tta6bl4-app-canary.x0tta6bl4-canary.svc.cluster.local"


class RouteTable:
    """Routes, a version bumped on every write (like a resourceVersion) and the canary's replicas.

    `before_change` runs under the lock before any write, so a simulation can serve the
    traffic up to now under the old weights first. A simulation passes its own `lock` so
    that both take one lock, never two in opposite orders.
    """

    def __init__(self, canary_weight: int = 5, source: str = "demo",
                 before_change: Callable[[], None] | None = None, lock: threading.RLock | None = None,
                 clock: Callable[[], float] | None = None, startup_s: float = 0.0) -> None:
        self._routes = guide_routes(canary_weight)
        self.version = 1
        self.canary_replicas = 2
        # Scaled up from 0, the canary's pods are ready `startup_s` later on `clock` (a simulation's;
        # without one they are ready at once): until then Istio would answer its share with 503s.
        self.clock, self.startup_s = clock, startup_s
        self.canary_ready_at: float | None = None
        self.source = source
        self.before_change = before_change or (lambda: None)
        self.lock = lock or threading.RLock()
        self.last_change: WeightChange | None = None  # what Istio keeps in an annotation

    def split(self) -> TrafficSplit:
        with self.lock:
            return TrafficSplit(routes=self._routes, version=str(self.version), source=self.source,
                                last_change=self.last_change)

    def write_routes(self, routes: tuple[Route, ...], expected_version: str | None,
                     change: WeightChange | None = None, since_start: bool = False) -> TrafficSplit:
        """Write the routes; `change` is the note stored with them (None: a write with no note,
        as kubectl would make). `since_start`: the routes were these all along (a simulation
        learning, at its start, the weights a real router holds), so no traffic is served first."""
        with self.lock:
            if expected_version is not None and expected_version != str(self.version):
                raise ConflictError(f"the split changed meanwhile (now version {self.version})")
            if not since_start:
                self.before_change()
            self._routes = routes
            self.version += 1
            if change is not None:
                self.last_change = change
            return self.split()

    def set_canary_replicas(self, replicas: int) -> None:
        with self.lock:
            self.before_change()
            if self.canary_replicas == 0 and replicas > 0 and self.clock is not None and self.startup_s > 0:
                self.canary_ready_at = self.clock() + self.startup_s
            self.canary_replicas = replicas
            self.version += 1

    def ready_replicas(self, at: float | None = None) -> int:
        """The canary's pods ready to serve at `at` (default: now on the clock)."""
        with self.lock:
            if self.canary_ready_at is not None and self.clock is not None:
                if (self.clock() if at is None else at) < self.canary_ready_at:
                    return 0
            return self.canary_replicas

    def shares(self) -> tuple[float, float]:
        """Fractions of all traffic reaching stable and canary under the (first) driven route."""
        with self.lock:
            driven = [r for r in self._routes if r.driven]
            if not driven:
                return 1.0, 0.0
            route = driven[0]
            total = route.total_weight or 100
            return route.stable_weight / total, route.canary_weight / total

    def weights(self) -> tuple[int, int]:
        """(stable, canary) of the driven route: what a load generator splits by."""
        stable, canary = self.shares()
        return round(stable * 100), round(canary * 100)


def guide_routes(canary_weight: int) -> tuple[Route, ...]:
    """The guide's VirtualService: an x-canary header route to the canary, then the weighted default."""
    header = Route(
        index=0,
        name="canary-header",
        match=('headers x-canary exact "true"',),
        destinations=(Destination(CANARY_HOST, "canary", 100, "canary"),),
        driven=False,
    )
    default = Route(
        index=1,
        name="default",
        match=(),
        destinations=(
            Destination(STABLE_HOST, "stable", 100 - canary_weight, "stable"),
            Destination(CANARY_HOST, "canary", canary_weight, "canary"),
        ),
        driven=True,
    )
    return (header, default)
