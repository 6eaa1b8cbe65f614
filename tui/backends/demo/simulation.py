"""The demo world: stable and canary services serving seeded traffic split by the current weights.

Time is simulated in one-second steps, lazily, up to the clock's now whenever
someone looks. Each second draws the requests each version received (Poisson at
`rps` x weight), its errors (binomial) and its latencies (lognormal, counted into
histogram buckets as a service exports them). Rates and percentiles are computed
over a sliding window, like Prometheus' rate() and histogram_quantile() over `window`;
counts since the previous sample feed the statistical judge.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from dataclasses import dataclass, replace

from tui.backends.demo.draws import binomial, normal_cdf, poisson
from tui.backends.demo.routes import RouteTable
from tui.clock import Clock
from tui.model import FAULTS, TrafficSplit, VersionSample, histogram_quantile

# Histogram bucket bounds in ms, as a service would export them (the last is +Inf).
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 300, 325, 350, 375, 400, 450, 500,
    550, 600, 700, 800, 900, 1000, 1250, 1500, 2000, 2500, 3000, 5000, 10000, math.inf,
)


@dataclass(frozen=True)
class VersionProfile:
    """How a version behaves: the stable defaults follow the issue (0.5% errors, p95 ~300 ms)."""

    error_rate: float = 0.005
    median_ms: float = 180.0
    sigma: float = 0.31  # lognormal shape: p95 = median * exp(1.645 sigma) ~ 300 ms
    cpu_per_request: float = 0.004  # cores per request/s
    cpu_base: float = 0.05
    memory_base: float = 320e6
    memory_per_rps: float = 1.5e6

    def with_fault(self, fault: str) -> "VersionProfile":
        if fault == "errors":
            return replace(self, error_rate=self.error_rate * 10)  # 0.5% -> 5%
        if fault == "latency":
            # Slower code: every request takes 50% longer and burns more CPU.
            return replace(self, median_ms=self.median_ms * 1.5, cpu_per_request=self.cpu_per_request * 1.25)
        return self

    def cdf(self, ms: float) -> float:
        if math.isinf(ms):
            return 1.0
        return normal_cdf((math.log(ms) - math.log(self.median_ms)) / self.sigma)


@dataclass
class _Second:
    """What one version served in one simulated second."""

    requests: int
    errors: int
    buckets: tuple[int, ...]  # non-cumulative counts per LATENCY_BUCKETS_MS bucket


_EMPTY = (0,) * len(LATENCY_BUCKETS_MS)

# The demo's canary pods, scaled up from 0 (after a rollback), are ready this long after: until
# then its share of the requests fails fast, and the console gives it none.
CANARY_STARTUP_S = 20.0


class _VersionStream:
    """One version's per-second records over the window, and sums since the last read."""

    def __init__(self, window_s: int) -> None:
        self.seconds: deque[_Second] = deque(maxlen=window_s)
        self.unread_requests = 0
        self.unread_errors = 0
        self.unread_buckets = [0] * len(LATENCY_BUCKETS_MS)

    def add(self, second: _Second, count: bool = True) -> None:
        self.seconds.append(second)
        if not count:
            return
        self.unread_requests += second.requests
        self.unread_errors += second.errors
        for i, n in enumerate(second.buckets):
            self.unread_buckets[i] += n

    def take_unread(self) -> tuple[int, int, list[int]]:
        out = (self.unread_requests, self.unread_errors, self.unread_buckets)
        self.unread_requests, self.unread_errors = 0, 0
        self.unread_buckets = [0] * len(LATENCY_BUCKETS_MS)
        return out


def _cumulative(counts: list[int] | tuple[int, ...]) -> tuple[tuple[float, float], ...]:
    total, out = 0, []
    for bound, n in zip(LATENCY_BUCKETS_MS, counts):
        total += n
        out.append((bound, float(total)))
    return tuple(out)


