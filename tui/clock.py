"""Clocks: the real one, and a faster-than-real one for the demo, tests and benchmarks.

Everything that reads time (the demo simulation, the controller's bake timers)
reads it from a Clock, so a run can cover hours of simulated time in seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (UTC), simulated or real."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


def utc(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.time(), tz=timezone.utc)


class RealClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ScaledClock:
    """Real time multiplied by `speed` from the moment it is made (speed 60: a minute a second)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin_real = time.monotonic()
        self._origin_sim = time.time() if start is None else start

    def time(self) -> float:
        return self._origin_sim + (time.monotonic() - self._origin_real) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """Time moves only when told: `advance`, or `sleep` (which advances instantly)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
