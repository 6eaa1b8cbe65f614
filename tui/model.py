"""The domain model: plain dataclasses shared by every layer.

Nothing here does I/O or knows about Textual, Kubernetes or Prometheus.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

Role = Literal["stable", "canary"]
ROLES: tuple[Role, Role] = ("stable", "canary")

# The canary faults the simulated backends (the demo, the lab) can inject: 10x errors, +50%
# latency, or down (its pods crash: its share of the requests fails and its own metrics vanish).
FAULTS: tuple[str, ...] = ("none", "errors", "latency", "down")


class WeightError(ValueError):
    """A weight that is not an integer 0-100, or a split that does not sum to 100."""


def validate_weight(value: object) -> int:
    """Accept only a true integer 0-100 (no bools, no floats, no strings)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WeightError(f"weight must be an integer 0-100, got {value!r}")
    if not 0 <= value <= 100:
        raise WeightError(f"weight must be between 0 and 100, got {value}")
    return value


# --- traffic ---------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str | None
    weight: int
    role: Role | None = None  # None: a destination that is neither stable nor canary

    @property
    def label(self) -> str:
        return f"{self.host}/{self.subset}" if self.subset else self.host


@dataclass(frozen=True)
class Route:
    """One http route of a traffic split (an Istio VirtualService http entry)."""

    index: int
    name: str | None
    match: tuple[str, ...]  # human-readable match conditions; empty for the default route
    destinations: tuple[Destination, ...]
    driven: bool  # carries both stable and canary: the console moves its weights

    @property
    def label(self) -> str:
        return self.name or f"#{self.index}"

    def weight_of(self, role: Role) -> int:
        return sum(d.weight for d in self.destinations if d.role == role)

    @property
    def stable_weight(self) -> int:
        return self.weight_of("stable")

    @property
    def canary_weight(self) -> int:
        return self.weight_of("canary")

    @property
    def total_weight(self) -> int:
        return sum(d.weight for d in self.destinations)


@dataclass(frozen=True)
class TrafficSplit:
    routes: tuple[Route, ...]
    version: str | None = None  # opaque concurrency token (resourceVersion)
    owner: str | None = None  # another controller that owns the object (Flagger, Argo, GitOps)
    source: str = ""  # where it was read from, for the header
    last_change: WeightChange | None = None  # the last write's who/when/from/to/why, kept with the routes

    @property
    def driven_routes(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.driven)

    @property
    def canary_weight(self) -> int | None:
        """The canary weight of the driven routes (of the first one if they differ)."""
        driven = self.driven_routes
        return driven[0].canary_weight if driven else None

    @property
    def stable_weight(self) -> int | None:
        driven = self.driven_routes
        return driven[0].stable_weight if driven else None

    @property
    def opt_in_canary_routes(self) -> tuple[Route, ...]:
        """Routes this console does not drive that send requests to the canary (the guide's
        x-canary header route): a rollback leaves them as they are."""
        return tuple(r for r in self.routes if not r.driven and r.canary_weight > 0)

    @property
    def diverged(self) -> tuple[tuple[str, int], ...]:
        """(label, canary weight) of each driven route when they do not all carry the same canary
        weight (a region moved on its own with --route), else ()."""
        driven = self.driven_routes
        if len({r.canary_weight for r in driven}) <= 1:
            return ()
        return tuple((r.label, r.canary_weight) for r in driven)

    @property
    def note_is_current(self) -> bool:
        """The stored change note describes the weights now (no route moved since without a note:
        kubectl, GitOps and other tools leave the previous console's note in place)."""
        note = self.last_change
        return note is not None and any(r.canary_weight == note.to_canary for r in self.driven_routes)

    def route(self, label: str) -> Route | None:
        for r in self.routes:
            if r.label == label or (r.name is None and label == str(r.index)):
                return r
        return None


