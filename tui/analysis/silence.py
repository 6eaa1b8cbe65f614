"""Silence: a version routed traffic that serves none while the other version serves.

A crashed version looks like this: its own metrics (and, with Istio, the destination
reporter's) vanish while its share of the requests fails. No check can judge it (there
are no counts), so the judge says it as an alarm instead (see judge.SequentialJudge).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.model import VersionSample

MIN_SILENT_EXPECTED = 10.0  # requests a silent version would have served: P(none by chance) = e^-10


@dataclass
class Silence:
    """How long a routed version has served nothing while the other serves, and how many requests
    its weight would have brought it meanwhile. Silence alarms after `idle_s` and
    MIN_SILENT_EXPECTED requests: at 0.1 request/s a quiet 10 s is chance, not a crash."""

    seconds: float = 0.0
    expected: float = 0.0

    def update(self, counted: float | None, other_counted: float | None, own: VersionSample,
               theirs: VersionSample, weight: int | None, dt: float, error: bool) -> None:
        """One poll: the requests each version counted in it (None: no series), their samples,
        this version's weight and the poll's span."""
        other_rate = theirs.value("requests_per_second")
        if other_rate is None and other_counted:
            other_rate = other_counted / dt
        if not weight or weight >= 100 or error or not other_rate or other_rate <= 0:
            # Not routed, a failed poll, or a source showing no traffic at all (its problem, not a version's).
            self.seconds = self.expected = 0.0
            return
        own_rate = own.value("requests_per_second")
        # No series at all is silence at once: a failed scrape marks them stale, while rate() over
        # the window replays the traffic from before for up to a window. A count of 0 with a rate
        # still showing traffic is only a poll between two scrapes.
        quiet = counted is None or (counted <= 0 and not (own_rate is not None and own_rate > 0))
        if not quiet:
            self.seconds = self.expected = 0.0
            return
        self.seconds += dt
        self.expected += dt * other_rate * weight / (100 - weight)

    def alarming(self, idle_s: float) -> bool:
        return self.seconds >= idle_s and self.expected >= MIN_SILENT_EXPECTED
