"""Bounded history for the charts and the report: memory stays flat however long the console runs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tui.model import MetricsSnapshot


@dataclass(frozen=True)
class HistoryPoint:
    t: float  # epoch seconds (UTC)
    canary_weight: int | None
    stable_p95: float | None
    canary_p95: float | None
    stable_error: float | None
    canary_error: float | None
    stable_rps: float | None
    canary_rps: float | None


class History:
    def __init__(self, capacity: int = 600) -> None:
        self.capacity = capacity
        self._points: deque[HistoryPoint] = deque(maxlen=capacity)

    def add(self, snap: MetricsSnapshot, canary_weight: int | None) -> None:
        s, c = snap.stable, snap.canary
        self._points.append(
            HistoryPoint(
                t=snap.at.timestamp(),
                canary_weight=canary_weight,
                stable_p95=s.value("p95_ms"),
                canary_p95=c.value("p95_ms"),
                stable_error=s.value("error_rate"),
                canary_error=c.value("error_rate"),
                stable_rps=s.value("requests_per_second"),
                canary_rps=c.value("requests_per_second"),
            )
        )

    def points(self) -> tuple[HistoryPoint, ...]:
        return tuple(self._points)

    def __len__(self) -> int:
        return len(self._points)
