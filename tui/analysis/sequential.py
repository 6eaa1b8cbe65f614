"""Sequential tests on counts (k events out of n requests), in pure Python.

The judge asks two questions of every count criterion "the canary's share of
bad requests is at most p0" (errors, or requests slower than a bound):

* Is it worse?  `UpperCusum`: a CUSUM of the log-likelihood ratio of an
  alternative p1 > p0 against p0. Under any rate <= p0 every stretch of it is a
  nonnegative supermartingale started at 1 (in exp terms), so by Ville's
  inequality a stretch ever reaches `log(1/alpha)` with probability <= alpha,
  however often it is looked at. Restarting at 0 whenever the evidence turns
  against the alternative keeps it ready for a canary that turns bad late (a plain
  SPRT would first have to pay back every healthy minute); the price is that
  false alarms are bounded per stretch (a rate in time), not once per run.
* Is it within bound?  `LowerSprt`: a mixture SPRT since the last reset of
  alternatives q < p0 against p0 (its boundary). It never restarts, so it is an
  anytime-valid test of "rate >= p0": when it reaches `log(1/alpha)` the rate
  is below p0 with confidence 1 - alpha at any stopping time. Equivalent to an
  upper confidence sequence below the bound.

Both accept a p0 that changes between updates (e.g. stable's rate plus a delta)
as long as it is fixed before the update's counts are seen: each factor then
still has expectation <= 1 under the null, so the guarantees carry over.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from operator import add, sub

_EPS = 1e-9


def clamp_rate(p: float) -> float:
    return min(1.0 - 1e-6, max(1e-6, p))


def kl_bernoulli(p: float, q: float) -> float:
    """KL(Bernoulli(p) || Bernoulli(q)) in nats."""
    p, q = clamp_rate(p), clamp_rate(q)
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


@lru_cache(maxsize=4096)
def _alternative(p0: float, kl: float) -> float:
    lo, hi = p0, 1.0 - 1e-6
    if kl_bernoulli(hi, p0) <= kl:
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if kl_bernoulli(mid, p0) < kl:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9:
            break
    return (lo + hi) / 2


def alternative(p0: float, kl: float) -> float:
    """The rate p1 > p0 with KL(p1 || p0) = kl: an effect equally detectable at any base rate.

    p0 is rounded to 4 significant digits for the cache (a plug-in p0 moves every poll).
    """
    exact = clamp_rate(p0)
    p1 = _alternative(clamp_rate(float(f"{p0:.4g}")), kl)
    return max(p1, min(1.0 - 1e-6, exact * 1.001))


def odds_scaled(p0: float, factor: float) -> float:
    """The rate whose odds are `factor` times p0's odds (stays inside 0..1 for any factor)."""
    p0 = clamp_rate(p0)
    o = factor * p0 / (1 - p0)
    return o / (1 + o)


@lru_cache(maxsize=4096)
def llr_terms(p0: float, p1: float) -> tuple[float, float]:
    """Log-likelihood ratio p1 vs p0 per bad request and per good request."""
    p0, p1 = clamp_rate(p0), clamp_rate(p1)
    return math.log(p1 / p0), math.log((1 - p1) / (1 - p0))


@lru_cache(maxsize=4096)
def _lower_terms(p0: float, factors: tuple[float, ...]) -> tuple[tuple[float, float], ...]:
    return tuple(llr_terms(p0, odds_scaled(p0, f)) for f in factors)


def wilson(events: float, requests: float, z: float) -> tuple[float, float]:
    """Wilson score interval for a rate (lower, upper)."""
    if requests <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, events / requests))
    z2 = z * z
    centre = (p + z2 / (2 * requests)) / (1 + z2 / requests)
    half = z * math.sqrt(p * (1 - p) / requests + z2 / (4 * requests * requests)) / (1 + z2 / requests)
    return max(0.0, centre - half), min(1.0, centre + half)


