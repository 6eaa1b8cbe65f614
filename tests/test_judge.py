"""The sequential judge on constructed count series."""

from __future__ import annotations

import math
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.analysis.judge import ERROR_ABS, ERROR_REL, LATENCY_ABS, LATENCY_REL, SequentialJudge
from tui.analysis.sequential import CountWindow, LowerSprt, UpperCusum, alternative, kl_bernoulli, wilson
from tui.backends.demo.draws import binomial, poisson
from tui.config import Criteria
from tui.model import MetricsSnapshot, Result, Verdict, VersionSample

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
BOUNDS = (100.0, 200.0, 300.0, 325.0, 350.0, 450.0, 500.0, 1000.0, math.inf)
STAT_CHECKS = (ERROR_ABS, ERROR_REL, LATENCY_ABS, LATENCY_REL)


def hist(requests: float, at_ms: dict[float, float]) -> tuple[tuple[float, float], ...]:
    """A cumulative histogram: `at_ms` maps a bucket bound to the requests in that bucket,
    the rest sit in the 100 ms bucket."""
    counts = {b: at_ms.get(b, 0.0) for b in BOUNDS}
    counts[100.0] += requests - sum(at_ms.values())
    out, total = [], 0.0
    for b in BOUNDS:
        total += counts[b]
        out.append((b, total))
    return tuple(out)


def sample(requests: float | None, errors: float | None = 0.0, slow: dict[float, float] | None = None,
           histogram: bool = True, rps: float | None = None) -> VersionSample:
    """Counts of one poll; `rps` is the source's rate over its own window (None: not given)."""
    if requests is None:
        return VersionSample(cpu_cores=0.1, memory_bytes=3e8, requests_per_second=rps)
    h = hist(requests, slow or {}) if histogram and requests > 0 else ()
    return VersionSample(requests=float(requests), errors=None if errors is None else float(errors), histogram=h,
                         cpu_cores=0.1, memory_bytes=3e8, requests_per_second=rps)


def stable_sample(requests: float = 200, errors: float = 1, p95_ms: float = 300.0,
                  rps: float | None = None) -> VersionSample:
    """Stable with its p95 inside the bucket that ends at `p95_ms`: 6% of requests in that bucket,
    3% in the next one, 1% at 1 s, the rest fast."""
    above = BOUNDS[BOUNDS.index(p95_ms) + 1]
    return sample(requests, errors, {p95_ms: 0.06 * requests, above: 0.03 * requests, 1000.0: 0.01 * requests},
                  rps=rps)


class Feed:
    """Feeds one judge 2-second polls."""

    def __init__(self, judge: SequentialJudge | None = None, criteria: Criteria | None = None) -> None:
        self.judge = judge or SequentialJudge(criteria or Criteria())
        self.t = 0
        self.weight = 5  # the canary's weight the controller passes
        self.verdict: Verdict | None = None

    def poll(self, canary: VersionSample, stable: VersionSample | None = None) -> Verdict:
        self.t += 2
        snap = MetricsSnapshot(at=T0 + timedelta(seconds=self.t), stable=stable or stable_sample(), canary=canary,
                               interval_s=2.0)
        self.verdict = self.judge.observe(snap, self.weight)
        return self.verdict

    def check(self, name: str):
        assert self.verdict is not None
        return next(c for c in self.verdict.checks if c.name == name)


# --- decisions --------------------------------------------------------------


def test_clear_error_regression_fails_fast_with_a_reason():
    f = Feed()
    results = []
    for _ in range(10):  # 10 canary requests a poll, 3 of them errors
        results.append(f.poll(sample(10, 3)).result)
        if results[-1] is Result.FAIL:
            break
    assert results[-1] is Result.FAIL
    assert len(results) <= 3  # 30% errors against a 1% bound: a few polls are enough
    c = f.check(ERROR_ABS)
    assert c.result is Result.FAIL
    assert c.confidence is not None and c.confidence > 0.99
    assert "errors in" in c.reason and "requests vs bound 1.00%" in c.reason
    # it fails on reaching the threshold: the reason's comparison must read true as printed
    reached, threshold = re.search(r"\(LLR ([\d.]+) >= ([\d.]+)\)", c.reason).groups()
    assert float(reached) >= float(threshold) == pytest.approx(math.log(100), abs=0.05)
    assert c.bound == "<= 1.00%"
    assert c.canary == pytest.approx(0.3)
    assert f.verdict.summary.startswith("rollback now: error rate")


def test_healthy_canary_passes_once_the_evidence_is_in():
    f = Feed()
    for _ in range(60):
        v = f.poll(sample(100, 0), stable_sample(2000, 10))
    assert v.result is Result.PASS, [(c.name, c.result, c.reason) for c in v.checks]
    for name in STAT_CHECKS:
        c = f.check(name)
        assert c.result is Result.PASS
        assert c.confidence is not None and c.confidence >= 0.95
    assert v.summary.startswith("all checks passing; nearest to failing:")


