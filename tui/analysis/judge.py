"""The statistical judge: pass, fail or not enough data, decided sequentially from counts.

Every count criterion is "the canary's share of bad requests is at most p0":

* "error rate":             errors / requests           <= errorRate.max
* "error rate vs stable":   errors / requests           <= stable's rate + errorRate.maxDeltaToStable
* "p95 latency":            requests slower than max    <= 5%  (p95 <= max)
* "p95 latency vs stable":  requests slower than ratio x stable's p95 <= 5%

"Slower than T" is read from the latency histogram, interpolated linearly inside the
bucket holding T as histogram_quantile interpolates the p95 shown, so that "at most 5%
slower than T" and "p95 <= T" are one statement (tui.model.count_slower; the bucket is
named in the check's bound text).

Each criterion runs two sequential tests on the counts of every poll
(tui.analysis.sequential):

* FAIL: a CUSUM of the likelihood ratio of an alternative p1 against p0. p1 is
  the rate whose evidence per request, KL(p1 || p0), reaches the threshold in about
  `effect_requests` requests: an effect of the same detectability at any p0 (for
  an error bound of 1% it is 2.6%, for the 5% slow share 8.2%). The canary fails
  when a stretch of evidence reaches log(1/alpha). Under any rate <= p0 a
  stretch gets there with probability <= alpha (Ville's inequality), however
  often it is looked at: looking every 2 s costs nothing. The CUSUM restarts a
  stretch when the evidence turns healthy, so a canary that turns bad after an
  hour is caught as fast as one bad from the start; the price is that false
  alarms are bounded per stretch, i.e. as a rate in time (at exactly the bound
  the mean time to a false alarm is >= 1/alpha polls, Lorden), not once per
  run.

  The defaults (alpha 0.01, effect_requests 500) are a point on a frontier that the
  data sets, not the test. At 5 req/s a canary at 5% errors shows ~15 errors a
  minute and one like stable (0.5%) 1.5. Only 93% of faulty minutes bring 10 errors,
  so acting within 60 s on 95% of them means acting on 9 in a minute some of the
  time, and a healthy canary shows 9 in some minute in ~1.3% of hours (10 in ~0.2%).
  These defaults fail at about 6 errors in 10 s, 8 in 30 s, 10 in a minute. The
  detection benchmark (tests/bench/detection.py, README "Detection benchmark")
  measures, over three 1000-run benchmarks: 10x errors rolled back in a median 27 s,
  p95 58-61 s, and 0.6-1.0% of clean hour-long runs rolled back (24 of 3000, every
  one by the error test). The previous defaults (alpha 0.005, effect_requests 420)
  gave p95 65 s at 0.5% on the same traces: a smaller alternative with a lower
  threshold is faster for about the same false-alarm rate. `latency_alpha` gives the
  two latency tests their own level; they spent none of the measured false alarms,
  so there is no share of theirs to move to the error tests, and the default keeps
  one alpha for all.
* PASS: a mixture SPRT since the reset of alternatives below p0 (odds x0.5 and
  x0.8). It passes when the evidence that the rate is below p0 reaches
  log(1/pass_alpha): an anytime-valid upper confidence bound below the bound.
* Otherwise: NODATA, "not enough data yet (N requests)".

Stable's own uncertainty: the "vs stable" bounds are plug-ins fixed before each
poll's canary counts are used. For FAIL they take stable's upper confidence
bound over the last `stable_window_s` (error rate: Wilson; p95: the histogram
quantile at rank 0.95 + z * sqrt(0.95 * 0.05 / n)), so a stable sample that
happens to look good does not make the canary look bad; for PASS stable's lower
bound since the reset (error rate) or its point estimate (p95). With stable at
~19x the canary's traffic its uncertainty is small, but it is not ignored.

Stable degraded: stable's own counts run the same FAIL test against the absolute
bounds. When stable breaches an absolute bound and the canary is not worse than
stable (its "vs stable" test does not fail), the absolute check is WARN instead of
FAIL: rolling back would not help.

A failed check stays failed until `reset()` (the controller resets on every
weight change): a sequential test's rejection is a decision, not a reading.

cpu, memory and business criteria are the point checks of tui.analysis.criteria; cpu
and memory per instance are not judged the way unequal loads per instance would mislead
(criteria.usage_ratio).

Traffic: a version is idle when it counted nothing for `idle_s` and the source's rate
shows nothing either (a poll between two scrapes counts nothing, but is not idle); a
version the weights drained (0% or 100%) is idle on its counts alone. With stable
drained or idle, the "vs stable" and resource checks are no data (nothing to compare
with, and idle instances are no baseline); with the canary idle, nothing is decided.
A canary silent for `idle_s` while routed traffic (weight above 0, stable served, the
canary counted nothing or has no series) is said to be so in every check and the summary:
a crashed canary's own metrics vanish while its share of the requests fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tui.analysis.criteria import resource_checks
from tui.analysis.sequential import (
    CountWindow,
    LowerSprt,
    UpperCusum,
    alternative,
    clamp_rate,
    wilson,
)
from tui.analysis.silence import Silence
from tui.config import Criteria, JudgeSettings
from tui.durations import format_duration
from tui.formatting import ms, pct
from tui.model import Check, MetricsSnapshot, Result, Verdict, VersionSample, count_slower, histogram_quantile

QUANTILE = 0.95  # the criteria are on p95: at most 5% of requests may be slower than the bound
SLOW_SHARE = 1.0 - QUANTILE

ERROR_ABS = "error rate"
ERROR_REL = "error rate vs stable"
LATENCY_ABS = "p95 latency"
LATENCY_REL = "p95 latency vs stable"


@dataclass
class _Counts:
    """A version's counts in one poll (None: the sample had no counts)."""

    requests: float | None
    errors: float | None
    histogram: tuple[tuple[float, float], ...]
    bounds: tuple[float, ...] = ()
    counts: tuple[float, ...] | None = None

    @staticmethod
    def of(sample: VersionSample) -> "_Counts":
        n, x = sample.value("requests"), sample.value("errors")
        if n is None or n < 0:
            return _Counts(None, None, ())
        if x is None or x < 0:
            x = None
        else:
            x = min(x, n)
        hist = sample.histogram if sample.histogram and sample.histogram[-1][1] > 0 else ()
        if not hist:
            return _Counts(n, x, ())
        bounds, counts = zip(*hist)
        return _Counts(n, x, hist, bounds, counts)