class UpperCusum:
    """Evidence that the rate is above p0, restarting when it falls to 0.

    `llr` is the log-likelihood ratio of the current stretch (since it last left
    0); `requests`/`events` are that stretch's counts, the data behind a failure.
    """

    __slots__ = ("llr", "requests", "events", "p0", "p1")

    def __init__(self) -> None:
        self.llr = 0.0
        self.requests = 0.0
        self.events = 0.0
        self.p0 = math.nan  # the null and alternative of the latest update, for reasons
        self.p1 = math.nan

    def update(self, requests: float, events: float, p0: float, p1: float) -> float:
        if requests <= 0:
            return self.llr
        events = min(max(events, 0.0), requests)
        a, b = llr_terms(p0, p1)
        self.p0, self.p1 = p0, p1
        s = self.llr + events * a + (requests - events) * b
        if s <= 0.0:
            self.llr, self.requests, self.events = 0.0, 0.0, 0.0
        else:
            self.llr = s
            self.requests += requests
            self.events += events
        return self.llr

    def drift_per_request(self, rate: float, p0: float, p1: float) -> float:
        a, b = llr_terms(p0, p1)
        return rate * a + (1 - rate) * b


class LowerSprt:
    """Mixture SPRT since reset: evidence that the rate is below p0 (alternatives below p0)."""

    __slots__ = ("factors", "logs")

    def __init__(self, factors: tuple[float, ...]) -> None:
        self.factors = factors  # odds factors < 1: the alternatives relative to p0
        self.logs = [0.0] * len(factors)

    def update(self, requests: float, events: float, p0: float) -> None:
        if requests <= 0:
            return
        events = min(max(events, 0.0), requests)
        logs = self.logs
        for i, (a, b) in enumerate(_lower_terms(p0, self.factors)):
            logs[i] += events * a + (requests - events) * b

    @property
    def log_evidence(self) -> float:
        """log of the equal-weight mixture of the likelihood ratios."""
        top = max(self.logs)
        return top + math.log(sum(math.exp(v - top) for v in self.logs) / len(self.logs))

    def requests_to_reach(self, threshold: float, rate: float, p0: float) -> float | None:
        """Requests until log_evidence reaches `threshold` if the rate stays `rate`; None: never.

        From one alternative at a time (the mixture is at least 1/k of each), so it is an upper
        bound by at most log(k) of evidence: an estimate on the safe side."""
        k = len(self.logs)
        best = None
        for log, (a, b) in zip(self.logs, _lower_terms(p0, self.factors)):
            drift = rate * a + (1 - rate) * b
            if drift > 0:
                need = max(0.0, (threshold + math.log(k) - log) / drift)
                best = need if best is None else min(best, need)
        return best


@dataclass
class _Slot:
    seconds: float
    requests: float
    events: float
    counts: tuple[float, ...] | None  # cumulative counts per histogram bucket


class CountWindow:
    """Running sums of (requests, events, cumulative histogram) over the last `span_s` seconds.

    Add one sample at a time; the sums are kept incrementally (no re-summing the window).
    Histograms are summed bucket by bucket and must share bounds; a change of bounds
    restarts the window.
    """

    def __init__(self, span_s: float | None, histograms: bool = True) -> None:
        self.span_s = span_s  # None: since reset, forever
        self.histograms = histograms
        self.slots: deque[_Slot] = deque()
        self.seconds = 0.0
        self.requests = 0.0
        self.events = 0.0
        self.bounds: tuple[float, ...] = ()
        self.hist: list[float] = []

    def add(self, seconds: float, requests: float, events: float,
            bounds: tuple[float, ...] = (), counts: tuple[float, ...] | None = None) -> None:
        if not self.histograms:
            counts = None
        if counts is not None:
            if bounds != self.bounds:
                if self.bounds:  # the buckets changed: old sums no longer add up
                    self.slots.clear()
                    self.seconds = self.requests = self.events = 0.0
                self.bounds = bounds
                self.hist = [0.0] * len(bounds)
            self.hist = list(map(add, self.hist, counts))
        self.seconds += seconds
        self.requests += requests
        self.events += events
        if self.span_s is None:
            return
        self.slots.append(_Slot(seconds, requests, events, counts))
        while len(self.slots) > 1 and self.seconds - self.slots[0].seconds >= self.span_s:
            old = self.slots.popleft()
            self.seconds -= old.seconds
            self.requests -= old.requests
            self.events -= old.events
            if old.counts is not None and len(old.counts) == len(self.hist):
                self.hist = list(map(sub, self.hist, old.counts))

    def histogram(self) -> tuple[tuple[float, float], ...]:
        if not self.hist or self.hist[-1] <= 0:
            return ()
        return tuple(zip(self.bounds, self.hist))

    @property
    def rate(self) -> float | None:
        return self.events / self.requests if self.requests > 0 else None