def test_a_pass_holds_while_the_evidence_ebbs_and_is_undone_when_it_turns():
    """A pass is a decision: it does not flip back to "not enough data" each time the evidence
    dips under the pass level (8 to 23 flips an hour per check on a healthy demo canary); it is
    undone when the counts since the reset stop favouring "within bound" at all."""
    f = Feed()
    for _ in range(60):
        f.poll(sample(100, 0), stable_sample(2000, 10))
    assert f.check(ERROR_ABS).result is Result.PASS and f.check(ERROR_ABS).reason == ""
    seen = []
    for _ in range(600):  # then exactly at the 1% bound: the evidence for "below it" ebbs away
        f.poll(sample(100, 1), stable_sample(2000, 10))
        c = f.check(ERROR_ABS)
        if not seen or seen[-1] != (c.result, c.reason[:14]):
            seen.append((c.result, c.reason[:14]))
    assert seen == [(Result.PASS, ""), (Result.PASS, "passed 00:00:1"), (Result.NODATA, "not enough dat")]
    assert f.judge._tests[ERROR_ABS].cusum.llr < 1  # never a stretch that looked worse


def test_a_pass_is_not_immediate():
    f = Feed()
    v = f.poll(sample(10, 0))
    assert f.check(ERROR_ABS).result is Result.NODATA
    assert f.check(ERROR_ABS).reason == "not enough data yet (10 requests)"
    assert v.result is Result.NODATA


def test_canary_exactly_at_the_bound_stays_undecided():
    f = Feed()
    rng = random.Random(3)
    seen = set()
    for i in range(600):  # 20 minutes at 5 req/s and exactly 1% errors (deterministic: 1 in 100)
        errors = 1 if i % 10 == 9 else 0
        f.poll(sample(10, errors, {1000.0: 0.0}), stable_sample(190, binomial(rng, 190, 0.005)))
        seen.add(f.check(ERROR_ABS).result)
    assert seen == {Result.NODATA}
    assert f.check(ERROR_ABS).reason.startswith("not enough data yet (6000 requests)")


def test_no_data_is_never_a_pass():
    f = Feed()
    v = f.poll(sample(None))
    assert all(f.check(n).result is Result.NODATA for n in STAT_CHECKS)
    assert f.check(ERROR_ABS).reason == "first poll: nothing counted yet"  # counts are increases between polls
    v = f.poll(sample(None))
    assert f.check(ERROR_ABS).reason == "no canary counts in the latest sample"
    v = f.poll(sample(0, 0))
    assert f.check(ERROR_ABS).reason == "no canary requests yet"
    assert v.result is Result.NODATA
    assert v.summary.startswith("no canary requests yet")


def test_a_passing_canary_without_traffic_goes_back_to_no_data():
    f = Feed()
    for _ in range(60):
        f.poll(sample(100, 0), stable_sample(2000, 10))
    assert f.check(ERROR_ABS).result is Result.PASS
    f.poll(sample(None), stable_sample(2000, 10))
    assert f.check(ERROR_ABS).result is Result.NODATA  # a sample without counts
    for _ in range(5):
        f.poll(sample(0, 0), stable_sample(2000, 10))
    c = f.check(ERROR_ABS)
    # Routed 5% with stable serving: a canary that counts nothing is silent, not merely idle.
    assert c.result is Result.NODATA and c.reason == "served nothing for 12s while routed 5%"


def _scraped(poll: int, every: int, canary: tuple[float, float], stable: tuple[float, float]):
    """A poll's (canary, stable) samples when Prometheus scrapes once every `every` polls: the
    counts land on the poll after a scrape, the rates (5 and 95 req/s) show traffic on every poll."""
    if poll % every:
        return sample(0, 0, rps=5.0), stable_sample(0, 0, rps=95.0)
    return sample(*canary, rps=5.0), stable_sample(*stable, rps=95.0)