class DemoWorld:
    """The shared state behind DemoRouter and DemoMetrics. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        rps: float = 100.0,
        seed: int = 1,
        canary_weight: int = 5,
        fault: str = "none",
        window_s: float = 60.0,
        stable: VersionProfile | None = None,
        canary: VersionProfile | None = None,
        history_s: float = 0.0,
        canary_startup_s: float = 0.0,
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.clock = clock
        self.rps = rps
        self.rng = random.Random(seed)
        self.stable_profile = stable or VersionProfile()
        self.canary_base = canary or self.stable_profile
        self.fault = fault
        self._lock = threading.RLock()
        # Writes to the routes first serve the traffic up to now under the old weights.
        self.table = RouteTable(canary_weight, source="demo", before_change=self.advance, lock=self._lock,
                                clock=clock.time, startup_s=canary_startup_s)
        self._window = max(1, int(round(window_s)))
        self._streams = {"stable": _VersionStream(self._window), "canary": _VersionStream(self._window)}
        # The world starts `history_s` in the past so a backfill has something true to show; the
        # judge's counts start at the present, as a real source's first reading would.
        self._present = math.floor(clock.time())
        self._t = self._present - math.floor(history_s)
        self._unread_since = self._present

    # --- the routes and the fault ---------------------------------------

    def split(self) -> TrafficSplit:
        return self.table.split()

    def set_fault(self, fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self.advance()
            self.fault = fault

    # --- simulation ----------------------------------------------------

    def _serve(self, profile: VersionProfile, rate: float, replicas: int) -> _Second:
        n = poisson(self.rng, rate)
        if n == 0:
            return _Second(0, 0, _EMPTY)
        if replicas <= 0:  # no healthy upstream: every request fails fast (in the first bucket)
            return _Second(n, n, (n,) + _EMPTY[1:])
        errors = binomial(self.rng, n, profile.error_rate)
        # Latencies into buckets by conditional binomials: a multinomial draw in O(buckets).
        counts, left, below = [], n, 0.0
        for bound in LATENCY_BUCKETS_MS:
            if left == 0:
                counts.append(0)
                continue
            upto = profile.cdf(bound)
            p = 1.0 if below >= 1.0 else (upto - below) / (1.0 - below)
            k = binomial(self.rng, left, min(1.0, max(0.0, p)))
            counts.append(k)
            left -= k
            below = upto
        return _Second(n, errors, tuple(counts))

    def advance(self, until: float | None = None) -> None:
        """Simulate every whole second up to `until` (default: the clock's now)."""
        with self._lock:
            now = math.floor(self.clock.time() if until is None else until)
            canary_profile = self.canary_base.with_fault(self.fault)
            stable_share, canary_share = self.table.shares()
            while self._t < now:
                count = self._t >= self._present
                self._streams["stable"].add(self._serve(self.stable_profile, self.rps * stable_share, 2), count)
                ready = self.table.ready_replicas(self._t)  # none while its pods are starting
                canary = self._serve(canary_profile, self.rps * canary_share, ready)
                if self.fault == "down":
                    # Its pods crash: the requests routed to it fail at the mesh, and nothing it
                    # served is exported (what is drawn keeps the seeded sequence as it was).
                    canary = _Second(0, 0, _EMPTY)
                self._streams["canary"].add(canary, count)
                self._t += 1

    @property
    def sim_time(self) -> float:
        return float(self._t)

    def take_samples(self, until: float | None = None) -> tuple[VersionSample, VersionSample, float]:
        """Samples over the window, with counts since the previous call, and the span they cover."""
        with self._lock:
            self.advance(until)
            span = float(max(0, self._t - self._unread_since))
            self._unread_since = max(self._unread_since, self._t)
            canary_profile = self.canary_base.with_fault(self.fault)
            stable = self._sample(self._streams["stable"], self.stable_profile, 2)
            canary = self._sample(self._streams["canary"], canary_profile, self.table.canary_replicas)
            if self.fault == "down":
                canary = VersionSample()  # a crashed version's series vanish from the source
            return stable, canary, span

    def _sample(self, stream: _VersionStream, profile: VersionProfile, replicas: int) -> VersionSample:
        seconds = list(stream.seconds)
        requests = sum(s.requests for s in seconds)
        errors = sum(s.errors for s in seconds)
        window_hist = _cumulative([sum(col) for col in zip(*(s.buckets for s in seconds))] if seconds else _EMPTY)
        rps = requests / max(1, len(seconds))
        unread_requests, unread_errors, unread_buckets = stream.take_unread()
        if replicas > 0:
            # Per instance, as `avg by (version)` gives: an HPA keeps each instance near its target
            # load (20 requests/s), so busy versions compare alike and an idle one runs below it.
            instances = _autoscaled(rps)
            load = rps / instances
            cpu = (profile.cpu_base + profile.cpu_per_request * load) * (1 + self.rng.gauss(0, 0.03))
            memory = (profile.memory_base + profile.memory_per_rps * load) * (1 + self.rng.gauss(0, 0.01))
        else:
            cpu, memory, instances = None, None, None
        return VersionSample(
            requests_per_second=rps,
            error_rate=(errors / requests) if requests else None,
            p50_ms=histogram_quantile(window_hist, 0.50),
            p95_ms=histogram_quantile(window_hist, 0.95),
            p99_ms=histogram_quantile(window_hist, 0.99),
            cpu_cores=cpu,
            memory_bytes=memory,
            instances=instances,
            requests=float(unread_requests),
            errors=float(unread_errors),
            histogram=_cumulative(unread_buckets),
        )


def _autoscaled(rps: float) -> float:
    """Instances an HPA would run, on average over time: one per 20 requests/s, at least one."""
    return max(1.0, rps / 20)
