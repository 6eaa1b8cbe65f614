"""PrometheusMetrics over real HTTP on loopback, against a small Prometheus API stub.

Covers: one query per metric per poll, all concurrent; the values that come back; the
interval counts from raw counters over several polls (first poll, outage gap, a 15 s
scrape under a 2 s poll); no series for zero errors; staleness by timestamp; a dead (closed port) or slow Prometheus
failing fast with BackendError; Prometheus errors; credentials never shown; TLS; backfill;
from_config; the lazy, pandas-free import.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tui.backends.base import BackendError, MetricSource
from tui.backends.prometheus import PrometheusConfigError, PrometheusMetrics, default_timeout
from tui.config import from_mapping

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakeprom import Counters, FakePrometheus, Rule, matrix, vector
except ModuleNotFoundError:
    from fakeprom import Counters, FakePrometheus, Rule, matrix, vector

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLACK_S = 0.35  # thread hand-off and interpreter jitter on a busy 2-core machine
LES = ["0.1", "0.2", "0.3", "0.5", "+Inf"]


@pytest.fixture
def fake():
    with FakePrometheus() as f:
        yield f


@pytest.fixture
def sources():
    made: list[PrometheusMetrics] = []

    def make(url: str, **kwargs) -> PrometheusMetrics:
        kwargs.setdefault("interval_s", 2.0)
        src = PrometheusMetrics(url, **kwargs)
        made.append(src)
        return src

    yield make
    for s in made:
        s.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(fake: FakePrometheus, source: PrometheusMetrics, results: dict, **kwargs) -> None:
    """Answer each of the source's queries (by exact text) with the given result."""
    for name, result in results.items():
        text = source.queries[name]
        fake.answer(lambda q, t=text: q == t, result, **kwargs)


def req(version: str, pod: str, status: str = "200") -> dict:
    return {"__name__": "http_requests_total", "job": "app", "version": version, "pod": pod, "status": status}


def bucket(version: str, pod: str, le: str) -> dict:
    return {"__name__": "http_request_duration_seconds_bucket", "job": "app", "version": version, "pod": pod,
            "le": le}


def typical_counters() -> tuple[Counters, Counters]:
    """Raw counters as a service exposes them: two stable pods, one canary pod, lazily made 503 children."""
    requests, buckets = Counters(), Counters()
    for labels, value in ((req("stable", "s1"), 5000), (req("stable", "s2"), 4000), (req("stable", "s1", "503"), 20),
                          (req("canary", "c1"), 300), (req("canary", "c1", "503"), 3)):
        requests.set(labels, value)
    for le, c in zip(LES, [30, 150, 240, 300, 303]):
        buckets.set(bucket("canary", "c1", le), c)
    return requests, buckets


def typical_results(ts: float | None = None) -> dict:
    requests, buckets = typical_counters()
    if ts is not None:
        requests.clock = buckets.clock = lambda: ts
    return {
        "requests_per_second": vector([({"version": "stable"}, 95.0), ({"version": "canary"}, 5.0)], ts),
        "error_rate": vector([({"version": "stable"}, 0.475), ({"version": "canary"}, 0.25)], ts),  # errors/s
        "latency_buckets_window": vector(
            [({"version": "stable", "le": le}, c) for le, c in zip(LES, [9.5, 47.5, 90.25, 95, 95])]
            + [({"version": "canary", "le": le}, c) for le, c in zip(LES, [0.5, 2.5, 4.0, 4.9, 5])], ts),
        "requests_counter": requests,
        "latency_buckets_counter": buckets,
        "cpu_cores": vector([({"version": "stable"}, 0.25), ({"version": "canary"}, 0.3)], ts),
        "memory_bytes": vector([({"version": "stable"}, 1.0e8), ({"version": "canary"}, 1.2e8)], ts),
        "instances": vector([({"version": "stable"}, 5.0), ({"version": "canary"}, 1.0)], ts),
        # each version's newest scrape: canary's is the older, 12 s before the evaluation
        "scrape_time": vector([({"version": "stable"}, (ts or time.time()) - 3.0),
                               ({"version": "canary"}, (ts or time.time()) - 12.0)], ts),
    }


