"""The rollout's recorded history, in constant memory however long it runs: what the report is built from.

Per version it keeps running sums and means, not samples:

* request and error counts summed from each poll's interval counts
  (``VersionSample.requests`` / ``.errors``), so the error rate over the whole rollout
  is errors / requests, weighted by traffic;
* the latency histogram summed bucket by bucket (``VersionSample.histogram``, the
  interval's cumulative counts), so p50/p95/p99 over the whole rollout come from
  every request, not from an average of percentiles;
* running mean / min / max / last of each windowed value (p95, error rate, rps,
  CPU cores, memory bytes) and of each business metric.

Besides: first and last poll times, the canary weight at start / initial / peak /
final, the last promote or rollback (the decision, its reason, and the verdict on screen
when it was made), how often each check failed, and a timeline (capped, oldest dropped
first and counted) of every weight change and check failure from the controller's events.

And the same sums per stage: each stretch the canary held one weight (capped like the
timeline). Over a whole rollout a fault is diluted (a canary rolled back for 7.55% errors
averaged 0.55% over its 42 minutes); the stage it happened at shows it.

Feed it ``on_poll(...)`` after each poll (or ``on_state(state)`` with the state
``poll_once`` returns) and subscribe ``on_event`` to the controller. A snapshot seen
twice (the console keeps showing the last good one after a failed poll) is counted
once. Thread-safe.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from tui.model import ROLES, Event, MetricsSnapshot, Result, TrafficSplit, Verdict, VersionSample, utc_iso

FORMAT = "canary-console/rollout-record/1"

WEIGHT_KINDS: tuple[str, ...] = ("set-weight", "step", "auto-step", "promote", "rollback", "outside")
TIMELINE_KINDS: tuple[str, ...] = WEIGHT_KINDS + ("check", "alarm", "scale")
DECISION_KINDS: dict[str, str] = {"promote": "promoted", "rollback": "rolled back"}

# The windowed values averaged over the rollout (VersionSample field names).
SAMPLE_METRICS: tuple[str, ...] = (
    "requests_per_second", "error_rate", "p50_ms", "p95_ms", "p99_ms", "cpu_cores", "memory_bytes",
)

LOAD_PER_INSTANCE = "requests_per_instance"  # a mean kept beside SAMPLE_METRICS, derived from two of them

DEFAULT_TIMELINE_CAPACITY = 5000
DEFAULT_STAGES_CAPACITY = 200
MAX_BUCKETS = 256  # a histogram with more distinct bounds than this is not summed further
MAX_NAMES = 100  # business metrics and check names kept (each is one small counter)


def _iso(at: datetime | None) -> str | None:
    """Full precision, UTC: the record's own times (the report rounds to seconds)."""
    return None if at is None else at.astimezone(timezone.utc).isoformat()


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _bound_out(bound: float) -> float | str:
    return "+Inf" if math.isinf(bound) else bound


def _bound_in(bound: float | str) -> float:
    return math.inf if bound in ("+Inf", "Inf", "inf") else float(bound)


def _cumulative_at(buckets: list[tuple[float, float]], bound: float) -> float:
    """The cumulative count of a histogram at ``bound``: that of its largest bound <= ``bound``."""
    count = 0.0
    for b, c in buckets:
        if b > bound:
            break
        count = c
    return count


class RunningMean:
    """count, mean, min, max and last of a stream of numbers, in constant memory."""

    __slots__ = ("count", "mean", "min", "max", "last")

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.last: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.mean += (value - self.mean) / self.count
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        self.last = value

    @property
    def value(self) -> float | None:
        return self.mean if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.value, "min": self.min, "max": self.max, "last": self.last}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunningMean":
        m = cls()
        m.count = int(d.get("count") or 0)
        m.mean = float(d.get("mean") or 0.0)
        m.min, m.max, m.last = d.get("min"), d.get("max"), d.get("last")
        return m


# What a stage keeps of each version beside its counts and histogram: the fallbacks of its
# error rate and p95 (a source without counts or histograms). Kept small: it is saved every 5 s.
STAGE_METRICS: tuple[str, ...] = ("error_rate", "p95_ms")


