"""The demo's metric source: per-version samples from the simulated world."""

from __future__ import annotations

from datetime import datetime, timezone

from tui.backends.demo.simulation import DemoWorld
from tui.model import MetricsSnapshot


class DemoMetrics:
    simulated = True  # made-up numbers: said on screen beside the rollout's name

    def __init__(self, world: DemoWorld) -> None:
        self.world = world

    def describe(self) -> str:
        return "demo metrics (simulated)"

    def poll(self) -> MetricsSnapshot:
        return self._snapshot(None)

    def backfill(self, seconds: float, step: float) -> list[MetricsSnapshot]:
        """Replays the world's own past (it starts `history_s` back), one snapshot per step."""
        world = self.world
        end = world.clock.time()
        t = max(world.sim_time, end - seconds)
        out: list[MetricsSnapshot] = []
        while t + step <= end:
            t += step
            out.append(self._snapshot(t))
        return out

    def _snapshot(self, until: float | None) -> MetricsSnapshot:
        stable, canary, span = self.world.take_samples(until)
        at = datetime.fromtimestamp(self.world.sim_time, tz=timezone.utc)
        return MetricsSnapshot(at=at, stable=stable, canary=canary, interval_s=span)

    def close(self) -> None:
        pass