def test_is_a_metric_source(fake, sources):
    src = sources(fake.url)
    assert isinstance(src, MetricSource)
    assert src.describe() == f"prometheus {fake.url} (preset http)"


def test_poll_one_query_per_metric_and_values(fake, sources):
    src = sources(fake.url, selector='app="x0tta6bl4-app"')
    results = typical_results()
    serve(fake, src, results)
    first = src.poll()
    assert first.error is None
    # Exactly one query per metric: the window ones grouped by version (never one per
    # version), the two raw counters unaggregated; the errors come from the requests counter.
    assert len(fake.requests) == 9
    assert sorted(r.query for r in fake.requests) == sorted(src.queries.values())
    assert all(r.path == "/api/v1/query" for r in fake.requests)
    assert all('app="x0tta6bl4-app"' in r.query for r in fake.requests)
    assert src.queries["requests_counter"] == 'http_requests_total{app="x0tta6bl4-app"}'
    assert src.queries["latency_buckets_counter"] == 'http_request_duration_seconds_bucket{app="x0tta6bl4-app"}'
    assert all("by (version" in q for n, q in src.queries.items() if not n.endswith("_counter"))
    s, c = first.stable, first.canary
    assert (s.requests_per_second, c.requests_per_second) == (95.0, 5.0)
    assert s.error_rate == pytest.approx(0.005) and c.error_rate == pytest.approx(0.05)  # divided here
    assert s.p50_ms == pytest.approx(200.0)
    assert s.p95_ms == pytest.approx(300.0 + 200.0 * (90.25 - 90.25) / (95 - 90.25))
    assert c.p95_ms == pytest.approx(300 + 200 * (4.75 - 4.0) / 0.9)
    assert (c.cpu_cores, c.memory_bytes, c.instances, s.instances) == (0.3, 1.2e8, 1.0, 5.0)
    # The first poll has no previous counter values: no counts (no data), not 0.
    assert (c.requests, c.errors, c.histogram, s.requests, s.errors) == (None, None, (), None, None)
    assert first.interval_s == 2.0
    assert abs(first.at.timestamp() - time.time()) < 2
    assert src.last_poll.queries == 9 and src.last_poll.ok

    requests, buckets = results["requests_counter"], results["latency_buckets_counter"]
    requests.add(req("canary", "c1"), 9)
    requests.add(req("canary", "c1", "503"), 1)
    requests.add(req("stable", "s1"), 100)
    requests.add(req("stable", "s2"), 89)
    requests.add(req("stable", "s1", "503"), 1)
    for le, n in zip(LES, [1, 5, 8, 10, 10]):
        buckets.add(bucket("canary", "c1", le), n)
    time.sleep(0.05)
    snap = src.poll()
    s, c = snap.stable, snap.canary
    assert (c.requests, c.errors, s.requests, s.errors) == (10.0, 1.0, 190.0, 1.0)
    assert c.histogram == ((100.0, 1.0), (200.0, 5.0), (300.0, 8.0), (500.0, 10.0), (math.inf, 10.0))
    assert s.histogram == ()  # no bucket series for stable in this answer: no data, not zeros
    assert snap.interval_s == pytest.approx(0.05, abs=0.5)  # the span the counts cover: since the last poll
    assert len(fake.requests) == 18 and src.last_poll.queries == 9


def test_counts_over_several_polls_resets_and_new_pods(fake, sources):
    src = sources(fake.url)
    results = typical_results()
    serve(fake, src, results)
    requests = results["requests_counter"]
    src.poll()
    requests.add(req("canary", "c1"), 10)
    requests.set(req("canary", "c2"), 700)  # a second canary pod, first seen: its history is not counted
    assert src.poll().canary.requests == 10
    requests.set(req("canary", "c1"), 4)  # c1 restarted: 4 since the restart
    requests.set(req("canary", "c1", "503"), 1)
    requests.add(req("canary", "c2"), 6)
    snap = src.poll()
    assert (snap.canary.requests, snap.canary.errors) == (4 + 1 + 6, 1)
    requests.drop(req("canary", "c2"))  # c2 gone: nothing from it, and forgotten
    snap = src.poll()
    assert (snap.canary.requests, snap.canary.errors) == (0, 0)  # nothing new was scraped: 0, not None