def test_a_slow_scrape_is_not_a_canary_without_traffic():
    """A 30 s scrape under 2 s polls: 14 polls of 15 count nothing. The rates still show traffic,
    so no check says "no canary requests", a passing check stays passing between scrapes, and a
    10x error canary still fails."""
    f = Feed()
    f.poll(sample(None, rps=5.0), stable_sample(rps=95.0))  # a first poll has no counts
    f.poll(*_scraped(1, 15, (150, 1), (2850, 14)))
    assert f.check(ERROR_ABS).reason == "none counted yet: waiting for a new scrape"
    f = Feed()
    results = []
    for i in range(900):  # 30 minutes, a healthy canary: 150 requests a scrape, 0.5% errors
        f.poll(*_scraped(i, 15, (150, 0 if i // 15 % 4 == 0 else 1), (2850, 14)))
        results.append(f.check(ERROR_ABS).result)
        assert all("no canary" not in f.check(n).reason and "no stable" not in f.check(n).reason
                   for n in STAT_CHECKS), [f.check(n).reason for n in STAT_CHECKS]
    first = results.index(Result.PASS)
    assert all(r is Result.PASS for r in results[first:])  # no flicker back to "?" between scrapes
    f = Feed()
    for i in range(90):  # 3 minutes at 5% errors (7 or 8 a scrape)
        f.poll(*_scraped(i, 15, (150, 7 + i // 15 % 2), (2850, 14)))
    assert f.check(ERROR_ABS).result is Result.FAIL


def test_a_canary_whose_traffic_stops_waits_for_its_rate_to_say_so():
    f = Feed()
    for _ in range(60):
        f.poll(sample(100, 0, rps=50.0), stable_sample(2000, 10, rps=1000.0))
    assert f.check(ERROR_ABS).result is Result.PASS
    for _ in range(10):  # counts stop, the rate window still holds traffic: no new scrape yet
        f.poll(sample(0, 0, rps=20.0), stable_sample(2000, 10, rps=1000.0))
    assert f.check(ERROR_ABS).result is Result.PASS
    for _ in range(5):  # the rate is down to 0: the canary serves nothing
        f.poll(sample(0, 0, rps=0.0), stable_sample(2000, 10, rps=1000.0))
    c = f.check(ERROR_ABS)
    assert c.result is Result.NODATA and c.reason == "served nothing for 10s while routed 5%"


def test_a_stable_without_traffic_leaves_nothing_to_compare_with():
    f = Feed()
    for _ in range(5):
        f.poll(sample(100, 0, rps=50.0), stable_sample(0, 0, rps=0.0))
    for name in (ERROR_REL, LATENCY_REL, "cpu vs stable", "memory vs stable"):
        c = f.check(name)
        # Routed 95% and serving nothing while the canary serves: a silent stable, the alarm's words.
        assert c.result is Result.NODATA and c.reason == "stable served nothing for 10s while routed 95%"
    assert f.check(ERROR_ABS).result is Result.NODATA  # the absolute checks go on
    assert f.check(ERROR_ABS).reason.startswith("not enough data yet")


def test_at_canary_100_stable_is_drained_and_only_the_absolute_checks_judge():
    f = Feed()
    f.weight = 100
    for _ in range(120):  # stable still counts a little (other routes), and idles at 0.1 cores vs 0.3
        canary = VersionSample(requests=100.0, errors=0.0, histogram=hist(100, {}), cpu_cores=0.3,
                               memory_bytes=3e8, requests_per_second=50.0)
        f.poll(canary, stable_sample(20, 0, rps=10.0))
    drained = "stable drained (canary 100%)"
    for name in (ERROR_REL, LATENCY_REL, "cpu vs stable", "memory vs stable"):
        assert (f.check(name).result, f.check(name).reason) == (Result.NODATA, drained)
    assert f.check(ERROR_ABS).result is Result.PASS and f.check(LATENCY_ABS).result is Result.PASS
    assert f.verdict.result is Result.NODATA  # no check passes without its data, not even here
    assert f.verdict.summary.startswith(f"the other checks passing; not compared with stable: {drained}; "
                                        "nearest to failing: error rate")
    assert f.check(ERROR_ABS).stable is None  # what stable counted before it was drained is no comparison


def test_at_canary_0_the_resources_are_not_compared():
    f = Feed()
    f.weight = 0
    f.poll(sample(None), stable_sample(rps=100.0))
    f.poll(sample(0, 0, rps=0.0), stable_sample(rps=100.0))
    assert f.check(ERROR_ABS).reason == "no canary requests yet (canary 0%)"
    assert f.check("cpu vs stable").reason == "no canary traffic (canary 0%)"


def test_a_canary_set_to_0_is_idle_by_its_counts_while_its_rate_drains():
    """After a rollback the rate window still shows the canary's traffic of before: at 0% the
    counts alone say it gets none (traffic on routes the console does not drive still counts)."""
    f = Feed()
    for _ in range(30):
        f.poll(sample(100, 0, rps=50.0), stable_sample(2000, 10, rps=1000.0))
    f.weight = 0
    f.judge.reset()  # as the controller does on every weight change
    f.poll(sample(90, 1, rps=45.0), stable_sample(2000, 10, rps=1000.0))  # counted before the write
    for _ in range(5):
        f.poll(sample(0, 0, rps=40.0), stable_sample(2000, 10, rps=1000.0))
    assert f.check(ERROR_ABS).reason == "no canary requests in the last 10 s"
    # What was counted before the write is not the canary now: no value, not 1.11%.
    assert f.check(ERROR_ABS).canary is None and f.check(ERROR_ABS).stable == pytest.approx(0.005)
    assert f.verdict.summary == "no canary requests in the last 10 s: nothing can be decided"
    f.poll(sample(3, 0, rps=40.0), stable_sample(2000, 10, rps=1000.0))  # a header route's requests
    assert f.check(ERROR_ABS).reason.startswith("not enough data yet")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([None, 0]), min_size=1, max_size=40))
def test_property_no_canary_counts_never_pass(series):
    f = Feed()
    for n in series:
        v = f.poll(sample(n, 0))
        assert all(f.check(name).result is Result.NODATA for name in STAT_CHECKS)
        assert v.result is Result.NODATA


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=60))
def test_property_a_flawless_canary_never_fails(requests):
    """No errors and no slow requests: no amount of looking makes it fail."""
    f = Feed()
    for n in requests:
        v = f.poll(sample(n, 0))
        assert v.result is not Result.FAIL


def test_stable_degraded_too_is_warn_not_fail():
    f = Feed()
    rng = random.Random(5)
    for _ in range(120):  # both versions at 5% errors, 5x the bound
        v = f.poll(sample(10, binomial(rng, 10, 0.05)), stable_sample(190, binomial(rng, 190, 0.05)))
        assert v.result is not Result.FAIL, f.check(ERROR_ABS).reason
    c = f.check(ERROR_ABS)
    assert c.result is Result.WARN
    assert "stable itself" in c.reason and "rollback would not help" in c.reason
    assert f.check(ERROR_REL).result is not Result.FAIL
    assert v.summary.startswith("hold: error rate")


def test_canary_worse_than_a_degraded_stable_still_fails():
    f = Feed()
    rng = random.Random(6)
    for _ in range(120):  # stable at 2% (over the bound), the canary at 15%
        v = f.poll(sample(10, binomial(rng, 10, 0.15)), stable_sample(190, binomial(rng, 190, 0.02)))
        assert f.check(ERROR_ABS).result is not Result.WARN
        if f.check(ERROR_REL).result is Result.FAIL:
            break
    assert v.result is Result.FAIL
    assert f.check(ERROR_ABS).result is Result.FAIL
    assert f.check(ERROR_REL).result is Result.FAIL


def test_a_failure_stays_until_reset_and_reset_forgets():
    f = Feed()
    for _ in range(5):
        f.poll(sample(10, 4))
    assert f.check(ERROR_ABS).result is Result.FAIL
    for _ in range(30):  # the canary recovers: the decision stands
        f.poll(sample(10, 0))
    c = f.check(ERROR_ABS)
    assert c.result is Result.FAIL and "decided" in c.reason
    f.judge.reset()
    f.poll(sample(10, 0))
    c = f.check(ERROR_ABS)
    assert c.result is Result.NODATA and c.reason == "not enough data yet (10 requests)"


def test_reset_forgets_evidence_short_of_a_decision():
    judge = SequentialJudge(Criteria())
    f = Feed(judge)
    f.poll(sample(10, 3))  # strong but not yet decisive evidence
    assert f.check(ERROR_ABS).result is Result.NODATA
    judge.reset()
    f.poll(sample(10, 3))
    assert f.check(ERROR_ABS).result is Result.NODATA  # one poll alone again, not two
    f.poll(sample(10, 3))
    assert f.check(ERROR_ABS).result is Result.FAIL


def test_a_late_regression_is_caught_as_fast_as_an_early_one():
    """The CUSUM restarts: an hour of healthy evidence does not delay the failure."""
    rng = random.Random(11)

    def polls_to_fail(healthy_polls: int) -> int:
        f = Feed()
        for _ in range(healthy_polls):
            f.poll(sample(10, binomial(rng, 10, 0.005)), stable_sample(190, binomial(rng, 190, 0.005)))
        for i in range(1, 400):
            n = poisson(rng, 10)
            if f.poll(sample(n, binomial(rng, n, 0.05)),
                      stable_sample(190, binomial(rng, 190, 0.005))).result is Result.FAIL:
                return i
        return 10**6

    late = sorted(polls_to_fail(1800) for _ in range(5))
    assert late[2] <= 45  # median under 90 s after an hour of healthy canary


# --- latency: thresholds from the histogram -----------------------------------


def test_absolute_latency_interpolates_inside_the_bucket_holding_the_bound():
    crit = Criteria(p95_max_ms=480.0)
    f = Feed(criteria=crit)
    f.poll(sample(10, 0, {500.0: 1}))
    assert f.check(LATENCY_ABS).bound == "<= 480 ms (interpolated in the 450-500 ms bucket)"
    # 480 ms is 60% through 450-500: each request there counts 0.4 slower. Half the requests
    # there is 20% slower than 480 ms: fails fast, and the reason names 480 ms, not the bucket.
    polls = 0
    while f.check(LATENCY_ABS).result is not Result.FAIL and polls < 30:
        v, polls = f.poll(sample(10, 0, {500.0: 5})), polls + 1
    assert f.check(LATENCY_ABS).result is Result.FAIL and polls <= 12, polls
    assert "20.0% of" in f.check(LATENCY_ABS).reason and "slower than 480 ms" in f.check(LATENCY_ABS).reason
    assert v.result is Result.FAIL
    # 10% of the requests in that bucket is 4% slower than 480 ms: within the bound, never a FAIL
    f = Feed(criteria=crit)
    for _ in range(3000):
        f.poll(sample(10, 0, {500.0: 1}))
    assert f.check(LATENCY_ABS).result is Result.PASS


def test_error_rate_vs_stable_names_its_bound_in_numbers():
    """The latency bound said "= 332 ms (stable's p95 upper bound 302 ms)"; the error one said only
    "<= stable + 0.50%": which rate the canary was held to was nowhere on screen."""
    f = Feed()
    f.poll(sample(10, 0), stable_sample(0, 0))
    assert f.check(ERROR_REL).bound == "<= stable + 0.50%"  # before any stable counts: the rule alone
    f.poll(sample(10, 0), stable_sample(2000, 10))
    hi = wilson(10, 2000, f.judge.stable_z)[1]  # stable 0.50% of 2000: its upper confidence bound
    assert f.check(ERROR_REL).bound == (f"<= stable + 0.50% = {100 * (hi + 0.005):.2f}% "
                                        f"(stable's error rate upper bound {100 * hi:.2f}%)")


def test_latency_vs_stable_threshold_follows_stables_p95():
    f = Feed()
    f.poll(sample(10, 0), stable_sample(2000, 10, p95_ms=300.0))
    c = f.check(LATENCY_REL)
    # stable's p95 upper bound ~302 ms; 1.10 x 302 = 332 ms, inside the 325-350 ms bucket
    assert c.bound == "<= 1.10x stable = 332 ms (stable's p95 upper bound 302 ms; interpolated in the " \
                      "325-350 ms bucket)", c.bound
    f = Feed()
    f.poll(sample(10, 0), stable_sample(2000, 10, p95_ms=450.0))
    # stable slower: upper bound ~454 ms, 1.10 x 454 = 499 ms
    assert "= 499 ms" in f.check(LATENCY_REL).bound and "upper bound 454 ms" in f.check(LATENCY_REL).bound


def _lognormal_histogram(rng: random.Random, n: int, p95_ms: float, bounds: tuple[float, ...]):
    mu, sigma = math.log(p95_ms) - 1.645 * 0.5, 0.5
    counts = [0] * len(bounds)
    for _ in range(n):
        x = math.exp(rng.gauss(mu, sigma))
        counts[next(i for i, b in enumerate(bounds) if x <= b)] += 1
    out, total = [], 0.0
    for b, k in zip(bounds, counts):
        total += k
        out.append((b, total))
    return tuple(out)


def test_a_canary_like_stable_passes_on_prometheus_default_buckets():
    """Prometheus's default buckets jump from 250 to 500 ms. Read as "above the largest bound
    under 1.1 x stable's p95" (250 ms), a canary identical to stable (p95 300 ms) had 12% of its
    requests "slow" and was rolled back in about 30 s. Interpolated as the p95 is, it passes."""
    bounds = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, math.inf)
    rng = random.Random(7)
    f = Feed()
    for _ in range(900):  # 30 minutes of 2 s polls: canary 10 requests a poll, stable 190
        canary = VersionSample(requests=10.0, errors=0.0, histogram=_lognormal_histogram(rng, 10, 300.0, bounds),
                               cpu_cores=0.1, memory_bytes=3e8)
        stable = VersionSample(requests=190.0, errors=1.0, histogram=_lognormal_histogram(rng, 190, 300.0, bounds),
                               cpu_cores=0.1, memory_bytes=3e8)
        f.poll(canary, stable)
        assert f.check(LATENCY_REL).result is not Result.FAIL, f.check(LATENCY_REL).reason
        assert f.check(LATENCY_ABS).result is not Result.FAIL, f.check(LATENCY_ABS).reason
    assert f.check(LATENCY_REL).result is Result.PASS
    assert "interpolated in the 250-500 ms bucket" in f.check(LATENCY_REL).bound


def test_canary_slower_than_stable_fails_latency_vs_stable_only():
    f = Feed()
    for _ in range(20):  # 40% of canary requests in the 350 ms bucket: above 1.1 x stable, under 500 ms
        v = f.poll(sample(10, 0, {350.0: 4}), stable_sample(2000, 10))
        if v.result is Result.FAIL:
            break
    assert f.check(LATENCY_REL).result is Result.FAIL
    assert f.check(LATENCY_ABS).result is not Result.FAIL
    assert "vs bound 5%" in f.check(LATENCY_REL).reason


def test_missing_stable_makes_only_the_relative_checks_wait():
    f = Feed()
    f.poll(sample(10, 0), sample(None))
    assert f.check(ERROR_REL).result is Result.NODATA
    assert f.check(ERROR_REL).reason == "no stable counts in the latest sample"
    for _ in range(3):  # under 10 s: a gap in stable's samples, not yet a silent stable
        f.poll(sample(10, 5), sample(None))
    assert f.check(ERROR_ABS).result is Result.FAIL  # the absolute bound needs no stable


def test_a_failing_canary_over_a_silent_stable_is_held_not_failed():
    """Stable answers nothing for 10 s under its 95% (crashed, or unmeasured) while the canary
    breaches its bound: a rollback would send every request to stable. Hold, loudly; the canary
    fails as soon as stable serves again."""
    f = Feed()
    for _ in range(5):
        f.poll(sample(10, 0), stable_sample(190, 1))
    for _ in range(5):  # stable silent for 10 s, the canary healthy
        f.poll(sample(10, 0), sample(None))
    f.poll(sample(10, 5), sample(None))  # then the canary breaches its bound
    c = f.check(ERROR_ABS)
    assert c.result is Result.WARN, c
    assert c.reason.startswith("would fail (canary ") and c.reason.endswith(
        "but stable served nothing for 12s while routed 95%: a rollback would send every request to it")
    assert f.verdict.result is not Result.FAIL
    assert f.verdict.summary.startswith("hold: stable served nothing for 12s while routed 95% (1140 requests "
                                        "expected): down")
    assert f.verdict.alarm.startswith("stable served nothing for 12s while routed 95%")
    f.poll(sample(10, 5), stable_sample(190, 1))  # stable back: the canary's failure stands
    assert f.check(ERROR_ABS).result is Result.FAIL and f.verdict.alarm is None
    # Latched before stable went silent: held too while stable is silent (a person decides).
    for _ in range(6):
        f.poll(sample(10, 5), sample(None))
    assert f.check(ERROR_ABS).result is Result.WARN and f.check(ERROR_ABS).reason.startswith("failed (")


def test_missing_histogram_leaves_latency_undecided():
    f = Feed()
    for _ in range(30):
        f.poll(sample(10, 0, histogram=False))
    assert f.check(LATENCY_ABS).result is Result.NODATA
    assert f.check(LATENCY_ABS).reason == "no canary latency histogram"


# --- the summary line -----------------------------------------------------------


def test_summary_projects_time_to_rollback_when_the_trend_goes_on():
    f = Feed()
    v = f.poll(sample(40, 4))  # 10% errors in 40 requests: past half the threshold, not decisive
    assert v.result is not Result.FAIL
    assert v.summary.startswith("error rate: rollback in ~")
    assert "if the canary keeps 10.0% errors" in v.summary


def test_a_wobble_is_not_announced_as_a_coming_rollback():
    f = Feed()
    v = f.poll(sample(10, 1))  # one error in ten: evidence well under half the threshold
    assert v.summary.startswith("nothing trending to a rollback")


def test_summary_when_nothing_trends_to_rollback():
    f = Feed()
    v = f.poll(sample(10, 0))
    assert v.summary.startswith("nothing trending to a rollback")
    assert "still gathering data" in v.summary


def test_checks_show_values_bounds_and_units():
    f = Feed()
    for _ in range(3):
        f.poll(sample(100, 1), stable_sample(2000, 10))
    c = f.check(ERROR_ABS)
    assert c.canary == pytest.approx(0.01) and c.stable == pytest.approx(0.005) and c.unit == "%"
    c = f.check(LATENCY_REL)
    assert c.unit == "ms" and c.canary is not None and c.stable is not None
    assert c.bound.startswith("<= 1.10x stable")
    names = [c.name for c in f.verdict.checks]
    assert names[:4] == list(STAT_CHECKS)
    assert any("vs stable" in n for n in names[4:])  # the resource point checks follow


def test_optional_relative_criteria_are_not_shown():
    f = Feed(criteria=Criteria(error_max_delta=None, p95_max_ratio=None))
    f.poll(sample(10, 0))
    names = [c.name for c in f.verdict.checks]
    assert ERROR_REL not in names and LATENCY_REL not in names


# --- the tests underneath ---------------------------------------------------------


def test_alternative_has_the_requested_evidence_per_request():
    for p0 in (0.001, 0.01, 0.05, 0.3):
        p1 = alternative(p0, 0.0125)
        assert p1 > p0
        assert kl_bernoulli(p1, p0) == pytest.approx(0.0125, rel=1e-3)


def test_cusum_restarts_and_keeps_the_stretch_counts():
    c = UpperCusum()
    c.update(100, 0, 0.01, 0.03)
    assert c.llr == 0 and c.requests == 0
    c.update(10, 3, 0.01, 0.03)
    assert c.llr > 0 and c.requests == 10 and c.events == 3


def test_lower_sprt_gathers_evidence_below_the_bound():
    s = LowerSprt((0.5, 0.8))
    s.update(5000, 10, 0.01)  # 0.2% against a 1% bound
    assert s.log_evidence > math.log(20)
    s = LowerSprt((0.5, 0.8))
    s.update(5000, 60, 0.01)  # 1.2%: no evidence of being below
    assert s.log_evidence < 0


def test_wilson_interval_covers_the_rate():
    lo, hi = wilson(5, 1000, 2.5)
    assert lo < 0.005 < hi
    assert wilson(0, 0, 2.5) == (0.0, 1.0)


def test_count_window_keeps_running_sums_over_its_span():
    w = CountWindow(10.0)
    for i in range(20):
        w.add(2.0, 10, i % 2, (1.0, math.inf), (5.0, 10.0))
    assert w.seconds == 10.0 and w.requests == 50 and w.histogram() == ((1.0, 25.0), (math.inf, 50.0))


def test_false_alarms_stay_rare_for_a_canary_like_stable():
    """Many looks, one decision: 60 simulated 20-minute runs of a canary like stable."""
    rng = random.Random(2027)
    false = 0
    for _ in range(60):
        f = Feed()
        for _ in range(600):
            n, ns = poisson(rng, 10), poisson(rng, 190)
            if f.poll(sample(n, binomial(rng, n, 0.005)), stable_sample(ns, binomial(rng, ns, 0.005))).result \
                    is Result.FAIL:
                false += 1
                break
    assert false <= 2


def _polls_to_fail(judge: SequentialJudge, name: str, canary: VersionSample, limit: int = 500) -> int:
    feed = Feed(judge)
    for n in range(1, limit + 1):
        feed.poll(canary)
        if feed.check(name).result is Result.FAIL:
            return n
    return limit + 1


def test_latency_alpha_sets_the_latency_tests_threshold_only():
    slow = sample(10, 0, {1000.0: 1.5})  # 15% of the canary slower than 500 ms
    erring = sample(10, 0.5)  # 5% errors
    same = SequentialJudge(Criteria(), alpha=0.01)
    strict = SequentialJudge(Criteria(), alpha=0.01, latency_alpha=0.0001)
    assert strict.threshold == same.threshold and strict.latency_threshold == pytest.approx(math.log(1e4))
    assert _polls_to_fail(strict, LATENCY_ABS, slow) > _polls_to_fail(same, LATENCY_ABS, slow)
    assert _polls_to_fail(strict, ERROR_ABS, erring) == _polls_to_fail(same, ERROR_ABS, erring)
    feed = Feed(strict)
    while feed.check(LATENCY_ABS).result is not Result.FAIL if feed.verdict else True:
        feed.poll(slow)
    assert f">= {math.log(1e4):.1f})" in feed.check(LATENCY_ABS).reason  # the reason names its own threshold


def test_summary_says_how_long_until_the_waiting_checks_pass():
    f = Feed()
    errors = lambda i: 1 if i % 50 == 49 else 0  # noqa: E731  exactly 0.2% errors at 10 requests a poll
    for i in range(30):
        v = f.poll(sample(10, errors(i)), stable_sample(190, 1))
    assert f.check(ERROR_ABS).result is Result.NODATA
    m = re.search(r"error rate (?:vs stable )?passes(?: last,)? in ~(\d+) (s|min) if the canary keeps 0\.\d+% errors",
                  v.summary)
    assert m, v.summary
    projected = int(m.group(1)) * (60 if m.group(2) == "min" else 1)
    polls = 30
    while f.check(ERROR_ABS).result is not Result.PASS or f.check(ERROR_REL).result is not Result.PASS:
        f.poll(sample(10, errors(polls)), stable_sample(190, 1))
        polls += 1
        assert polls < 5000
    actual = (polls - 30) * 2
    # On the safe side (from one alternative of the mixture), and not by much.
    assert 0.5 * projected <= actual <= 1.1 * projected, (actual, projected)


def test_summary_says_when_a_waiting_check_cannot_pass_at_this_rate():
    f = Feed()
    for i in range(200):  # exactly 1% errors: at the bound, no evidence it is below
        v = f.poll(sample(10, 1 if i % 10 == 9 else 0), stable_sample(190, 1))
    assert re.search(r"error rate cannot pass if the canary keeps 1\.0\d% errors: too near its bound", v.summary), \
        v.summary


def test_the_waiting_projection_quotes_the_rate_the_checklist_shows():
    # 1 error in 130 requests: the checklist says 0.77%; the summary must not quote another rate
    # for "if the canary keeps" (it once said 1.15%, its estimate with half an error added).
    f = Feed()
    for i in range(13):
        v = f.poll(sample(10, 1 if i == 6 else 0), stable_sample(190, 1))
    shown = f.check(ERROR_ABS).canary
    assert shown == pytest.approx(1 / 130)
    quoted = re.findall(r"if the canary keeps (\d+\.\d+)% errors", v.summary)
    assert quoted == [f"{shown * 100:.2f}"], v.summary


def test_the_verdict_says_where_its_counts_begin():
    f = Feed()
    assert f.poll(sample(10)).since == T0 + timedelta(seconds=2)  # a first poll counts nothing: from itself
    assert f.poll(sample(10)).since == T0 + timedelta(seconds=2)
    f.judge.reset()  # the weight changed at about t=4 s
    f.poll(sample(10))  # t=6 s counts the increase since t=4 s
    assert f.poll(sample(10)).since == T0 + timedelta(seconds=4)


def test_a_routed_canary_that_goes_silent_is_said_to_be_down_or_unmeasured():
    """A crashed canary: its own metrics vanish (no series at all) while 5% of the requests,
    routed to it, fail. Before, the checks read "no canary counts in the latest sample: nothing
    can be decided", as on any poll that missed a sample."""
    f = Feed()
    for _ in range(30):
        f.poll(sample(10, 0, rps=5.0), stable_sample(190, 1, rps=95.0))
    for _ in range(4):  # 8 s: a scrape or two missed is not yet silence
        f.poll(sample(None), stable_sample(190, 1, rps=95.0))
    assert f.check(ERROR_ABS).reason == "no canary counts in the latest sample"
    f.poll(sample(None), stable_sample(190, 1, rps=95.0))
    assert all(f.check(n).reason == "served nothing for 10s while routed 5%" for n in STAT_CHECKS)
    assert f.verdict.result is Result.NODATA  # no evidence of worse: never a FAIL, never a PASS
    # 5% of 100 requests/s for 10 s: 50 requests expected, none came (by chance: e^-50)
    assert f.verdict.summary.startswith("the canary served nothing for 10s while routed 5% (50 requests expected): "
                                        "down (its share of the requests failing: check its pods) or its metrics missing")
    # Its cpu still reads from the rate window before the crash: not compared (it read ✓ 0.004).
    stale = VersionSample(cpu_cores=0.004, memory_bytes=1e8, instances=1.0)
    loaded = VersionSample(requests=190.0, errors=1.0, histogram=hist(190, {}), requests_per_second=95.0,
                           cpu_cores=0.13, memory_bytes=1.4e8, instances=5.0)
    f.poll(stale, loaded)
    cpu = f.check("cpu vs stable")
    assert cpu.result is Result.NODATA and cpu.reason.startswith("served nothing for 12s while routed 5%")
    # Back: the alarm goes with the first requests counted.
    f.poll(sample(10, 0, rps=5.0), stable_sample(190, 1, rps=95.0))
    assert "served nothing" not in f.verdict.summary


def test_silence_is_the_canarys_only_while_it_is_routed_and_stable_is_seen():
    f = Feed()
    f.weight = 0
    for _ in range(10):
        f.poll(sample(0, 0, rps=0.0), stable_sample(200, 1, rps=100.0))
    assert "served nothing" not in f.verdict.summary  # 0%: no traffic is what was asked
    f = Feed()
    for _ in range(10):  # the source shows no traffic for either version: the source's problem
        f.poll(sample(0, 0, rps=0.0), stable_sample(0, 0, rps=0.0))
    assert "served nothing" not in f.verdict.summary


def test_a_quiet_canary_at_low_traffic_is_chance_until_enough_requests_were_due():
    """5% of 2 requests/s: 0.1 request/s to the canary, a quiet 10 s is chance (e^-1). Silence is
    an alarm only once about 10 requests were due and none came (e^-10)."""
    f = Feed()
    for _ in range(5):
        f.poll(sample(1, 0, rps=0.1), stable_sample(4, 0, rps=1.9))
    for _ in range(10):  # 20 s: 2 requests due
        f.poll(sample(0, 0, rps=0.0), stable_sample(4, 0, rps=1.9))
    assert f.verdict.alarm is None and "served nothing" not in f.verdict.summary
    for _ in range(45):  # 110 s in all: 11 requests due (1.9/s x 5/95)
        f.poll(sample(0, 0, rps=0.0), stable_sample(4, 0, rps=1.9))
    assert f.verdict.alarm and f.verdict.alarm.startswith("the canary served nothing for 1m50s while routed 5% (11 ")
