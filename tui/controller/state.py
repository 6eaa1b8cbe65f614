"""What the controller hands out: the state the screen draws in one batch, and an action's result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tui.controller.history import HistoryPoint
from tui.model import Event, MetricsSnapshot, Route, TrafficSplit, Verdict


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str
    split: TrafficSplit | None = None
    skipped_routes: tuple[str, ...] = ()
    # Failed for a reason that may pass (the API timed out, answered 5xx, or a concurrent edit won):
    # automation tries again at the next poll rather than give up on a blip.
    transient: bool = False


@dataclass(frozen=True)
class ConsoleState:
    """Everything the screen shows, taken at once so it is drawn in one batch."""

    name: str
    split: TrafficSplit | None
    snapshot: MetricsSnapshot | None
    verdict: Verdict | None
    history: tuple[HistoryPoint, ...]
    events: tuple[Event, ...]
    now: datetime
    last_success: datetime | None  # time of the last good metrics sample
    error: str | None  # why the last poll failed, if it did
    read_only: bool
    router: str
    metrics: str
    interval_s: float
    read_only_reason: str = ""
    mode: str = "MANUAL"
    automation: str = ""  # one line about automatic progression, when on
    fault: str | None = None  # the demo's current fault, when there is one
    steps: tuple[int, ...] = ()  # rollout.steps: the plan the weights walk
    promote: str = "manual"  # rollout.promote: what happens after the last step
    # When this console last saw the weights move (its own write, or a change read from outside,
    # which may carry no change note): rates over the window mix in the old split until then + window.
    weights_moved_at: datetime | None = None
    split_read_at: datetime | None = None  # when the weights on screen were read (or written)
    split_failed: bool = False  # the latest read of the weights failed: those on screen are older
    # "DEMO" (weights and metrics made up), "SIMULATED METRICS" (a rehearsal: real weights, made-up
    # traffic) or "SIMULATED WEIGHTS"; "" when both are real. Shown wherever the name is.
    simulated: str = ""
    # (replicas, ready) of the canary while only routes this console does not drive reach it (after
    # a rollback); None otherwise. At 0 ready, every request on those routes fails.
    canary_pods: tuple[int, int] | None = None

    def route_fails(self, route: Route) -> str | None:
        """Why every request of a route this console does not drive fails (it reaches a canary
        without a ready pod: the header route after a rollback), or None."""
        if self.canary_pods is None or route.driven or route.canary_weight <= 0:
            return None
        replicas, ready = self.canary_pods
        if replicas == 0:
            return "canary at 0 pods"
        return f"0 of {replicas} canary pods ready" if ready == 0 else None

    @property
    def data_at(self) -> datetime | None:
        """When the older of the data on screen was read: the metrics, or the weights they are
        shown at (a poll whose metrics came but whose weights could not be read is not fresh)."""
        read = [t for t in (self.last_success, self.split_read_at) if t is not None]
        return min(read) if self.last_success is not None else None

    @property
    def weights_stale(self) -> bool:
        """The weights on screen are the last ones read, and reading them fails since. (Not their
        age: a poll slow in its metrics read them fine; the header ages the data for that.)"""
        return self.split_read_at is not None and self.split_failed

    @property
    def data_age_s(self) -> float | None:
        if self.data_at is None:
            return None
        return max(0.0, (self.now - self.data_at).total_seconds())

    @property
    def scrape_age_s(self) -> float | None:
        """How long ago the source scraped the data on screen (None: the source does not say)."""
        return self.scrape_age_at(self.now.timestamp())

    def scrape_age_at(self, now: float) -> float | None:
        """The scrape's age at `now` (epoch seconds): the header ticks it between polls."""
        if self.snapshot is None or self.snapshot.scraped_at is None:
            return None
        return max(0.0, now - self.snapshot.scraped_at.timestamp())

    @property
    def stale(self) -> bool:
        age = self.data_age_s
        return self.error is not None or age is None or age > 2 * self.interval_s

    @property
    def data_problem(self) -> str | None:
        """What is wrong with the data on screen, in one line, or None (every view says it the same way)."""
        if self.stale and self.snapshot is not None:
            return f"STALE: {self.error or 'no fresh sample'}; checks count as no data"
        if self.error:
            return f"NO DATA: {self.error}"
        return None