def test_an_outage_keeps_the_previous_values_and_the_next_poll_covers_the_gap(fake, sources):
    src = sources(fake.url, timeout_s=1.0, retries=0)
    results = typical_results()
    serve(fake, src, results)
    requests = results["requests_counter"]
    src.poll()
    last_good = time.time()
    down = Rule("", "prometheus is down", status=500)
    fake.rules.insert(0, down)
    for _ in range(3):
        requests.add(req("canary", "c1"), 25)
        requests.add(req("canary", "c1", "503"), 2)
        with pytest.raises(BackendError):
            src.poll()
    fake.rules.remove(down)
    snap = src.poll()
    assert (snap.canary.requests, snap.canary.errors) == (3 * 27, 6)  # exact across the outage
    assert snap.interval_s == pytest.approx(time.time() - last_good, abs=0.3)  # the span: the whole gap


class ScrapedService:
    """A service counting requests continuously, seen through a Prometheus that scrapes every
    ``scrape_s``: the counters Prometheus holds change only at scrapes. Simulated time."""

    def __init__(self, scrape_s: float, offset_s: float, rates: dict[str, float], error_share: float,
                 les: list[str], le_shares: list[float]) -> None:
        self.t = 0.0
        self.scrape_s, self.offset_s = scrape_s, offset_s
        self.rates, self.error_share = rates, error_share
        self.les, self.le_shares = les, le_shares

    def true_requests(self, version: str, at: float) -> float:
        return 1_000_000.0 + self.rates[version] * at  # running long before the console started

    def scraped_at(self) -> float:
        """The time of the last scrape at or before now."""
        return math.floor((self.t - self.offset_s) / self.scrape_s) * self.scrape_s + self.offset_s

    def requests(self, promql: str, params: dict) -> list:
        at = self.scraped_at()
        rows = []
        for v in self.rates:
            n = self.true_requests(v, at)
            rows.append((req(v, "p1", "200"), n * (1 - self.error_share)))
            rows.append((req(v, "p1", "503"), n * self.error_share))
        return vector(rows, self.t)

    def buckets(self, promql: str, params: dict) -> list:
        at = self.scraped_at()
        return vector([(bucket(v, "p1", le), self.true_requests(v, at) * share)
                       for v in self.rates for le, share in zip(self.les, self.le_shares)], self.t)


@pytest.mark.parametrize("offset_s", [0.0, 7.0])
def test_a_15s_scrape_under_a_2s_poll_counts_right_over_30s(fake, sources, offset_s):
    sim = ScrapedService(scrape_s=15.0, offset_s=offset_s, rates={"stable": 95.0, "canary": 5.0}, error_share=0.02,
                         les=LES, le_shares=[0.1, 0.5, 0.9, 0.99, 1.0])
    src = sources(fake.url, interval_s=2.0, clock=lambda: sim.t)
    fake.answer(lambda q: q == src.queries["requests_counter"], sim.requests)
    fake.answer(lambda q: q == src.queries["latency_buckets_counter"], sim.buckets)
    fake.answer("", lambda q, p: vector([], sim.t))  # the window queries: no data, not the point here
    sim.t = 1000.0
    first = src.poll()
    assert first.canary.requests is None
    totals = {"stable": 0.0, "canary": 0.0}
    errors = {"stable": 0.0, "canary": 0.0}
    hist_total = 0.0
    zeros = 0
    for _ in range(15):  # 15 polls, 2 s apart: 30 s
        sim.t += 2.0
        snap = src.poll()
        assert snap.interval_s == 2.0
        for role in ("stable", "canary"):
            sample = snap.of(role)
            assert sample.requests is not None, "a poll without a new scrape counts 0, never no data"
            totals[role] += sample.requests
            errors[role] += sample.errors
        zeros += snap.canary.requests == 0
        hist_total += snap.canary.histogram[-1][1]
    assert zeros >= 12  # most polls saw no new scrape (0 = no new samples)
    for role, rate in (("stable", 95.0), ("canary", 5.0)):
        # Exactly the increase between the scrapes the first and the last poll saw...
        first_scrape = math.floor((1000.0 - offset_s) / 15.0) * 15.0 + offset_s
        seen = sim.true_requests(role, sim.scraped_at()) - sim.true_requests(role, first_scrape)
        assert totals[role] == pytest.approx(seen, rel=1e-9)
        assert errors[role] == pytest.approx(0.02 * seen, rel=1e-9)
        # ...which is the true 30 s count when the scrapes line up with the polls, and is
        # within one scrape interval's traffic of it otherwise (both ends lag the same way).
        truth = rate * 30.0
        assert abs(totals[role] - truth) <= rate * 15.0 + 1e-6
        if offset_s == 0.0:
            assert totals[role] == pytest.approx(truth)
    assert hist_total == pytest.approx(totals["canary"])