class VersionTotals:
    """One version's sums over the rollout (or over a stage: `metrics` only, no load or business)."""

    def __init__(self, metrics: tuple[str, ...] = SAMPLE_METRICS, extras: bool = True) -> None:
        self.metrics = metrics
        self.extras = extras  # the load per pod and the business metrics
        self.samples = 0
        self.requests = 0.0  # every interval with a request count
        self.errors = 0.0  # intervals with both counts
        self.requests_with_errors = 0.0  # the requests of those same intervals: the error rate's base
        self.histogram: dict[float, float] = {}  # upper bound (ms, inf last) -> cumulative count
        self.histogram_skipped = 0
        self.means: dict[str, RunningMean] = {}
        self.business: dict[str, RunningMean] = {}

    def add(self, sample: VersionSample) -> None:
        self.samples += 1
        requests, errors = sample.value("requests"), sample.value("errors")
        if requests is not None and math.isfinite(requests):
            self.requests += requests
            if errors is not None and math.isfinite(errors):
                self.errors += errors
                self.requests_with_errors += requests
        self._add_histogram(sample.histogram)
        for metric in self.metrics:
            v = sample.value(metric)
            if v is not None and math.isfinite(v):
                self.means.setdefault(metric, RunningMean()).add(v)
        if not self.extras:
            return
        # What the per-pod cpu and memory were used at: a pod serving less looks cheaper.
        load = sample.load_per_instance()
        if load is not None and math.isfinite(load):
            self.means.setdefault(LOAD_PER_INSTANCE, RunningMean()).add(load)
        for name in sample.business:
            v = sample.value(name)
            if v is None or not math.isfinite(v):
                continue
            if name in self.business or len(self.business) < MAX_NAMES:
                self.business.setdefault(name, RunningMean()).add(v)

    def _add_histogram(self, histogram: Iterable[tuple[float, float]]) -> None:
        buckets = sorted((float(b), float(c)) for b, c in histogram
                         if c is not None and math.isfinite(float(c)))
        if not buckets or buckets[-1][1] <= 0:
            return
        if self.histogram.keys() == {b for b, _ in buckets}:  # the usual case: the same buckets
            for b, c in buckets:
                self.histogram[b] += c
            return
        bounds = sorted(set(self.histogram) | {b for b, _ in buckets})
        if len(bounds) > MAX_BUCKETS:
            self.histogram_skipped += 1
            return
        current = sorted(self.histogram.items())
        self.histogram = {b: _cumulative_at(current, b) + _cumulative_at(buckets, b) for b in bounds}

    # --- what the report reads ------------------------------------------------

    def buckets(self) -> tuple[tuple[float, float], ...]:
        return tuple(sorted(self.histogram.items()))

    def mean(self, metric: str) -> float | None:
        m = self.means.get(metric)
        return m.value if m else None

    @property
    def error_rate(self) -> float | None:
        """Errors / requests over every interval that had both counts."""
        return self.errors / self.requests_with_errors if self.requests_with_errors > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "requests": self.requests,
            "errors": self.errors,
            "requests_with_errors": self.requests_with_errors,
            "histogram": [[_bound_out(b), c] for b, c in self.buckets()],
            "histogram_skipped": self.histogram_skipped,
            "means": {k: v.to_dict() for k, v in self.means.items()},
            **({"business": {k: v.to_dict() for k, v in self.business.items()}} if self.extras else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], metrics: tuple[str, ...] = SAMPLE_METRICS,
                  extras: bool = True) -> "VersionTotals":
        t = cls(metrics, extras)
        t.samples = int(d.get("samples") or 0)
        t.requests = float(d.get("requests") or 0.0)
        t.errors = float(d.get("errors") or 0.0)
        t.requests_with_errors = float(d.get("requests_with_errors") or 0.0)
        t.histogram = {_bound_in(b): float(c) for b, c in d.get("histogram") or []}
        t.histogram_skipped = int(d.get("histogram_skipped") or 0)
        t.means = {k: RunningMean.from_dict(v) for k, v in (d.get("means") or {}).items()}
        t.business = {k: RunningMean.from_dict(v) for k, v in (d.get("business") or {}).items()}
        return t