@dataclass
class _Test:
    """One count criterion: its FAIL and PASS tests and the counts they used since the reset."""

    name: str
    pass_factors: tuple[float, ...]
    cusum: UpperCusum = field(default_factory=UpperCusum)
    sprt: LowerSprt | None = None
    requests: float = 0.0
    events: float = 0.0
    pass_requests: float = 0.0  # what the PASS test counted (latency vs stable counts its own events)
    pass_events: float = 0.0
    p0_fail: float | None = None  # the latest null of the FAIL test
    p0_pass: float | None = None
    threshold_ms: float | None = None  # latency tests: "slower than" this
    bucket: tuple[float, float] | None = None  # ... interpolated inside this bucket (None: a bucket bound)
    reference_ms: float | None = None  # "vs stable": stable's p95 (upper bound) the threshold comes from
    reference_rate: float | None = None  # "error rate vs stable": stable's error rate (upper bound) likewise
    why_not: str = ""  # why the latest poll could not be used
    latched: Check | None = None
    passed_at: str = ""  # HH:MM:SS the PASS test decided, empty until it has
    pass_peak: float = 0.0  # the evidence that decided it

    def __post_init__(self) -> None:
        self.sprt = LowerSprt(self.pass_factors)

    def feed(self, requests: float, fail_events: float | None, p0_fail: float | None,
             pass_events: float | None, p0_pass: float | None, kl: float) -> None:
        if requests <= 0:
            return
        if fail_events is not None and p0_fail is not None:
            self.p0_fail = p0_fail
            self.cusum.update(requests, fail_events, p0_fail, alternative(p0_fail, kl))
            self.requests += requests
            self.events += fail_events
        if pass_events is not None and p0_pass is not None:
            self.p0_pass = p0_pass
            self.sprt.update(requests, pass_events, p0_pass)
            self.pass_requests += requests
            self.pass_events += pass_events