def test_all_queries_of_a_poll_run_concurrently(sources):
    delay = 0.3
    with FakePrometheus(delay=delay) as fake:
        src = sources(fake.url, interval_s=4.0, timeout_s=1.5)
        serve(fake, src, typical_results())
        src.poll()  # warm the keep-alive connections
        fake.reset_counts()
        t0 = time.monotonic()
        src.poll()
        took = time.monotonic() - t0
    assert len(fake.requests) == 9
    assert fake.max_in_flight == 9, "every query of a poll must be in flight at once"
    assert took < 2 * delay, f"9 queries of {delay}s took {took:.2f}s: not concurrent"


def test_business_metrics_one_query_each(fake, sources):
    business = [{"name": "conversion", "query": "sum by (version) (rate(user_conversion_total[1m]))",
                 "minRatioToStable": 0.9},
                {"name": "engagement", "query": "sum by (version) (rate(user_engagement_total[1m]))",
                 "minRatioToStable": 0.9}]
    src = sources(fake.url, business=business)
    fake.answer("user_conversion_total", vector([({"version": "stable"}, 3.0), ({"version": "canary"}, "NaN")]))
    fake.answer("user_engagement_total", vector([({"version": "canary"}, 1.5), ({"version": "v3"}, 9.0)]))
    snap = src.poll()
    assert len(fake.requests) == 11
    assert snap.stable.business == {"conversion": 3.0, "engagement": None}
    assert snap.canary.business == {"conversion": None, "engagement": 1.5}
    assert snap.canary.value("conversion") is None


def test_no_series_for_zero_errors_over_http(fake, sources):
    src = sources(fake.url)
    results = typical_results()
    results["requests_per_second"] = vector([({"version": "stable"}, 95.0), ({"version": "canary"}, 0.0)])
    # rate of 5xx: stable has no 5xx series at all (not a 0); canary has no traffic.
    results["error_rate"] = vector([({"version": "canary"}, 0.0)])
    requests = Counters()  # no 503 children at all: nobody ever answered a 5xx
    requests.set(req("stable", "s1"), 500)
    requests.set(req("canary", "c1"), 20)
    results["requests_counter"] = requests
    serve(fake, src, results)
    src.poll()
    requests.add(req("stable", "s1"), 50)
    snap = src.poll()
    assert snap.stable.error_rate == 0.0, "traffic without 5xx series is 0 errors"
    assert snap.canary.error_rate is None, "no traffic is no data, not 0"
    assert (snap.stable.requests, snap.stable.errors) == (50.0, 0.0)  # requests were counted: 0 errors
    assert (snap.canary.requests, snap.canary.errors) == (0.0, 0.0)


def test_errors_counter_override(fake, sources):
    src = sources(fake.url, queries={"requests_counter": "my_requests_total", "errors_counter": "my_errors_total"})
    assert len(src.queries) == 10  # the override adds a query
    requests, errs = Counters(), Counters()
    requests.set({"version": "canary", "pod": "a"}, 100)  # no status label: errors from their own counter
    errs.set({"version": "canary", "pod": "a", "code": "UNAVAILABLE"}, 3)
    fake.answer(lambda q: q == "my_requests_total", requests)
    fake.answer(lambda q: q == "my_errors_total", errs)
    src.poll()
    requests.add({"version": "canary", "pod": "a"}, 40)
    errs.add({"version": "canary", "pod": "a", "code": "UNAVAILABLE"}, 2)
    snap = src.poll()
    assert (snap.canary.requests, snap.canary.errors) == (40.0, 2.0)
    assert (snap.stable.requests, snap.stable.errors) == (None, None)


