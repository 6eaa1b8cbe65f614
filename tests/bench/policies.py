"""Rollback policies for the detection benchmark, each replaying one recorded trace.

A policy sees the trace only up to the moment it evaluates (no peeking ahead) and
returns the time (seconds since the start) at which it would roll back, or None.
Every policy reads the same per-second counts; windows come from prefix sums, so
each evaluation costs O(buckets), not O(window).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from tui.analysis.judge import SequentialJudge
from tui.config import Criteria
from tui.model import MetricsSnapshot, Result, VersionSample, histogram_quantile

if TYPE_CHECKING:
    from tests.bench.detection import Trace

EPOCH = datetime(2027, 1, 1, tzinfo=timezone.utc)


class Policy(Protocol):
    name: str

    def rollback_at(self, trace: "Trace") -> float | None:
        """Seconds since the start of the trace when the policy rolls back, or None."""


# --- this console ------------------------------------------------------------


class JudgePolicy:
    """The console's SequentialJudge with its defaults, fed 2-second polls; rollback at its first FAIL."""

    def __init__(self, criteria: Criteria | None = None, poll_s: int = 2, **judge_args: float) -> None:
        self.criteria = criteria or Criteria()
        self.poll_s = poll_s
        self.judge_args = judge_args
        tuned = "".join(f", {k} {v:g}" for k, v in judge_args.items())
        self.name = f"canary-console SequentialJudge ({poll_s} s polls{tuned})"
        self.last_failing: tuple[str, ...] = ()  # the checks that failed at the latest rollback

    def rollback_at(self, trace: "Trace") -> float | None:
        judge = SequentialJudge(self.criteria, **self.judge_args)
        self.last_failing = ()
        step = self.poll_s
        bounds = trace.bounds
        for end in range(step, trace.duration_s + 1, step):
            start = end - step
            stable = _sample(trace.stable, start, end, bounds)
            canary = _sample(trace.canary, start, end, bounds)
            snap = MetricsSnapshot(at=EPOCH + timedelta(seconds=end), stable=stable, canary=canary,
                                   interval_s=float(step))
            verdict = judge.observe(snap, 5)
            if verdict.result is Result.FAIL:
                self.last_failing = tuple(c.name for c in verdict.checks if c.result is Result.FAIL)
                return float(end)
        return None


def _sample(series: "Series", start: int, end: int, bounds: tuple[float, ...]) -> VersionSample:
    requests = series.requests_between(start, end)
    errors = series.errors_between(start, end)
    hist = series.histogram_between(start, end)
    return VersionSample(
        requests_per_second=requests / max(1, end - start),
        error_rate=errors / requests if requests else None,
        cpu_cores=series.cpu[end - 1],
        memory_bytes=series.memory[end - 1],
        instances=series.instances[end - 1],
        requests=float(requests),
        errors=float(errors),
        histogram=tuple(zip(bounds, hist)),
    )


# --- the guide's Prometheus alert rules ------------------------------------------


class AlertRulePolicy:
    """CanaryHighErrorRate (canary error ratio over 5m > 0.1 for 5m) and CanarySlowResponse
    (canary p95 over 5m > 2 s for 5m), evaluated every `eval_s` like a Prometheus rule group;
    rollback when either fires (its condition true at every evaluation for 5 minutes)."""

    def __init__(self, eval_s: int = 15, window_s: int = 300, for_s: int = 300,
                 max_error: float = 0.1, max_p95_ms: float = 2000.0) -> None:
        self.eval_s, self.window_s, self.for_s = eval_s, window_s, for_s
        self.max_error, self.max_p95_ms = max_error, max_p95_ms
        self.name = f"guide alert rules (every {eval_s} s; 5m window, for: 5m)"

    def rollback_at(self, trace: "Trace") -> float | None:
        c = trace.canary
        pending: dict[str, int | None] = {"errors": None, "latency": None}
        for t in range(self.eval_s, trace.duration_s + 1, self.eval_s):
            start = max(0, t - self.window_s)
            n = c.requests_between(start, t)
            err = c.errors_between(start, t) / n if n else None
            p95 = histogram_quantile(tuple(zip(trace.bounds, c.histogram_between(start, t))), 0.95)
            active = {
                "errors": err is not None and err > self.max_error,
                "latency": p95 is not None and p95 > self.max_p95_ms,
            }
            for alert, on in active.items():
                if not on:
                    pending[alert] = None
                    continue
                if pending[alert] is None:
                    pending[alert] = t
                if t - pending[alert] >= self.for_s:
                    return float(t)
        return None


# --- the guide's gradual rollout script -----------------------------------------