class SequentialJudge:
    """Evaluator: sequential tests on the canary's counts (see the module docstring)."""

    def __init__(
        self,
        criteria: Criteria,
        alpha: float = JudgeSettings.alpha,
        latency_alpha: float | None = JudgeSettings.latency_alpha,
        pass_alpha: float = JudgeSettings.pass_alpha,
        effect_requests: float = JudgeSettings.effect_requests,
        rollback_key: str = "r",
        stable_window_s: float = 30.0,
        stable_z: float = 2.5,
        idle_s: float = 10.0,
        default_interval_s: float = 2.0,
    ) -> None:
        latency_alpha = alpha if latency_alpha is None else latency_alpha
        if not all(0 < a < 1 for a in (alpha, latency_alpha, pass_alpha)):
            raise ValueError("alpha, latency_alpha and pass_alpha must be in (0, 1)")
        self.criteria = criteria
        self.rollback_key = rollback_key  # as bound in the console: its summary names the key that does it
        self.alpha = alpha
        self.latency_alpha = latency_alpha
        self.pass_alpha = pass_alpha
        self.threshold = math.log(1 / alpha)  # FAIL when an error test's CUSUM stretch reaches this LLR
        self.latency_threshold = math.log(1 / latency_alpha)  # ... a latency test's
        self.pass_threshold = math.log(1 / pass_alpha)
        self.effect_requests = effect_requests
        # The alternative's evidence per request, the same for every test: a latency test with a
        # smaller alpha needs more of the same evidence, not a different effect.
        self.kl = self.threshold / effect_requests
        self.stable_window_s = stable_window_s
        self.stable_z = stable_z
        self.idle_s = idle_s
        self.default_interval_s = default_interval_s
        self._canary_weight: int | None = None  # of the latest poll (the controller's driven routes)
        self._canary_rate: float | None = None  # the source's canary requests/s at the latest poll
        # Polls seen, kept across reset(): the counts are increases between polls, so the first
        # poll of a console, `status` or `run` counts nothing, whatever the rates show.
        self._polls = 0
        self.reset()

    def threshold_for(self, name: str) -> float:
        """The LLR at which the check `name` fails."""
        return self.latency_threshold if name in (LATENCY_ABS, LATENCY_REL) else self.threshold

    # --- Evaluator ---------------------------------------------------------

    def reset(self) -> None:
        factors = (0.5, 0.8)
        self._tests = {name: _Test(name, factors) for name in (ERROR_ABS, ERROR_REL, LATENCY_ABS, LATENCY_REL)}
        # stable against the absolute bounds: is stable itself degraded?
        self._stable_tests = {name: _Test(name, factors) for name in (ERROR_ABS, LATENCY_ABS)}
        self._stable_recent = CountWindow(self.stable_window_s)
        self._stable_all = CountWindow(None)
        self._canary_recent = CountWindow(self.stable_window_s, histograms=False)
        self._canary_all = CountWindow(None)
        self._canary_idle_s = 0.0
        self._canary_silence = Silence()  # routed traffic, stable serving, nothing from the canary
        self._stable_silence = Silence()  # ... and the other way round: stable crashed under its 95%
        self._stable_idle_s = 0.0
        self._stable_unfed_s = 0.0  # time of stable polls that counted nothing, joined to its next count
        self._canary_seen = False
        self._canary_missing = False
        self._stable_missing = False
        self._prev_at = None
        self._since: datetime | None = None  # where the counts since the reset begin

    def observe(self, snap: MetricsSnapshot, canary_weight: int | None) -> Verdict:
        # The counts say how much traffic each version got (the controller resets the judge on
        # every weight change); the weight only says when stable is drained (canary 100%), at
        # once, before its rate windows empty out.
        self._canary_weight = canary_weight
        self._canary_rate = snap.canary.value("requests_per_second")
        c, s = _Counts.of(snap.canary), _Counts.of(snap.stable)
        dt = snap.interval_s
        if not dt or dt <= 0:
            dt = (snap.at - self._prev_at).total_seconds() if self._prev_at is not None else self.default_interval_s
            dt = dt if dt > 0 else self.default_interval_s
        self._prev_at = snap.at
        if snap.error:
            c, s = _Counts(None, None, ()), _Counts(None, None, ())
        self._canary_missing = c.requests is None
        self._stable_missing = s.requests is None
        self._polls += 1
        if self._since is None:  # a poll counts the increase since the one before, if there was one
            self._since = snap.at - timedelta(seconds=dt) if self._polls > 1 else snap.at
        if c.requests is not None:
            self._canary_idle_s = _idle_for(self._canary_idle_s, c.requests, snap.canary, dt, canary_weight == 0)
        error = bool(snap.error)
        self._canary_silence.update(c.requests, s.requests, snap.canary, snap.stable, canary_weight, dt, error)
        self._stable_silence.update(s.requests, c.requests, snap.stable, snap.canary,
                                    None if canary_weight is None else 100 - canary_weight, dt, error)
        if s.requests is not None:
            self._stable_idle_s = _idle_for(self._stable_idle_s, s.requests, snap.stable, dt, canary_weight == 100)

        # Plug-ins from stable, fixed before this poll's canary counts are used.
        refs = self._stable_references(s, dt)
        self._feed_canary(c, dt, refs)
        self._feed_stable(s)

        checks = [self._decide(name, snap) for name in self._displayed()]
        checks += resource_checks(self.criteria, snap, unavailable=self._not_comparable())
        verdict = Verdict.combine(tuple(checks), at=snap.at)
        stable_gone, canary_gone = self._stable_silent(), self._canary_silent()
        return Verdict(verdict.result, verdict.checks, self._summary(verdict), snap.at, since=self._since,
                       alarm=stable_gone or canary_gone,
                       silent="stable" if stable_gone else "canary" if canary_gone else None,
                       requests=(self._stable_all.requests, self._canary_all.requests))

    # --- feeding the tests ---------------------------------------------------

    def _displayed(self) -> list[str]:
        names = [ERROR_ABS]
        if self.criteria.error_max_delta is not None:
            names.append(ERROR_REL)
        names.append(LATENCY_ABS)
        if self.criteria.p95_max_ratio is not None:
            names.append(LATENCY_REL)
        return names

    def _stable_references(self, s: _Counts, dt: float) -> dict[str, float | None]:
        """Stable's bounds for the "vs stable" tests: upper for FAIL (recent), lower for PASS (since reset)."""
        if s.requests is not None:
            # A poll that counted nothing (no new scrape yet: a 30 s scrape under 2 s polls) joins
            # the next one that counts, so a scrape interval longer than the window never empties it.
            self._stable_unfed_s += dt
            if s.requests > 0:
                self._stable_recent.add(self._stable_unfed_s, s.requests, s.errors or 0.0, s.bounds, s.counts)
                self._stable_unfed_s = 0.0
            self._stable_all.add(dt, s.requests, s.errors or 0.0, s.bounds, s.counts)
        recent, whole = self._stable_recent, self._stable_all
        refs: dict[str, float | None] = {"err_hi": None, "err_lo": None, "p95_hi": None, "p95": None}
        if s.requests is None:
            return refs  # no stable counts in this sample: the "vs stable" tests wait
        if self._stable_absent() is not None:
            return refs  # nothing to compare with: the "vs stable" tests wait
        if s.errors is not None and recent.requests > 0:
            refs["err_hi"] = wilson(recent.events, recent.requests, self.stable_z)[1]
        if s.errors is not None and whole.requests > 0:
            refs["err_lo"] = wilson(whole.events, whole.requests, self.stable_z)[0]
        hist = recent.histogram()
        if hist and hist[-1][1] > 0:
            n = hist[-1][1]
            rank = min(0.999, QUANTILE + self.stable_z * math.sqrt(QUANTILE * SLOW_SHARE / n))
            refs["p95_hi"] = histogram_quantile(hist, rank)
        hist = whole.histogram()
        if hist and hist[-1][1] > 0:
            refs["p95"] = histogram_quantile(hist, QUANTILE)
        return refs

    def _feed_canary(self, c: _Counts, dt: float, refs: dict[str, float | None]) -> None:
        crit, kl = self.criteria, self.kl
        for t in self._tests.values():
            t.why_not = ""
        if c.requests is None:
            for t in self._tests.values():
                t.why_not = "no canary counts in the latest sample"
            return
        self._canary_recent.add(dt, c.requests, c.errors or 0.0)
        self._canary_all.add(dt, c.requests, c.errors or 0.0, c.bounds, c.counts)
        if c.requests <= 0:
            return
        self._canary_seen = True
        n = c.requests

        # error rate, absolute and vs stable
        if c.errors is None:
            for name in (ERROR_ABS, ERROR_REL):
                self._tests[name].why_not = "no canary error count"
        else:
            self._tests[ERROR_ABS].feed(n, c.errors, crit.error_max, c.errors, crit.error_max, kl)
            delta = crit.error_max_delta or 0.0
            hi, lo = refs["err_hi"], refs["err_lo"]
            rel = self._tests[ERROR_REL]
            if hi is None:
                rel.why_not = "no stable counts"
            else:
                rel.reference_rate = hi
                rel.feed(n, c.errors, clamp_rate(hi + delta), c.errors,
                         None if lo is None else clamp_rate(lo + delta), kl)

        # latency, absolute and vs stable: requests above a bucket bound, from the histogram
        if not c.histogram:
            for name in (LATENCY_ABS, LATENCY_REL):
                self._tests[name].why_not = "no canary latency histogram"
            return
        slow = count_slower(c.histogram, crit.p95_max_ms)
        t_abs = self._tests[LATENCY_ABS]
        if slow is not None:
            t_abs.threshold_ms, t_abs.bucket = crit.p95_max_ms, slow.bucket
            t_abs.feed(c.histogram[-1][1], slow.count, SLOW_SHARE, slow.count, SLOW_SHARE, kl)
        ratio = crit.p95_max_ratio or 1.0
        rel = self._tests[LATENCY_REL]
        if refs["p95_hi"] is None:
            rel.why_not = "no stable latency histogram"
            return
        threshold = ratio * refs["p95_hi"]
        fail_slow = count_slower(c.histogram, threshold)
        pass_slow = count_slower(c.histogram, ratio * refs["p95"]) if refs["p95"] is not None else None
        if fail_slow is None:
            rel.why_not = "no canary latency histogram"
            return
        rel.threshold_ms, rel.bucket, rel.reference_ms = threshold, fail_slow.bucket, refs["p95_hi"]
        rel.feed(c.histogram[-1][1], fail_slow.count, SLOW_SHARE,
                 None if pass_slow is None else pass_slow.count, SLOW_SHARE, kl)

    def _feed_stable(self, s: _Counts) -> None:
        if s.requests is None or s.requests <= 0:
            return
        crit = self.criteria
        if s.errors is not None:
            self._stable_tests[ERROR_ABS].feed(s.requests, s.errors, crit.error_max, None, None, self.kl)
        if s.histogram:
            slow = count_slower(s.histogram, crit.p95_max_ms)
            if slow is not None:
                t = self._stable_tests[LATENCY_ABS]
                t.threshold_ms, t.bucket = crit.p95_max_ms, slow.bucket
                t.feed(s.histogram[-1][1], slow.count, SLOW_SHARE, None, None, self.kl)

    # --- decisions ---------------------------------------------------------

    def _no_counts_reason(self) -> str:
        """Why there is nothing to decide on; true also on a first poll whose rates show traffic."""
        if self._polls <= 1:
            return "first poll: nothing counted yet"
        if self._canary_missing:
            return "no canary counts in the latest sample"
        if self._canary_weight == 0:
            return "no canary requests yet (canary 0%)"
        if self._canary_rate:  # the rate window shows traffic the counts have not seen yet
            return "none counted yet: waiting for a new scrape"
        return "no canary requests yet"

    def _stable_silent(self, short: bool = False) -> str | None:
        """Why stable is taken for silent while routed (see Silence), or None. A rollback would
        then send every request to a version that answers none: the canary is not failed for it."""
        quiet = self._stable_silence
        if not quiet.alarming(self.idle_s):
            return None
        routed = None if self._canary_weight is None else 100 - self._canary_weight
        what = f"stable served nothing for {format_duration(quiet.seconds)} while routed {routed}%"
        if short:
            return what
        return (f"{what} ({quiet.expected:.0f} requests expected): down (its share of the requests failing: "
                "check its pods) or its metrics missing; a rollback would send every request to it")

    def _canary_silent(self, short: bool = False) -> str | None:
        """Why the canary is taken for silent while routed (see Silence), or None."""
        quiet = self._canary_silence
        if not quiet.alarming(self.idle_s):
            return None
        what = f"served nothing for {format_duration(quiet.seconds)} while routed {self._canary_weight}%"
        if short:
            return what
        return (f"the canary {what} ({quiet.expected:.0f} requests expected): down (its share of the "
                "requests failing: check its pods) or its metrics missing")

    def _canary_idle(self) -> str | None:
        """Why the canary, once seen, is taken for one without traffic now, or None."""
        if self._canary_idle_s >= self.idle_s:
            return f"no canary requests in the last {self._canary_idle_s:.0f} s"
        return None

    def _stable_absent(self) -> str | None:
        """Why there is no stable traffic to compare the canary with now, or None."""
        if self._canary_weight == 100:
            return "stable drained (canary 100%)"
        if (silent := self._stable_silent(short=True)) is not None:
            return silent  # routed traffic and serving none: said as the alarm says it
        if self._stable_idle_s >= self.idle_s:
            return f"no stable traffic for {self._stable_idle_s:.0f} s"
        return None

    def _not_comparable(self) -> str | None:
        """Why per-instance usage cannot be compared now (a drained version idles), or None."""
        # A silent version's cpu is a rate over the window from before it went silent.
        if (silent := self._stable_silent(short=True) or self._canary_silent(short=True)) is not None:
            return silent
        if (absent := self._stable_absent()) is not None:
            return absent
        if self._canary_weight == 0:
            return "no canary traffic (canary 0%)"
        if self._canary_idle_s >= self.idle_s:
            return f"no canary traffic for {self._canary_idle_s:.0f} s"
        return None

    def _decide(self, name: str, snap: MetricsSnapshot) -> Check:
        t = self._tests[name]
        if t.latched is not None:
            if (stable_gone := self._stable_silent(short=True)) is not None:
                # Rolling back onto a silent stable could send every request to a dead version.
                return replace(t.latched, result=Result.WARN,
                               reason=f"failed ({t.latched.reason}), but {stable_gone}: a rollback would "
                                      "send every request to it")
            return t.latched
        latency = name in (LATENCY_ABS, LATENCY_REL)
        unit = "ms" if latency else "%"
        metric = "p95_ms" if latency else "error_rate"
        bound = self._bound_text(name, t)
        canary_v, stable_v = self._values(name, t, failing=False)
        if self._stable_absent() is not None:
            stable_v = None  # what stable counted before it was drained is no comparison

        def check(result: Result, reason: str, confidence: float | None,
                  cv: float | None = canary_v, sv: float | None = stable_v) -> Check:
            return Check(name, metric, cv, sv, bound, result, reason, confidence, unit)

        if (silent := self._canary_silent(short=True)) is not None:
            return check(Result.NODATA, silent, None, cv=None)
        if self._canary_missing or not self._canary_seen:
            return check(Result.NODATA, self._no_counts_reason(), None)
        if (idle := self._canary_idle()) is not None:
            # The few requests counted since the reset (scraped after a rollback) are not the canary now.
            return check(Result.NODATA, idle, None, cv=None)
        rel = name in (ERROR_REL, LATENCY_REL)
        if rel and self._stable_missing:
            return check(Result.NODATA, "no stable counts in the latest sample", None)
        if rel and (absent := self._stable_absent()) is not None:
            return check(Result.NODATA, absent, None)
        if t.requests <= 0:
            return check(Result.NODATA, t.why_not or "no data yet", None)

        s, h = t.cusum.llr, self.threshold_for(name)
        stable_bad = self._stable_breach(name)
        if s >= h and stable_bad is None and (stable_gone := self._stable_silent(short=True)) is not None:
            # Worse than its bound, but stable answers nothing: a rollback would send every request
            # to it. Hold, loudly; a person decides (not latched: it fails once stable serves again).
            return check(Result.WARN, f"would fail ({self._fail_reason(name, t)}), but {stable_gone}: a rollback "
                         "would send every request to it", 1 - math.exp(-s))
        if s >= h and stable_bad is None:
            cv, sv = self._values(name, t, failing=True)
            reason = self._fail_reason(name, t)
            failed = check(Result.FAIL, reason, 1 - math.exp(-s), cv, sv)
            at = snap.at.strftime("%H:%M:%S")
            t.latched = Check(failed.name, failed.metric, failed.canary, failed.stable, failed.bound,
                              failed.result, f"{reason}; decided {at}", failed.confidence, failed.unit)
            return failed
        if stable_bad is not None:
            return check(Result.WARN, stable_bad, 1 - math.exp(-self._stable_tests[name].cusum.llr))
        evidence = t.sprt.log_evidence if t.p0_pass is not None else 0.0
        lean = max(s, evidence, 0.0)
        if evidence >= self.pass_threshold and not t.passed_at:
            t.passed_at, t.pass_peak = snap.at.strftime("%H:%M:%S"), evidence
        elif t.passed_at and evidence <= 0:
            # The counts since the reset no longer favour "within bound" at all: the pass is undone.
            t.passed_at, t.pass_peak = "", 0.0
        if t.passed_at:
            # A pass is a decision, like a fail: it holds while the evidence ebbs and flows (it
            # flipped PASS / "not enough data" 8 to 23 times an hour per check on a healthy canary).
            # The FAIL test keeps watching: a worsening canary still fails, and looks worse first.
            if s < h / 2:
                held = "" if evidence >= self.pass_threshold else f"passed {t.passed_at}, holding"
                return check(Result.PASS, held, 1 - math.exp(-max(evidence, t.pass_peak)))
            # Within bound since the reset, but the latest stretch argues otherwise: no pass now.
            return check(Result.NODATA, f"recent requests look worse (LLR {s:.1f} of {h:.1f})",
                         1 - math.exp(-lean))
        return check(Result.NODATA, f"not enough data yet ({t.requests:.0f} requests)", 1 - math.exp(-lean))

    def _stable_breach(self, name: str) -> str | None:
        """Why the check is WARN (stable breaches the absolute bound, canary not worse), or None."""
        if name not in self._stable_tests:
            return None
        st = self._stable_tests[name]
        h = self.threshold_for(name)
        if st.cusum.llr < h:
            return None
        rel = self._tests[ERROR_REL if name == ERROR_ABS else LATENCY_REL]
        if rel.latched is not None or rel.cusum.llr >= h:
            return None  # the canary is worse than stable too: its failure stands
        crit = self.criteria
        if name == ERROR_ABS:
            rate = st.cusum.events / st.cusum.requests if st.cusum.requests else None
            return (f"stable itself at {pct(rate)} errors > {pct(crit.error_max)}; "
                    "canary not worse: rollback would not help")
        share = st.cusum.events / st.cusum.requests if st.cusum.requests else None
        return (f"stable itself has {pct(share)} slower than {ms(st.threshold_ms)} > 5%; "
                "canary not worse: rollback would not help")

    def _bound_text(self, name: str, t: _Test) -> str:
        crit = self.criteria
        if name == ERROR_ABS:
            return f"<= {pct(crit.error_max)}"
        if name == ERROR_REL:
            delta = crit.error_max_delta or 0.0
            if t.p0_fail is None or t.reference_rate is None:
                return f"<= stable + {pct(delta)}"
            # The bound in numbers first, as for latency: a narrow checklist cuts this text from the end.
            return (f"<= stable + {pct(delta)} = {pct(t.p0_fail)} (stable's error rate upper bound "
                    f"{pct(t.reference_rate)})")
        if name == LATENCY_ABS:
            note = _bucket_note(t.bucket)
            return f"<= {crit.p95_max_ms:g} ms" + (f" ({note})" if note else "")
        ratio = crit.p95_max_ratio or 1.0
        if t.threshold_ms is None or t.reference_ms is None:
            return f"<= {ratio:.2f}x stable"
        # The threshold in ms first: a narrow checklist cuts this text from the end.
        note = _bucket_note(t.bucket)
        return (f"<= {ratio:.2f}x stable = {t.threshold_ms:.0f} ms (stable's p95 upper bound "
                f"{t.reference_ms:.0f} ms" + (f"; {note})" if note else ")"))

    def _values(self, name: str, t: _Test, failing: bool) -> tuple[float | None, float | None]:
        if name in (ERROR_ABS, ERROR_REL):
            if failing and t.cusum.requests > 0:
                return t.cusum.events / t.cusum.requests, self._stable_recent.rate
            return self._canary_all.rate, self._stable_all.rate
        ch, sh = self._canary_all.histogram(), self._stable_all.histogram()
        return (histogram_quantile(ch, QUANTILE) if ch else None,
                histogram_quantile(sh, QUANTILE) if sh else None)

    def _fail_reason(self, name: str, t: _Test) -> str:
        cs = t.cusum
        rate = cs.events / cs.requests if cs.requests else 0.0
        # It fails on reaching the threshold: ">=", or a stretch at 4.61 of 4.61 reads "4.6 > 4.6".
        tail = f"(LLR {cs.llr:.1f} >= {self.threshold_for(name):.1f})"
        if name == ERROR_ABS:
            return f"canary {pct(rate)} errors in {cs.requests:.0f} requests vs bound {pct(cs.p0)} {tail}"
        if name == ERROR_REL:
            delta = self.criteria.error_max_delta or 0.0
            return (f"canary {pct(rate)} errors in {cs.requests:.0f} requests vs bound {pct(cs.p0)} "
                    f"(stable <= {pct(cs.p0 - delta)} + {pct(delta)}) {tail}")
        return (f"canary {rate * 100:.1f}% of {cs.requests:.0f} requests slower than {ms(t.threshold_ms)} "
                f"vs bound 5% {tail}")

    # --- the summary line --------------------------------------------------

    def _projection(self, name: str) -> tuple[float, float] | None:
        """(seconds to FAIL, bad rate) if the canary keeps the rate of its current stretch of evidence."""
        t = self._tests[name]
        cs = t.cusum
        # Only a stretch of evidence already half way to the threshold is a trend worth announcing:
        # a healthy canary's CUSUM wanders above zero all the time, and a bridge must not read that
        # as an imminent rollback.
        h = self.threshold_for(name)
        if t.latched is not None or cs.requests <= 0 or cs.llr < h / 2 or t.p0_fail is None:
            return None
        rate = cs.events / cs.requests
        p1 = alternative(t.p0_fail, self.kl)
        per_request = cs.drift_per_request(rate, t.p0_fail, p1)
        rps = self._canary_rps()
        if per_request <= 0 or rps <= 0:
            return None
        return max(0.0, (h - cs.llr) / (per_request * rps)), rate

    def _canary_rps(self) -> float:
        """The canary's recent requests per second: what turns a projection's requests into time."""
        recent = self._canary_recent
        return recent.requests / recent.seconds if recent.seconds > 0 else 0.0

    def _pass_projection(self, name: str) -> tuple[float | None, float] | None:
        """(seconds to PASS or None for never, bad rate) if the canary keeps its rate since the reset."""
        t = self._tests[name]
        # Below one expected bad request at the bound, a rate says nothing yet.
        if t.p0_pass is None or t.sprt is None or t.pass_requests * t.p0_pass < 1:
            return None
        rps = self._canary_rps()
        if rps <= 0:
            return None
        # The rate shown is the canary's own (the checklist's); the projection counts at least half a
        # bad request: with none yet, 0% would promise a pass far too soon.
        rate = t.pass_events / t.pass_requests
        need = t.sprt.requests_to_reach(self.pass_threshold, max(t.pass_events, 0.5) / t.pass_requests, t.p0_pass)
        return (None if need is None else need / rps), rate

    def _waiting_text(self, waiting: list[str]) -> str:
        """The checks still gathering data, and how long until the slowest passes at today's rates.
        The checklist marks which checks wait, so a projection replaces their names."""
        n = max(self._tests[w].requests for w in waiting)
        projections = [(p, w) for w in waiting if (p := self._pass_projection(w)) is not None]
        if not projections:
            return f"still gathering data: {', '.join(waiting)} ({n:.0f} requests)"
        (eta, rate), name = max(projections, key=lambda pw: math.inf if pw[0][0] is None else pw[0][0])
        what = "errors" if name in (ERROR_ABS, ERROR_REL) else "of requests slow"
        keeps = f"if the canary keeps {rate * 100:.2f}% {what}"
        if eta is None:
            return f"still gathering data ({n:.0f} requests): {name} cannot pass {keeps}: too near its bound"
        last = "passes" if len(waiting) == 1 else "passes last,"
        return f"still gathering data ({n:.0f} requests): {name} {last} in {_about(eta)} {keeps}"

    def _summary(self, verdict: Verdict) -> str:
        by_name = {c.name: c for c in verdict.checks}
        shown = [n for n in self._displayed() if n in by_name]
        if (stable_gone := self._stable_silent()) is not None:
            return f"hold: {stable_gone}"  # before any "rollback now": where would it send the traffic?
        failing = [c for c in verdict.checks if c.result is Result.FAIL]
        if failing:
            c = failing[0]
            more = f" (+{len(failing) - 1} more failing)" if len(failing) > 1 else ""
            return f"rollback now: {c.name}: {c.reason}{more}"
        warns = [c for c in verdict.checks if c.result is Result.WARN]
        if warns:
            return f"hold: {warns[0].name}: {warns[0].reason}"
        if (silent := self._canary_silent()) is not None:
            # Automation rolls it back (autoRollback); a person is told the same.
            return f"{silent}; roll back ({self.rollback_key}) unless only its metrics are missing"
        if self._canary_missing or not self._canary_seen:
            if self._polls <= 1:
                return "first poll: the checks decide on requests counted from here on, poll by poll"
            return f"{self._no_counts_reason()}: nothing can be decided"
        if (idle := self._canary_idle()) is not None:  # no pass is coming: say so, not when one would come
            return f"{idle}: nothing can be decided"
        # With no stable to compare with, the "vs stable" tests hold no current evidence.
        absent, uncompared = self._stable_absent(), self._not_comparable()
        judged = [n for n in shown if absent is None or n not in (ERROR_REL, LATENCY_REL)]
        projections = []
        for name in judged:
            p = self._projection(name)
            if p is not None:
                projections.append((p[0], name, p[1]))
        if projections:
            eta, name, rate = min(projections)
            what = "errors" if name in (ERROR_ABS, ERROR_REL) else "of requests slow"
            return f"{name}: rollback in {_about(eta)} if the canary keeps {rate * 100:.1f}% {what}"
        nearest = max(judged, key=lambda n: self._tests[n].cusum.llr / self.threshold_for(n)) if judged else None
        near = ""
        if nearest is not None:
            llr, h = self._tests[nearest].cusum.llr, self.threshold_for(nearest)
            near = f"nearest to failing: {nearest} (LLR {llr:.1f} of {h:.1f})"
        # Checks waiting for a stable to compare with are not "gathering data": say why instead.
        explained = {c.name for c in verdict.checks if c.result is Result.NODATA and (
            (c.name in (ERROR_REL, LATENCY_REL) and absent is not None)
            or (c.name not in self._tests and uncompared is not None))}
        aside = f"; not compared with stable: {uncompared}" if explained and uncompared is not None else ""
        waiting = [n for n in shown if by_name[n].result is Result.NODATA and n not in explained]
        if waiting:
            return f"nothing trending to a rollback{aside}; {self._waiting_text(waiting)}; {near}"
        missing = [c.name for c in verdict.checks if c.result is Result.NODATA and c.name not in explained]
        if missing:
            return f"nothing trending to a rollback{aside}; {near}; no data: {', '.join(missing)}"
        # A passing verdict leaves out the checks not judged (their rows say why): name them.
        unjudged = ", ".join(c.name for c in verdict.checks if c.result is Result.NOT_JUDGED)
        but = f" (not judged: {unjudged})" if unjudged else ""
        if explained:
            return f"the other checks passing{but}{aside}; {near}"
        return f"all checks passing{but}; {near}"


def _idle_for(idle_s: float, counted: float, sample: VersionSample, dt: float, drained: bool) -> float:
    """How long a version has served no traffic, after a poll that counted `counted` requests.

    A poll that counts nothing while the source's rate still shows traffic has seen no new
    scrape yet (a 15 s scrape under 2 s polls), not a version without traffic; unless the
    weights drained the version: then its rate only shows the traffic it had before."""
    if counted > 0:
        return 0.0
    rate = sample.value("requests_per_second")
    if rate is not None and rate > 0 and not drained:
        return 0.0
    return idle_s + dt


def _about(seconds: float) -> str:
    """A projection's time, no more precise than it is."""
    if seconds < 90:
        return f"~{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60)} min"
    return f"~{seconds / 3600:.1f} h"


def _bucket_note(bucket: tuple[float, float] | None) -> str:
    """How "slower than" was read when the threshold is not a bucket bound."""
    if bucket is None:
        return ""
    lower, upper = bucket
    if math.isinf(upper):
        return f"every request above the last bucket, {lower:g} ms, counts"
    return f"interpolated in the {lower:g}-{upper:g} ms bucket"


__all__ = ["SequentialJudge", "ERROR_ABS", "ERROR_REL", "LATENCY_ABS", "LATENCY_REL"]