def test_empty_answers_are_no_data_not_zero(fake, sources):
    src = sources(fake.url)  # the stub answers every query with an empty vector
    src.poll()
    snap = src.poll()  # a second poll too: no series is no data, not 0 counts
    assert snap.error is None
    for sample in (snap.stable, snap.canary):
        for name in ("requests_per_second", "error_rate", "p50_ms", "p95_ms", "p99_ms", "cpu_cores",
                     "memory_bytes", "requests", "errors"):
            assert sample.value(name) is None, name
        assert sample.histogram == ()


def test_series_only_under_other_version_names_is_said(fake, sources):
    src = sources(fake.url, stable_version="v1", canary_version="v2")
    fake.answer("", vector([({"version": "stable"}, 1.0), ({"version": "canary"}, 2.0)]))
    snap = src.poll()
    assert snap.error == "no series for version='v1' or 'v2' (found canary, stable)"
    assert snap.canary.requests_per_second is None


def test_stale_samples_by_timestamp(fake, sources):
    src = sources(fake.url, interval_s=2.0)
    old = time.time() - 10  # 10 s > 2 intervals
    serve(fake, src, typical_results(ts=old))
    snap = src.poll()
    assert snap.error and "stale" in snap.error
    assert snap.canary.requests_per_second is None and snap.stable.p95_ms is None


def test_one_stale_series_is_no_data_for_that_metric_only(fake, sources):
    src = sources(fake.url, interval_s=2.0)
    results = typical_results()
    results["cpu_cores"] = vector([({"version": "stable"}, 0.25), ({"version": "canary"}, 0.3)], ts=time.time() - 4.5)
    serve(fake, src, results)
    snap = src.poll()
    assert snap.error is None
    assert snap.canary.cpu_cores is None and snap.stable.cpu_cores is None
    assert snap.canary.requests_per_second == 5.0


def test_a_recent_sample_is_fresh_with_an_injected_clock(fake, sources):
    src = sources(fake.url, interval_s=2.0, clock=lambda: 1_800_000_003.9)
    serve(fake, src, typical_results(ts=1_800_000_000.0))
    snap = src.poll()
    assert snap.error is None and snap.canary.requests_per_second == 5.0
    assert snap.at.timestamp() == 1_800_000_000.0  # Prometheus' evaluation time, not ours
    # The scrape's age is measured on Prometheus's clock (evaluation - scrape: canary's 12 s),
    # then put on ours: a skewed clock does not age the data.
    assert snap.scraped_at.timestamp() == pytest.approx(1_800_000_003.9 - 12.0)


@pytest.mark.parametrize("scraped_ago,stale", [(59.0, False), (61.0, True)])
def test_data_last_scraped_longer_ago_than_the_window_is_stale(fake, sources, scraped_ago, stale):
    """A stalled scrape (or a lagging remote write): Prometheus answers at once, stamped now,
    with samples that stopped changing; only timestamp() tells."""
    src = sources(fake.url, interval_s=2.0, window_s=60.0, clock=lambda: 1_800_000_000.5)
    results = typical_results(ts=1_800_000_000.0)
    results["scrape_time"] = vector([({"version": "stable"}, 1_800_000_000.0 - 5.0),
                                     ({"version": "canary"}, 1_800_000_000.0 - scraped_ago)], 1_800_000_000.0)
    serve(fake, src, results)
    snap = src.poll()
    if stale:
        assert snap.error == "stale data: last scraped 61s ago (longer than metrics.window, 60s)"
    else:
        assert snap.error is None
    assert snap.scraped_at.timestamp() == pytest.approx(1_800_000_000.5 - scraped_ago)


def test_without_a_scrape_time_the_age_is_not_known(fake, sources):
    src = sources(fake.url)
    results = typical_results()
    del results["scrape_time"]  # a Prometheus-compatible store that answers it with nothing
    serve(fake, src, results)
    snap = src.poll()
    assert snap.error is None and snap.scraped_at is None


