"""PrometheusMetrics against the real lab: real services, real load, the real prometheus binary.

What is checked (tolerances stated next to each check):
* per-version requests/s, error rate and p95 agree with what the services actually
  answered (the lab's truth) over the same window;
* the interval counts (raw counters differenced per series between polls), summed over
  ten 2 s polls, agree with the requests, errors and p95 the services answered over the
  same span; the first poll has no counts;
* a weight change moves the measured split;
* stopping Prometheus makes poll() fail fast with BackendError, and restarting it
  recovers the SAME source (no re-creation).
Measured and printed (``-s`` shows them): one poll's wall time (median of 20, all
queries), queries per poll, and the time from switching the canary's error fault on to
the first poll whose canary error rate shows it.

Every test puts the session's lab back as it found it: canary weight 5, no faults,
Prometheus running.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest

from tui.backends.base import BackendError
from tui.backends.prometheus import PrometheusMetrics
from tui.lab import VERSIONS
from tui.model import Result, histogram_quantile

pytestmark = pytest.mark.lab

DEFAULT_CANARY = 5  # the lab fixture's weights


def report(line: str) -> None:
    print(f"\n[console-on-lab] {line}", flush=True)


@pytest.fixture
def lab(scraped_lab):
    """The scraped session lab, restored afterwards."""
    yield scraped_lab
    scraped_lab.set_weights(DEFAULT_CANARY)
    for v in VERSIONS:
        scraped_lab.set_fault("none", v)
    server = scraped_lab.prometheus
    if server is not None and not server.running:
        server.restart()
        scraped_lab.wait_scraped(timeout=20)


@pytest.fixture
def source(lab):
    made: list[PrometheusMetrics] = []

    def make(**kwargs) -> PrometheusMetrics:
        src = PrometheusMetrics(lab.url, **kwargs)
        made.append(src)
        return src

    yield make
    for s in made:
        s.close()


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def test_per_version_numbers_agree_with_the_truth(lab, source):
    window = 30.0
    lab.set_weights(30)
    # Canary: 5 % errors and latency x1.5 (p95 ~450 ms); stable: the default 0.5 %, p95 ~300 ms.
    lab.services["canary"].set_custom_fault(error_rate=0.05, latency_factor=1.5)
    time.sleep(window + 2.5)  # the window holds only the new regime
    src = source(window_s=window, interval_s=2.0)
    snap = src.poll()
    assert snap.error is None
    # The newest scrape is at most one scrape interval (1 s) before Prometheus' evaluation
    # time: compare with what the services answered over the window ending half a scrape earlier.
    end = snap.at.timestamp() - 0.5
    truth = lab.truth(end - window, end)
    for role, version in (("stable", "stable"), ("canary", "canary")):
        got, want = snap.of(role), truth[version]
        report(f"{version}: requests/s {got.requests_per_second:.2f} (truth {want.rate:.2f}), "
               f"error rate {got.error_rate:.4f} (truth {want.error_rate:.4f}), "
               f"p95 {got.p95_ms:.1f} ms (truth {want.p95 * 1000:.1f} ms), "
               f"p50 {got.p50_ms:.1f} ms (truth {want.p50 * 1000:.1f}), p99 {got.p99_ms:.1f} ms "
               f"(truth {want.p99 * 1000:.1f})")
        # requests/s within 8 %: rate() extrapolates over the window and its edges differ by up to a scrape.
        assert got.requests_per_second == pytest.approx(want.rate, rel=0.08)
        # error rate within 15 % of the truth + 0.3 percentage points (a few edge requests).
        assert abs(got.error_rate - want.error_rate) <= 0.15 * want.error_rate + 0.003
        # p95 within 10 %: interpolated inside 50 ms buckets around 300-450 ms.
        assert got.p95_ms == pytest.approx(want.p95 * 1000, rel=0.10)
    assert snap.canary.p95_ms > 1.3 * snap.stable.p95_ms  # the slower canary is seen as slower
    assert snap.canary.error_rate > 4 * snap.stable.error_rate
    assert snap.canary.cpu_cores and snap.stable.memory_bytes  # per-version process metrics arrive
    assert (snap.canary.instances, snap.stable.instances) == (1.0, 1.0)  # one service per version
    # timestamp() gives the scrape's own time (the answer's stamp is the evaluation time):
    # with a 1 s scrape, at most about a second old.
    scrape_age = time.time() - snap.scraped_at.timestamp()
    report(f"scrape age on the lab (1 s scrape): {scrape_age:.2f} s")
    assert 0.0 <= scrape_age <= 2.5
    # The first poll of a source has no previous counter values: no interval counts yet.
    assert snap.canary.requests is None and snap.canary.histogram == ()
    time.sleep(1.5)
    again = src.poll()
    assert again.canary.requests is not None and again.stable.errors is not None
    assert again.canary.histogram and again.canary.histogram[-1][0] == float("inf")


def test_interval_counts_summed_over_polls_agree_with_the_truth(lab, source):
    interval, polls = 2.0, 10  # the lab scrapes every 1 s; the console polls every 2 s
    lab.set_weights(30)
    lab.services["canary"].set_custom_fault(error_rate=0.05, latency_factor=1.5)
    # prometheus_client makes the 503 child on the first 503: let it exist and be scraped
    # before counting, or its first value would be (rightly) left out as a new series.
    time.sleep(2.5)
    src = source(window_s=30.0, interval_s=interval)
    first = src.poll()
    assert first.error is None
    assert first.canary.requests is None and first.stable.requests is None  # no previous values: no data
    sums = {role: {"requests": 0.0, "errors": 0.0, "hist": {}} for role in ("stable", "canary")}
    spans = 0.0
    tick = time.time()
    for _ in range(polls):
        tick += interval
        sleep_until(tick)
        snap = src.poll()
        assert snap.error is None
        spans += snap.interval_s
        for role, acc in sums.items():
            sample = snap.of(role)
            assert sample.requests is not None and sample.errors is not None and sample.histogram
            acc["requests"] += sample.requests
            acc["errors"] += sample.errors
            for bound, count in sample.histogram:
                acc["hist"][bound] = acc["hist"].get(bound, 0.0) + count
        last = snap
    # The counters Prometheus holds are those of its latest scrape (every 1 s), so the sums
    # cover [the scrape before the first poll, the scrape before the last poll]; each end
    # lags its poll's evaluation time by 0..1 s (0.5 s on average). The truth is taken over
    # [first.at - 0.5 s, last.at - 0.5 s]: the two lags differ by at most one scrape
    # interval, so the counts may differ from the truth by at most ~1 s of that version's
    # traffic (+ a few requests of load-generator jitter).
    start, end = first.at.timestamp() - 0.5, last.at.timestamp() - 0.5
    truth = lab.truth(start, end)
    # the spans tile (each is the requests counter's own evaluation times, within ms of snap.at)
    assert spans == pytest.approx(last.at.timestamp() - first.at.timestamp(), abs=0.1)
    for role in ("stable", "canary"):
        acc, want = sums[role], truth[role]
        hist = tuple(sorted(acc["hist"].items()))
        total = hist[-1][1]
        p95 = histogram_quantile(hist, 0.95)
        report(f"{role}: {polls} polls over {end - start:.1f} s: requests {acc['requests']:.0f} "
               f"(truth {want.requests}), errors {acc['errors']:.0f} (truth {want.errors}), "
               f"histogram total {total:.0f}, p95 of the summed histogram {p95:.1f} ms "
               f"(truth {want.p95 * 1000:.1f} ms)")
        edge = want.rate * 1.0  # requests in one scrape interval
        assert abs(acc["requests"] - want.requests) <= edge + 5
        # the errors among those edge requests: at most ~6 at 5 % of 30/s (binomial tail < 0.5 %)
        assert abs(acc["errors"] - want.errors) <= 6
        # the bucket counter is a separate query, read within milliseconds of the requests one
        assert abs(total - acc["requests"]) <= edge + 5
        # p95 within 10 %: interpolated inside 50 ms buckets around 300-450 ms
        assert p95 == pytest.approx(want.p95 * 1000, rel=0.10)
    share = {role: acc["errors"] / acc["requests"] for role, acc in sums.items()}
    assert share["canary"] > 4 * share["stable"]  # 5 % vs 0.5 %: the counts show the faulty canary


def test_a_weight_change_moves_the_measured_split(lab, source):
    window = 5.0
    src = source(window_s=window, interval_s=1.0)
    shares = {}
    for canary in (10, 50):
        lab.set_weights(canary)
        time.sleep(window + 2.0)
        snap = src.poll()
        c, s = snap.canary.requests_per_second, snap.stable.requests_per_second
        end = snap.at.timestamp() - 0.5
        truth = lab.truth(end - window, end)
        sent = truth["canary"].requests / max(1, truth["canary"].requests + truth["stable"].requests)
        shares[canary] = c / (c + s)
        report(f"weight canary {canary}%: measured canary share {shares[canary]:.3f}, sent {sent:.3f}")
        # Within 5 points of what the load generator sent, and of the weight itself
        # (~500 requests in the window: the binomial spread at 50 % is ~2.2 points).
        assert abs(shares[canary] - sent) <= 0.05
        assert abs(shares[canary] - canary / 100) <= 0.07
    assert shares[50] - shares[10] > 0.3


def test_poll_cost_and_fault_detection_time(lab, source):
    # 1) One poll's wall time on loopback with the default settings (the http preset).
    src = source(window_s=60.0, interval_s=2.0)
    # Warm the keep-alive connections, and (run alone, on a lab just started) wait for the
    # two scrapes a rate needs.
    deadline = time.monotonic() + 20
    while src.poll().canary.requests_per_second is None and time.monotonic() < deadline:
        time.sleep(0.2)
    before = src.queries_issued
    walls = []
    for _ in range(20):
        t0 = time.perf_counter()
        snap = src.poll()
        walls.append(time.perf_counter() - t0)
        assert snap.error is None and snap.canary.requests_per_second is not None
    per_poll = (src.queries_issued - before) / 20
    median_ms = statistics.median(walls) * 1000
    report(f"poll wall time over 20 polls: median {median_ms:.1f} ms, max {max(walls) * 1000:.1f} ms "
           f"(goal <= 100 ms); queries per poll: {per_poll:g}")
    assert per_poll == len(src.queries) == 9  # 6 window queries, 2 raw counters (errors: from requests), scrape time
    assert median_ms < 500, "far slower than the 100 ms goal on loopback"

    # 2) Fault on -> the first poll (every interval) whose canary error rate shows it.
    # A short window (2 s: rate() over the last two 1 s scrapes) and a 1 s poll interval;
    # "shows it": canary error rate >= 2.5 %, half the fault's 5 % and 5x the base 0.5 %.
    interval, threshold = 1.0, 0.025
    fast = source(window_s=2.0, interval_s=interval)
    lab.set_weights(50)
    latencies = []
    for trial in range(3):
        lab.set_fault("none")
        quiet, deadline = 0, time.time() + 30
        while quiet < 3:  # three quiet polls in a row before switching the fault on
            assert time.time() < deadline, "the canary error rate never settled below the threshold"
            rate = fast.poll().canary.error_rate
            quiet = quiet + 1 if rate is not None and rate < threshold else 0
            time.sleep(interval)
        switched = time.time()
        lab.set_fault("errors")
        tick = switched
        while True:
            snap = fast.poll()
            seen = time.time()
            if snap.canary.error_rate is not None and snap.canary.error_rate >= threshold:
                break
            assert seen - switched < 15, "the fault never showed in the canary error rate"
            tick += interval
            sleep_until(tick)
        latencies.append(seen - switched)
        report(f"fault trial {trial + 1}: canary error rate {snap.canary.error_rate:.3f} seen "
               f"{latencies[-1]:.2f} s after the fault was switched on")
    lab.set_fault("none")
    report(f"fault -> detection: median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
           f"(goal <= one scrape 1 s + one poll interval {interval:g} s = {1 + interval:g} s)")
    assert max(latencies) < 10


def test_prometheus_stop_fails_fast_and_restart_recovers_the_same_source(lab, source):
    src = source(window_s=30.0, interval_s=2.0)  # timeout: 1.0 s
    assert src.poll().canary.requests_per_second is not None
    server = lab.prometheus
    server.stop()
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        src.poll()
    failed_in = time.monotonic() - t0
    report(f"Prometheus stopped: poll failed in {failed_in * 1000:.1f} ms: {err.value}")
    assert str(err.value) == f"prometheus at {lab.url}: connection refused"
    assert failed_in < src.timeout_s + 0.5
    server.restart()
    ready = time.monotonic()
    while True:
        try:
            snap = src.poll()
            if snap.error is None and snap.canary.requests_per_second is not None:
                break
        except BackendError:
            pass
        assert time.monotonic() - ready < 20, "the source did not recover after the restart"
        time.sleep(0.2)
    report(f"Prometheus restarted: the same source recovered {time.monotonic() - ready:.2f} s after ready")
    lab.wait_scraped(timeout=20)


def test_a_crashed_canary_is_said_to_be_silent_while_its_requests_fail(lab, source):
    """Fault ``down``: the canary answers nothing (requests and scrapes fail), Prometheus marks its
    series stale, and the judge, fed by real polls, says the routed canary served nothing: its share
    of the requests failing, or its metrics missing. Before, it read "no canary counts in the latest
    sample: nothing can be decided", as after any missed sample. Measured: fault on to the alarm."""
    from tui.analysis.judge import SequentialJudge
    from tui.config import Criteria

    src = source(window_s=60.0, interval_s=1.0)
    judge = SequentialJudge(Criteria(), idle_s=10.0, default_interval_s=1.0)

    def poll():
        return judge.observe(src.poll(), DEFAULT_CANARY)

    for _ in range(3):
        poll()
        time.sleep(1.0)
    failures_before = lab.load.stats()["canary"]["failures"]
    lab.set_fault("down")
    start = time.time()
    alarm_after = None
    while time.time() - start < 45:
        verdict = poll()
        if "served nothing" in verdict.summary:
            alarm_after = time.time() - start
            break
        time.sleep(1.0)
    shown = "none within 45 s" if alarm_after is None else f"{alarm_after:.1f} s"
    report(f"canary down to the alarm: {shown} (60 s rate window: the stale series, then 10 s of silence)")
    assert alarm_after is not None and alarm_after <= 20, verdict.summary  # not the rate window's 60 s
    assert verdict.result is Result.NODATA
    assert re.match(rf"the canary served nothing for \d+s while routed {DEFAULT_CANARY}% \(\d+ requests expected\): "
                    "down", verdict.summary)
    assert lab.load.stats()["canary"]["failures"] > failures_before  # its share of the requests did fail
    lab.set_fault("none")
    start = time.time()
    while time.time() - start < 30:
        verdict = poll()
        if "served nothing" not in verdict.summary:
            break
        time.sleep(1.0)
    assert "served nothing" not in verdict.summary  # back: the alarm goes with its first counted requests


def test_a_crashed_stable_is_an_alarm_that_holds_any_rollback(lab, source):
    """Fault ``down`` on stable: its series go stale while the canary serves. The judge says
    stable served nothing while routed 95%, and holds (a rollback would send every request to it)."""
    from tui.analysis.judge import SequentialJudge
    from tui.config import Criteria

    src = source(window_s=60.0, interval_s=1.0)
    judge = SequentialJudge(Criteria(), idle_s=10.0, default_interval_s=1.0)
    for _ in range(3):
        judge.observe(src.poll(), DEFAULT_CANARY)
        time.sleep(1.0)
    lab.set_fault("down", "stable")
    start = time.time()
    verdict = None
    while time.time() - start < 45:
        verdict = judge.observe(src.poll(), DEFAULT_CANARY)
        if verdict.alarm:
            break
        time.sleep(1.0)
    report(f"stable down to the alarm: {time.time() - start:.1f} s")
    assert verdict is not None and verdict.alarm, verdict and verdict.summary
    assert re.match(rf"stable served nothing for \d+s while routed {100 - DEFAULT_CANARY}% \(\d+ requests expected\): "
                    "down", verdict.alarm)
    assert verdict.summary.startswith("hold: stable served nothing") and verdict.result is not Result.FAIL