class Stage:
    """A stretch at one canary weight: from when, until the last poll in it, each version's sums.
    The weight is None until the first read of the split tells it."""

    def __init__(self, weight: int | None, since: datetime) -> None:
        self.weight = weight
        self.since = since
        self.until = since
        self.versions: dict[str, VersionTotals] = {role: VersionTotals(STAGE_METRICS, extras=False)
                                                   for role in ROLES}

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "since": _iso(self.since), "until": _iso(self.until),
                "versions": {role: t.to_dict() for role, t in self.versions.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Stage":
        since = _parse_time(d.get("since")) or datetime.fromtimestamp(0, timezone.utc)
        stage = cls(d.get("weight"), since)
        stage.until = _parse_time(d.get("until")) or since
        versions = d.get("versions") or {}
        stage.versions = {role: VersionTotals.from_dict(versions.get(role) or {}, STAGE_METRICS, extras=False)
                          for role in ROLES}
        return stage


class RolloutRecord:
    def __init__(self, rollout: str = "", timeline_capacity: int = DEFAULT_TIMELINE_CAPACITY,
                 stages_capacity: int = DEFAULT_STAGES_CAPACITY) -> None:
        if timeline_capacity < 1:
            raise ValueError("timeline_capacity must be at least 1")
        if stages_capacity < 1:
            raise ValueError("stages_capacity must be at least 1")
        self.rollout = rollout
        self.timeline_capacity = timeline_capacity
        self._lock = threading.RLock()
        self.first_poll: datetime | None = None
        self.last_poll: datetime | None = None
        self.last_sample: datetime | None = None  # time of the last snapshot summed
        self._last_data_at: datetime | None = None  # its data's time (the scrape's, when known): not saved
        self.first_event: datetime | None = None
        self.last_event: datetime | None = None
        self.polls = 0  # on_poll calls
        self.samples = 0  # snapshots summed
        self.failed_polls = 0  # polls without usable metrics
        self.versions: dict[str, VersionTotals] = {role: VersionTotals() for role in ROLES}
        # Canary weight: the first seen, the first above 0 (the canary's first traffic), the highest, the last.
        self.weight_start: int | None = None
        self.weight_initial: int | None = None
        self.weight_peak: int | None = None
        self.weight_final: int | None = None
        self.verdicts: dict[str, int] = {}
        self.last_verdict: dict[str, Any] | None = None
        self._last_verdict_seen: Verdict | None = None  # not saved: only guards against counting one twice
        self.check_failures: dict[str, int] = {}  # check name -> polls it failed
        self.decision: dict[str, Any] | None = None  # the last promote / rollback that went through
        self.changed_after_decision = False  # a weight change since: the rollout goes on
        self.refused = 0  # actions refused (read-only, validation, ownership, API errors)
        self.timeline: deque[dict[str, Any]] = deque(maxlen=timeline_capacity)
        self.timeline_dropped = 0
        self.stages: deque[Stage] = deque(maxlen=stages_capacity)
        self.stages_dropped = 0

    # --- input ---------------------------------------------------------------

    def on_poll(self, at: datetime, split: TrafficSplit | None, snapshot: MetricsSnapshot | None,
                verdict: Verdict | None) -> None:
        """One poll: the split read (None if it failed), the metrics (None or with .error if they
        failed), the verdict on them. A snapshot not newer than the last one summed is not summed again."""
        with self._lock:
            self.polls += 1
            if self.first_poll is None or at < self.first_poll:
                self.first_poll = at
            if self.last_poll is None or at > self.last_poll:
                self.last_poll = at
            if split is not None and split.canary_weight is not None:
                self._observe_weight(split.canary_weight)
                self._enter_stage(split.canary_weight, at)
            if snapshot is None or snapshot.error:
                self.failed_polls += 1
            elif self.last_sample is None or snapshot.at > self.last_sample:
                stage = self._stage_at(self._last_data_at) or self._enter_stage(None, at)
                self._last_data_at = snapshot.scraped_at or snapshot.at
                self.last_sample = snapshot.at
                self.samples += 1
                for role in ROLES:
                    self.versions[role].add(snapshot.of(role))
                    stage.versions[role].add(snapshot.of(role))
            if self.stages and at > self.stages[-1].until:
                self.stages[-1].until = at
            if verdict is not None:
                self._observe_verdict(verdict, at)

    def on_state(self, state: Any) -> None:
        """``on_poll`` from a controller ``ConsoleState`` (what ``poll_once`` returns)."""
        if state is None:
            return
        snapshot = None if state.error else state.snapshot
        # Weights that could not be read are not the rollout's weight now (a removed route's last ones).
        split = None if getattr(state, "weights_stale", False) else state.split
        self.on_poll(state.now, split, snapshot, state.verdict)

    def on_event(self, event: Event) -> None:
        """A controller event: weight changes and check failures go to the timeline."""
        with self._lock:
            if self.first_event is None or event.at < self.first_event:
                self.first_event = event.at
            if self.last_event is None or event.at > self.last_event:
                self.last_event = event.at
            if event.kind in WEIGHT_KINDS:
                if not event.ok:
                    self.refused += 1
                    return
                if event.to_canary is None:
                    return  # the follow-up of a rollback (canary scaled to 0): no weight change
                if event.from_canary is not None and self.weight_start is None:
                    self._observe_weight(event.from_canary)
                self._observe_weight(event.to_canary)
                self._enter_stage(event.to_canary, event.at)
                if event.verdict is not None:
                    # A verdict acted on in its own poll (a failed check rolled back at once) is
                    # replaced by "judged afresh" before the poll's state reaches on_poll.
                    self._observe_verdict(event.verdict, event.at)
                if event.kind in DECISION_KINDS:
                    self.decision = {
                        "outcome": DECISION_KINDS[event.kind],
                        "at": _iso(event.at),
                        "who": event.who,
                        "from": event.from_canary,
                        "to": event.to_canary,
                        "reason": event.reason,
                        # What the checks said when it was decided: after a rollback the last
                        # verdict is only "no canary requests".
                        "verdict": dict(self.last_verdict) if self.last_verdict else None,
                    }
                    self.changed_after_decision = False
                elif self.decision is not None:
                    self.changed_after_decision = True
                self._add_timeline(event)
            elif event.kind in ("check", "alarm") or (event.kind == "scale" and event.ok):
                self._add_timeline(event)

    def _add_timeline(self, event: Event) -> None:
        if len(self.timeline) == self.timeline.maxlen:
            self.timeline_dropped += 1
        self.timeline.append({
            "at": utc_iso(event.at),
            "kind": event.kind,
            "who": event.who,
            "from": event.from_canary,
            "to": event.to_canary,
            # A scale's numbers are in its message (it moves replicas, not weights): keep both.
            "reason": (f"{event.message}: {event.reason}" if event.kind == "scale" and event.reason
                       else event.reason or event.message),
            "message": event.message,
        })

    def _stage_at(self, start: datetime | None) -> Stage | None:
        """The stage a sample's counts go to: the one its interval began in (`start`: the previous
        sample's data time, its scrape when the source tells it). Counts read just after a change
        were served before it (the scrape lags the weights): a rollback's 0% shows no canary
        requests that its 20% served. None before any stage."""
        if not self.stages:
            return None
        if start is None:
            return self.stages[-1]
        return next((stage for stage in reversed(self.stages) if stage.since <= start), self.stages[0])

    def _enter_stage(self, weight: int | None, at: datetime) -> Stage:
        """The stage at `weight` from `at`: the current one when it is at that weight already."""
        current = self.stages[-1] if self.stages else None
        if current is not None and current.weight is None and weight is not None:
            current.weight = weight  # the polls before the first read of the split: that weight's
            return current
        if current is not None and current.weight == weight:
            return current
        if current is not None and at > current.until:
            current.until = at
        if len(self.stages) == self.stages.maxlen:
            self.stages_dropped += 1
        stage = Stage(weight, at)
        self.stages.append(stage)
        return stage

    def _observe_weight(self, weight: int) -> None:
        if self.weight_start is None:
            self.weight_start = weight
        if self.weight_initial is None and weight > 0:
            self.weight_initial = weight
        self.weight_peak = weight if self.weight_peak is None else max(self.weight_peak, weight)
        self.weight_final = weight

    def _observe_verdict(self, verdict: Verdict, at: datetime) -> None:
        if verdict is self._last_verdict_seen:
            return  # one verdict, seen twice: in a poll's state, then in the event of a write it was on screen for
        self._last_verdict_seen = verdict
        result = verdict.result.value
        self.verdicts[result] = self.verdicts.get(result, 0) + 1
        failing = [c for c in verdict.checks if c.result is Result.FAIL]
        for check in failing:
            if check.name in self.check_failures or len(self.check_failures) < MAX_NAMES:
                self.check_failures[check.name] = self.check_failures.get(check.name, 0) + 1
        self.last_verdict = {
            "at": _iso(verdict.at or at),
            "result": result,
            "summary": verdict.summary,
            "failing": [f"{c.name}: {c.reason}" if c.reason else c.name for c in failing],
            "alarm": verdict.alarm,
        }

    # --- reading -------------------------------------------------------------

    @property
    def started(self) -> datetime | None:
        times = [t for t in (self.first_poll, self.first_event) if t is not None]
        return min(times) if times else None

    @property
    def ended(self) -> datetime | None:
        times = [t for t in (self.last_poll, self.last_event) if t is not None]
        return max(times) if times else None

    @property
    def outcome(self) -> str:
        """promoted | rolled back | in progress."""
        if self.decision is None or self.changed_after_decision:
            return "in progress"
        return str(self.decision["outcome"])

    def version(self, role: str) -> VersionTotals:
        return self.versions[role]

    # --- persistence -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "format": FORMAT,
                "rollout": self.rollout,
                "timeline_capacity": self.timeline_capacity,
                "first_poll": _iso(self.first_poll),
                "last_poll": _iso(self.last_poll),
                "last_sample": _iso(self.last_sample),
                "first_event": _iso(self.first_event),
                "last_event": _iso(self.last_event),
                "polls": self.polls,
                "samples": self.samples,
                "failed_polls": self.failed_polls,
                "traffic": {
                    "start": self.weight_start,
                    "initial": self.weight_initial,
                    "peak": self.weight_peak,
                    "final": self.weight_final,
                },
                "versions": {role: t.to_dict() for role, t in self.versions.items()},
                "verdicts": dict(self.verdicts),
                "last_verdict": self.last_verdict,
                "check_failures": dict(self.check_failures),
                "decision": dict(self.decision) if self.decision else None,
                "changed_after_decision": self.changed_after_decision,
                "refused": self.refused,
                "timeline": [dict(e) for e in self.timeline],
                "timeline_dropped": self.timeline_dropped,
                "stages_capacity": self.stages.maxlen,
                "stages": [stage.to_dict() for stage in self.stages],
                "stages_dropped": self.stages_dropped,
            }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RolloutRecord":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not a rollout record: expected format {FORMAT!r}, got {found!r}")
        r = cls(str(d.get("rollout") or ""), int(d.get("timeline_capacity") or DEFAULT_TIMELINE_CAPACITY),
                int(d.get("stages_capacity") or DEFAULT_STAGES_CAPACITY))
        r.first_poll = _parse_time(d.get("first_poll"))
        r.last_poll = _parse_time(d.get("last_poll"))
        r.last_sample = _parse_time(d.get("last_sample"))
        r.first_event = _parse_time(d.get("first_event"))
        r.last_event = _parse_time(d.get("last_event"))
        r.polls = int(d.get("polls") or 0)
        r.samples = int(d.get("samples") or 0)
        r.failed_polls = int(d.get("failed_polls") or 0)
        traffic = d.get("traffic") or {}
        r.weight_start = traffic.get("start")
        r.weight_initial = traffic.get("initial")
        r.weight_peak = traffic.get("peak")
        r.weight_final = traffic.get("final")
        versions = d.get("versions") or {}
        r.versions = {role: VersionTotals.from_dict(versions.get(role) or {}) for role in ROLES}
        r.verdicts = {str(k): int(v) for k, v in (d.get("verdicts") or {}).items()}
        r.last_verdict = d.get("last_verdict")
        r.check_failures = {str(k): int(v) for k, v in (d.get("check_failures") or {}).items()}
        r.decision = d.get("decision")
        r.changed_after_decision = bool(d.get("changed_after_decision"))
        r.refused = int(d.get("refused") or 0)
        r.timeline.extend(d.get("timeline") or [])
        r.timeline_dropped = int(d.get("timeline_dropped") or 0)
        r.stages.extend(Stage.from_dict(stage) for stage in d.get("stages") or [])  # none before stages were kept
        r.stages_dropped = int(d.get("stages_dropped") or 0)
        return r

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the record as JSON atomically: a temporary file beside it, fsync, then os.replace."""
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            pass  # a file where its directory should be: mkstemp says so ("Not a directory")
        data = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "RolloutRecord":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))