@pytest.mark.parametrize("retries", [0, 1, 5])
def test_dead_prometheus_fails_fast(sources, retries):
    port = closed_port()
    src = sources(f"http://127.0.0.1:{port}", interval_s=2.0, timeout_s=1.0, retries=retries)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        src.poll()
    took = time.monotonic() - t0
    assert str(err.value) == f"prometheus at http://127.0.0.1:{port}: connection refused"
    assert took < src.timeout_s + SLACK_S, f"took {took:.2f}s"
    assert not src.last_poll.ok


def test_slow_prometheus_times_out_within_the_timeout(sources):
    with FakePrometheus(delay=3.0) as fake:
        src = sources(fake.url, interval_s=1.0)  # default timeout: 0.5 s
        assert src.timeout_s == 0.5
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=r"^prometheus at http://127\.0\.0\.1:\d+: timed out after 0\.5s$"):
            src.poll()
        took = time.monotonic() - t0
    assert took < 0.5 + SLACK_S, f"took {took:.2f}s"


def test_recovers_after_prometheus_comes_back_on_the_same_port(sources):
    port = closed_port()
    src = sources(f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError, match="connection refused"):
        src.poll()
    with FakePrometheus(port=port) as fake:  # the same source, no re-creation
        serve(fake, src, typical_results())
        assert src.poll().canary.requests_per_second == 5.0


def test_prometheus_error_names_the_query(fake, sources):
    src = sources(fake.url, queries={"cpu_cores": "rate(oops[1m]"})
    fake.answer("oops", "1:14: parse error: unclosed left parenthesis", status=400)
    with pytest.raises(BackendError) as err:
        src.poll()
    msg = str(err.value)
    assert msg.startswith(f"prometheus at {fake.url}: query cpu_cores failed: HTTP 400")
    assert "unclosed left parenthesis" in msg


def test_not_the_prometheus_api(fake, sources):
    src = sources(fake.url)
    fake.answer("", body=b"<html>please log in</html>", status=200)
    with pytest.raises(BackendError, match="not Prometheus API JSON"):
        src.poll()


# --- credentials ---------------------------------------------------------------

TOKEN = "s3cr3t-t0ken-ABCDEF"


def test_bearer_token_sent_and_never_shown(fake, sources, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)  # every logger, including urllib3's and the client's
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    config = from_mapping({"name": "t", "metrics": {
        "kind": "prometheus", "url": fake.url, "interval": "2s",
        "auth": {"bearerTokenEnv": "PROM_TOKEN"}}})
    src = PrometheusMetrics.from_config(config)
    try:
        src.poll()
        assert fake.requests[0].headers.get("Authorization") == f"Bearer {TOKEN}"
        # A proxy that refuses and echoes the request headers back in its error page.
        fake.answer("", body=f"denied: Authorization: Bearer {TOKEN}".encode(), status=401)
        with pytest.raises(BackendError) as err:
            src.poll()
        assert "HTTP 401" in str(err.value) and "unauthorized" in str(err.value)
        shown = [str(err.value), repr(err.value), src.describe(), repr(src), caplog.text,
                 str(err.value.__cause__), str(err.value.__context__)]
        assert all(TOKEN not in s for s in shown)
        assert "***" in str(err.value)
    finally:
        src.close()