@dataclass(frozen=True)
class WeightChange:
    """Why and by whom a weight is being changed: written with the change itself."""

    who: str
    at: datetime
    from_canary: int | None
    to_canary: int
    reason: str
    action: str = "set-weight"

    def as_dict(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "when": utc_iso(self.at),
            "action": self.action,
            "from": self.from_canary,
            "to": self.to_canary,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "WeightChange | None":
        """The change as_dict() wrote, or None for anything else: it is read back from an
        object other people and tools can edit, so a malformed note is no note, never an error."""
        if not isinstance(data, dict):
            return None
        when, to = data.get("when"), data.get("to")
        frm = data.get("from")
        if not isinstance(when, str) or not _is_weight(to) or not (frm is None or _is_weight(frm)):
            return None
        try:
            at = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return None
        text = {k: data.get(k) if isinstance(data.get(k), str) else "" for k in ("who", "reason", "action")}
        return cls(who=text["who"], at=at if at.tzinfo else at.replace(tzinfo=timezone.utc), from_canary=frm,
                   to_canary=to, reason=text["reason"], action=text["action"] or "set-weight")


# --- metrics ---------------------------------------------------------------


@dataclass(frozen=True)
class VersionSample:
    """What one version did over one sample window. None means no data."""

    requests_per_second: float | None = None
    error_rate: float | None = None  # a fraction 0..1
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_cores: float | None = None  # average per instance
    memory_bytes: float | None = None  # average resident memory per instance
    instances: float | None = None  # instances the two above are averaged over (None: not known)
    # Counts over the sample interval (since the previous sample), for the statistical judge.
    requests: float | None = None
    errors: float | None = None
    # Latency histogram over the same interval: (upper bound in ms, cumulative count), ascending,
    # the last bound math.inf; what Prometheus' http_request_duration_seconds_bucket gives.
    histogram: tuple[tuple[float, float], ...] = ()
    business: dict[str, float | None] = field(default_factory=dict)

    def value(self, metric: str) -> float | None:
        """A field by name, or a business metric by its name; NaN reads as no data."""
        v = getattr(self, metric) if metric in _SAMPLE_FIELDS else self.business.get(metric)
        if v is None or math.isnan(v):
            return None
        return float(v)

    def load_per_instance(self) -> float | None:
        """Requests per second per instance, or None when the instance count is not known."""
        rps, n = self.value("requests_per_second"), self.value("instances")
        if rps is None or n is None or n <= 0:
            return None
        return rps / n


_SAMPLE_FIELDS = frozenset(
    ("requests_per_second", "error_rate", "p50_ms", "p95_ms", "p99_ms", "cpu_cores",
     "memory_bytes", "instances", "requests", "errors")
)


@dataclass(frozen=True)
class MetricsSnapshot:
    """Both versions' samples at one instant (UTC). `error` is set when the poll failed."""

    at: datetime
    stable: VersionSample
    canary: VersionSample
    interval_s: float = 0.0  # the span the counts cover
    error: str | None = None
    # When the source last scraped the older of the two versions' newest samples (None: the
    # source does not say). Prometheus answers with data up to a scrape interval older than `at`.
    scraped_at: datetime | None = None

    def of(self, role: Role) -> VersionSample:
        return self.stable if role == "stable" else self.canary


# --- analysis --------------------------------------------------------------


class Result(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # the canary is worse: grounds for rollback
    NODATA = "nodata"  # not enough data yet, or no data at all: never a pass
    WARN = "warn"  # a bound is breached by stable too: the canary is not the cause; hold, do not advance
    # The data is there but the comparison would say nothing this way round (per-instance usage
    # of versions under unequal load per instance): neither a pass nor a failure, and not waited for.
    NOT_JUDGED = "not-judged"


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "p95 latency vs stable"
    metric: str
    canary: float | None
    stable: float | None
    bound: str  # the threshold in words, e.g. "<= 500 ms" or "<= 1.10x stable"
    result: Result
    reason: str = ""  # why, in one short sentence
    confidence: float | None = None  # 0..1, for statistical checks
    unit: str = ""


@dataclass(frozen=True)
class Verdict:
    result: Result
    checks: tuple[Check, ...]
    summary: str = ""  # one line: what would roll the canary back, and how soon
    at: datetime | None = None
    # Where the checks' counts begin (the judge forgets them at every weight change); None: the
    # checks read the latest sample alone.
    since: datetime | None = None
    # What a person must see now that no check can decide: a routed version serving nothing
    # (`silent`: "canary" or "stable", which one).
    alarm: str | None = None
    silent: str | None = None
    # (stable, canary) requests the checks counted since `since`: what a rate like "6.67%" rests
    # on (1 error in 15 requests); None when the checks read a sample alone.
    requests: tuple[float, float] | None = None

    @property
    def undecided_reason(self) -> str:
        """Why the first undecided check waits ("not enough data yet (812 requests)", a failed
        poll, a silent canary), or ""."""
        return next((c.reason for c in self.checks if c.result is Result.NODATA and c.reason), "")

    @staticmethod
    def combine(checks: tuple[Check, ...], at: datetime | None = None, summary: str = "") -> "Verdict":
        # Any fail fails; otherwise any missing data means no verdict; never pass on no data.
        # A check not judged now is left out, but a verdict needs at least one judged check.
        judged = [c for c in checks if c.result is not Result.NOT_JUDGED]
        if any(c.result is Result.FAIL for c in judged):
            result = Result.FAIL
        elif not judged or any(c.result is Result.NODATA for c in judged):
            result = Result.NODATA
        elif any(c.result is Result.WARN for c in judged):
            result = Result.WARN
        else:
            result = Result.PASS
        return Verdict(result=result, checks=checks, summary=summary, at=at)


# --- events ----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # set-weight | step | auto-step | promote | rollback | scale | outside | check | alarm | fault | auto | error | info
    message: str
    who: str = ""
    from_canary: int | None = None
    to_canary: int | None = None
    reason: str = ""
    ok: bool = True
    # A weight change: the verdict on screen when it was made (what a promote or a rollback was
    # decided on; the state after the write holds only "judged afresh").
    verdict: Verdict | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": utc_iso(self.at),
            "kind": self.kind,
            "message": self.message,
            "who": self.who,
            "from": self.from_canary,
            "to": self.to_canary,
            "reason": self.reason,
            "ok": self.ok,
        }


def histogram_quantile(histogram: tuple[tuple[float, float], ...], q: float) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated inside a bucket as Prometheus does."""
    if not histogram or histogram[-1][1] <= 0:
        return None
    total = histogram[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in histogram:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # the quantile is above the highest finite bucket
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True)
class SlowCount:
    """Requests slower than a threshold, read from a cumulative histogram."""

    count: float  # fractional when the threshold falls inside a bucket
    bucket: tuple[float, float] | None  # the (lower, upper) bucket holding the threshold; None on a bound


def count_slower(histogram: tuple[tuple[float, float], ...], threshold_ms: float) -> SlowCount | None:
    """Requests slower than `threshold_ms`, interpolated inside its bucket as histogram_quantile does.

    Reading "slower than T" as "above the largest bucket bound <= T" judged a stricter
    threshold than the one shown: with Prometheus's default buckets (250, 500 ms) a canary
    identical to stable, p95 300 ms, had 12% of its requests "slower than 330 ms" and failed.
    Interpolating linearly, as the p95 shown is, makes "share slower than T <= 5%" the same
    statement as "p95 <= T". Each request in T's bucket then counts as the bucket's fraction
    above T: a count in [0, 1] per request, which keeps the Bernoulli tests' guarantees for that
    share (its moment generating function is at most the Bernoulli's of the same mean).
    Above the last finite bound nothing is known: every request there counts as slower.
    """
    if not histogram:
        return None
    total = histogram[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in histogram:
        if bound == threshold_ms:
            return SlowCount(total - count, None)
        if bound > threshold_ms:
            if math.isinf(bound):
                return SlowCount(total - lower_count, (lower_bound, bound))
            below = lower_count + (count - lower_count) * (threshold_ms - lower_bound) / (bound - lower_bound)
            return SlowCount(total - below, (lower_bound, bound))
        lower_bound, lower_count = bound, count
    return SlowCount(0.0, None)  # a histogram with no +Inf bucket: nothing seen above its last bound


def _is_weight(value: Any) -> bool:
    """validate_weight's rule, as a test (a note read back is checked, not trusted)."""
    try:
        validate_weight(value)
    except WeightError:
        return False
    return True


def utc_iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_weights(route: Route, canary: int) -> Route:
    """The route with its stable/canary weights set to 100-canary / canary.

    A driven route may hold several stable or canary destinations; the whole
    share goes to the first of each role and the others get 0, so the sum stays 100.
    Destinations of neither role keep nothing: a driven route must sum to 100 over
    stable + canary, which the routers check before they write.
    """
    validate_weight(canary)
    targets = {"stable": 100 - canary, "canary": canary}
    seen: set[str] = set()
    new = []
    for d in route.destinations:
        if d.role in targets and d.role not in seen:
            new.append(replace(d, weight=targets[d.role]))
            seen.add(d.role)
        else:
            new.append(replace(d, weight=0))
    return replace(route, destinations=tuple(new))