class GradualScriptPolicy:
    """Every 5 minutes, the success criteria on the last 5 minutes; rollback on any failure."""

    def __init__(self, criteria: Criteria | None = None, every_s: int = 300) -> None:
        self.criteria = criteria or Criteria()
        self.every_s = every_s
        self.name = "guide gradual script (criteria on the last 5m, every 5m)"

    def rollback_at(self, trace: "Trace") -> float | None:
        crit = self.criteria
        s, c = trace.stable, trace.canary
        for t in range(self.every_s, trace.duration_s + 1, self.every_s):
            start = t - self.every_s
            cn, sn = c.requests_between(start, t), s.requests_between(start, t)
            if not cn or not sn:
                return float(t)  # no data is a failed check for the script
            c_err, s_err = c.errors_between(start, t) / cn, s.errors_between(start, t) / sn
            c_p95 = histogram_quantile(tuple(zip(trace.bounds, c.histogram_between(start, t))), 0.95)
            s_p95 = histogram_quantile(tuple(zip(trace.bounds, s.histogram_between(start, t))), 0.95)
            ok = (
                c_p95 is not None and s_p95 is not None
                and c_p95 < crit.p95_max_ms
                and (crit.p95_max_ratio is None or c_p95 <= crit.p95_max_ratio * s_p95)
                and c_err < crit.error_max
                and (crit.error_max_delta is None or c_err <= s_err + crit.error_max_delta)
            )
            if not ok:
                return float(t)
        return None


# --- Flagger (Istio tutorial settings) ---------------------------------------------


class FlaggerPolicy:
    """Flagger's Istio tutorial analysis: interval 1m, threshold 5 (failed checks counted over the
    whole run), request-success-rate >= 99% over 1m, request-duration p99 <= 500 ms over 30s."""

    def __init__(self, interval_s: int = 60, threshold: int = 5, min_success: float = 0.99,
                 max_p99_ms: float = 500.0, latency_window_s: int = 30) -> None:
        self.interval_s, self.threshold = interval_s, threshold
        self.min_success, self.max_p99_ms, self.latency_window_s = min_success, max_p99_ms, latency_window_s
        self.name = "Flagger Istio tutorial (1m interval, threshold 5)"

    def rollback_at(self, trace: "Trace") -> float | None:
        c = trace.canary
        failed = 0
        for t in range(self.interval_s, trace.duration_s + 1, self.interval_s):
            n = c.requests_between(t - self.interval_s, t)
            success = 1 - c.errors_between(t - self.interval_s, t) / n if n else None
            start = max(0, t - self.latency_window_s)
            p99 = histogram_quantile(tuple(zip(trace.bounds, c.histogram_between(start, t))), 0.99)
            ok = success is not None and success >= self.min_success and p99 is not None and p99 <= self.max_p99_ms
            if not ok:
                failed += 1
                if failed >= self.threshold:
                    return float(t)
        return None


# --- Kayenta-like Mann-Whitney judge ----------------------------------------------


def mann_whitney_p(x: list[float], y: list[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test (normal approximation, tie-corrected, continuity-corrected).

    Returns (p value, U of x minus its expectation): positive when x tends to be larger.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 1.0, 0.0
    values = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        size = j - i + 1
        ties += size ** 3 - size
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, values) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0, u1 - mu
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    p = math.erfc(max(0.0, z) / math.sqrt(2))
    return p, u1 - mu


class KayentaPolicy:
    """Kayenta-like: every `interval_s`, per-minute error rate and p95 of canary vs stable over
    that interval, Mann-Whitney at 98% confidence; a metric significantly higher for the canary
    fails it, and any failed metric (score 50 of 100 < the pass mark) rolls back."""

    def __init__(self, interval_s: int = 1800, bucket_s: int = 60, confidence: float = 0.98) -> None:
        self.interval_s, self.bucket_s, self.confidence = interval_s, bucket_s, confidence
        self.name = f"Kayenta-like Mann-Whitney (98%, {interval_s // 60}m intervals)"

    def rollback_at(self, trace: "Trace") -> float | None:
        for t in range(self.interval_s, trace.duration_s + 1, self.interval_s):
            for metric in ("errors", "p95"):
                c_vals = self._series(trace.canary, trace.bounds, t - self.interval_s, t, metric)
                s_vals = self._series(trace.stable, trace.bounds, t - self.interval_s, t, metric)
                p, shift = mann_whitney_p(c_vals, s_vals)
                if p < 1 - self.confidence and shift > 0:
                    return float(t)
        return None

    def _series(self, series: "Series", bounds: tuple[float, ...], start: int, end: int, metric: str) -> list[float]:
        out = []
        for a in range(start, end, self.bucket_s):
            b = min(end, a + self.bucket_s)
            n = series.requests_between(a, b)
            if not n:
                continue
            if metric == "errors":
                out.append(series.errors_between(a, b) / n)
            else:
                q = histogram_quantile(tuple(zip(bounds, series.histogram_between(a, b))), 0.95)
                if q is not None:
                    out.append(q)
        return out


if TYPE_CHECKING:
    from tests.bench.detection import Series