def test_basic_auth_from_env_and_url_userinfo_never_shown(fake, sources, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PROM_USER", "ops")
    monkeypatch.setenv("PROM_PASS", "pa55-word-XYZ")
    config = from_mapping({"name": "t", "metrics": {
        "kind": "prometheus", "url": fake.url, "interval": "2s",
        "auth": {"usernameEnv": "PROM_USER", "passwordEnv": "PROM_PASS"}}})
    src = PrometheusMetrics.from_config(config)
    try:
        src.poll()
        import base64

        basic = base64.b64encode(b"ops:pa55-word-XYZ").decode()
        assert fake.requests[0].headers.get("Authorization") == f"Basic {basic}"
        fake.answer("", body=f"bad creds Authorization: Basic {basic} pa55-word-XYZ".encode(), status=403)
        with pytest.raises(BackendError) as err:
            src.poll()
        for s in (str(err.value), src.describe(), repr(src), caplog.text):
            assert "pa55-word-XYZ" not in s and basic not in s
    finally:
        src.close()
    fake.clear()
    host = fake.url.split("//", 1)[1]
    src2 = sources(f"http://bob:hunter2-pw@{host}")
    assert src2.describe() == f"prometheus http://{host} (preset http)"
    assert "hunter2" not in repr(src2) and src2.url == f"http://{host}"
    src2.poll()
    assert fake.requests[-1].headers.get("Authorization", "").startswith("Basic ")


def test_unset_credential_env_var_is_a_clear_error(fake, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    config = from_mapping({"name": "t", "metrics": {"kind": "prometheus", "url": fake.url,
                                                     "auth": {"bearerTokenEnv": "NOPE_TOKEN"}}})
    with pytest.raises(PrometheusConfigError, match="bearerTokenEnv: the environment variable NOPE_TOKEN is not set"):
        PrometheusMetrics.from_config(config)


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found")
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_ca_file_and_insecure_skip_verify(sources, tls_cert):
    cert, _key = tls_cert
    with FakePrometheus(tls=tls_cert) as fake:
        assert fake.url.startswith("https://")
        serve_all = typical_results()
        src = sources(fake.url, ca_file=cert)
        serve(fake, src, serve_all)
        assert src.poll().canary.requests_per_second == 5.0
        untrusted = sources(fake.url)
        with pytest.raises(BackendError, match="TLS error"):
            untrusted.poll()
        insecure = sources(fake.url, insecure_skip_verify=True)
        assert insecure.poll().canary.requests_per_second == 5.0


def test_missing_ca_file_is_a_config_error(fake, tmp_path):
    with pytest.raises(PrometheusConfigError, match="caFile: no such file"):
        PrometheusMetrics(fake.url, ca_file=str(tmp_path / "nope.pem"))


# --- backfill ----------------------------------------------------------------


def test_backfill_one_range_query_per_window_metric(fake, sources):
    end = time.time()
    t0 = float(int(end) - 6)
    times = [t0, t0 + 2, t0 + 4]
    src = sources(fake.url, interval_s=2.0)
    q = src.queries
    fake.answer(lambda s: s == q["requests_per_second"],
                matrix([({"version": "stable"}, [(t, 95) for t in times]),
                        ({"version": "canary"}, [(times[1], 5), (times[2], 0)])]))
    fake.answer(lambda s: s == q["error_rate"], matrix([({"version": "canary"}, [(times[1], 0.1)])]))  # errors/s
    fake.answer(lambda s: s == q["latency_buckets_window"],
                matrix([({"version": "canary", "le": le}, [(times[1], c)]) for le, c in zip(LES, [1, 2, 4, 5, 5])]))
    snaps = src.backfill(600, 2.0)
    paths = [r.path for r in fake.requests]
    assert paths == ["/api/v1/query_range"] * 5  # rps, error rate, buckets, cpu, memory: no count queries
    params = fake.requests[0].params
    assert float(params["step"]) == 2.0 and float(params["end"]) - float(params["start"]) == pytest.approx(600, abs=1)
    assert [s.at.timestamp() for s in snaps] == times  # oldest first
    assert snaps[0].canary.requests_per_second is None and snaps[0].stable.requests_per_second == 95.0
    assert snaps[0].stable.error_rate == 0.0  # traffic, no 5xx series at that instant
    assert snaps[1].canary.error_rate == pytest.approx(0.02) and snaps[1].canary.p95_ms == pytest.approx(300 + 200 * 0.75)
    assert snaps[2].canary.error_rate is None  # no traffic
    assert all(s.canary.requests is None and s.canary.histogram == () for s in snaps)


def test_backfill_nothing_asked_and_dead_prometheus(sources):
    src = sources(f"http://127.0.0.1:{closed_port()}")
    assert src.backfill(0, 2.0) == []
    with pytest.raises(BackendError, match="connection refused"):
        src.backfill(600, 2.0)


# --- configuration ------------------------------------------------------------


def test_from_config_istio_preset_and_versions_from_subsets(fake):
    config = from_mapping({"name": "t",
                           "router": {"kind": "istio", "namespace": "ns", "virtualService": "vs",
                                      "stable": {"host": "app", "subset": "v1"},
                                      "canary": {"host": "app", "subset": "v2"}},
                           "metrics": {"kind": "prometheus", "url": fake.url + "/", "preset": "istio",
                                       "interval": "4s", "window": "30s", "retries": 2,
                                       "selector": 'destination_service_name="app"'}})
    src = PrometheusMetrics.from_config(config)
    try:
        assert src.versions == ("v1", "v2")
        assert src.version_label == "destination_version"
        assert src.timeout_s == 2.0 and src.retries == 2 and src.window_s == 30.0
        assert len(src.queries) == 6  # no cpu/memory/instances for istio unless overridden
        fake.answer("rate(istio_requests_total", vector([({"destination_version": "v2"}, 7.0),
                                                         ({"destination_version": "v1"}, 3.0)]))
        fake.answer("istio_request_duration_milliseconds_bucket",
                    vector([({"destination_version": "v2", "le": le}, c)
                            for le, c in [("100", 1), ("250", 9.9), ("+Inf", 10)]]))
        snap = src.poll()
        assert snap.canary.requests_per_second == 7.0 and snap.stable.requests_per_second == 3.0
        assert snap.canary.p95_ms == pytest.approx(100 + 150 * (9.5 - 1) / 8.9)  # le already in ms
        assert snap.canary.cpu_cores is None and snap.canary.memory_bytes is None
        assert src.describe() == f"prometheus {fake.url} (preset istio)"
    finally:
        src.close()


def test_from_config_metrics_versions_name_the_sides(fake):
    router = {"kind": "istio", "namespace": "ns", "virtualService": "vs",
              "stable": {"host": "app", "subset": "v1"}, "canary": {"host": "app", "subset": "v2"}}
    config = from_mapping({"name": "t", "router": router,
                           "metrics": {"kind": "prometheus", "url": fake.url,
                                       "versions": {"stable": "1.4.2", "canary": "1.5.0"}}})
    src = PrometheusMetrics.from_config(config)  # metrics.versions wins over the router's subsets
    try:
        assert src.versions == ("1.4.2", "1.5.0")
        requests = Counters()
        requests.set(req("1.5.0", "a"), 10)
        requests.set(req("v2", "a"), 99)  # the subset name is not the label value here
        fake.answer(lambda q: q == src.queries["requests_counter"], requests)
        src.poll()
        requests.add(req("1.5.0", "a"), 7)
        requests.add(req("v2", "a"), 1)
        assert src.poll().canary.requests == 7
    finally:
        src.close()


def test_from_config_timeout_and_defaults(fake):
    config = from_mapping({"name": "t", "metrics": {"kind": "prometheus", "url": fake.url,
                                                     "interval": "20s", "timeout": "3s"}})
    src = PrometheusMetrics.from_config(config)
    try:
        assert src.timeout_s == 3.0 and src.versions == ("stable", "canary")
    finally:
        src.close()
    assert default_timeout(2.0) == 1.0 and default_timeout(20.0) == 5.0


def test_unknown_query_override_is_a_config_error(fake):
    with pytest.raises(PrometheusConfigError, match="metrics.queries: unknown query name 'p95_ms'"):
        PrometheusMetrics(fake.url, queries={"p95_ms": "x"})


def test_closed_source_refuses(fake):
    src = PrometheusMetrics(fake.url)
    src.close()
    src.close()  # idempotent
    with pytest.raises(BackendError, match="closed"):
        src.poll()


def test_factory_builds_it(fake):
    from tui.assembly import build_backends

    config = from_mapping({"name": "t", "metrics": {"kind": "prometheus", "url": fake.url}})
    backends = build_backends(config)
    try:
        assert isinstance(backends.metrics, PrometheusMetrics)
    finally:
        backends.metrics.close()
        backends.router.close()


def test_lazy_import_and_no_pandas(fake):
    code = f"""
import sys
import tui.backends.prometheus, tui.assembly
assert 'prometheus_api_client' not in sys.modules, 'imported at module import time'
assert 'requests' not in sys.modules
from tui.backends.prometheus import PrometheusMetrics
src = PrometheusMetrics({fake.url!r})
src.poll()
src.close()
assert 'prometheus_api_client' in sys.modules
bad = sorted(m for m in ('pandas', 'numpy', 'matplotlib') if m in sys.modules)
assert not bad, bad
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
