"""Prometheus scrapes the lab, and what it computes agrees with the services' truth.

Tolerances (stated): per-version request rates over a 10 s window agree with the truth
over the same window within max(10 %, 1 req/s); the stable p95 from the histogram agrees
with the exact p95 of the drawn latencies within 50 ms (bucket width around 0.3 s); the
canary error ratio under fault "errors" (5 %) agrees with the truth within 2.5 points.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.lab

RATE_QUERY = "sum by (version) (rate(http_requests_total[{w}]))"
ERROR_RATIO_QUERY = (
    'sum by (version) (rate(http_requests_total{{status=~"5.."}}[{w}]))'
    " / sum by (version) (rate(http_requests_total[{w}]))"
)


def by_version(result: list[dict]) -> dict[str, float]:
    return {r["metric"].get("version", ""): float(r["value"][1]) for r in result}


def sleep_until(t: float) -> None:
    delay = t - time.time()
    if delay > 0:
        time.sleep(delay)


def test_targets_are_up(prom, scraped_lab):
    up = prom.custom_query("up")
    assert len(up) == 2 and all(r["value"][1] == "1" for r in up)
    assert {r["metric"]["job"] for r in up} == {"canary-lab"}
    targets = scraped_lab.prometheus.targets()
    assert {t["health"] for t in targets} == {"up"} and len(targets) == 2
    names = set(prom.all_metrics())
    for name in (
        "http_requests_total", "http_request_duration_seconds_bucket", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "user_conversion_total", "user_engagement_total",
    ):
        assert name in names
    assert not [n for n in names if n.endswith("_created")]


def test_fault_raises_canary_error_rate(prom, scraped_lab):
    lab = scraped_lab
    window = 10
    try:
        lab.set_weights(50)  # 50 req/s on the canary: ~25 errors per 10 s window at 5 %
        lab.set_fault("errors")
        t0 = time.time()
        sleep_until(t0 + window + 2.5)  # the whole window after the switch, plus two scrapes
        at = time.time()
        ratios = by_version(prom.custom_query(ERROR_RATIO_QUERY.format(w=f"{window}s"), params={"time": at}))
        truth = lab.truth(window=window, end=at)
    finally:
        lab.set_fault("none")
        lab.set_weights(5)
    assert 0.015 < ratios["canary"] < 0.10, ratios
    assert ratios["canary"] == pytest.approx(truth["canary"].error_rate, abs=0.025)
    # a version without errors in the window has NO series (not 0): hence .get()
    assert ratios["canary"] > ratios.get("stable", 0.0)
    assert truth["canary"].requests > 150


def test_rates_agree_with_truth(prom, scraped_lab):
    lab = scraped_lab
    # a 10 s window needs ~10 s of scrapes; the first one lands ~5 s after start. The
    # window may contain the fault test's weight step: both sides count the same requests.
    sleep_until(lab.prometheus.started_at + 16)
    at = time.time()
    rates = by_version(prom.custom_query(RATE_QUERY.format(w="10s"), params={"time": at}))
    truth = lab.truth(window=10, end=at)
    for version in ("stable", "canary"):
        expected = truth[version].rate
        assert rates[version] == pytest.approx(expected, abs=max(0.10 * expected, 1.0)), (version, rates, expected)
    assert sum(rates.values()) == pytest.approx(100, rel=0.15)
    # the guide's query shape, over 30 s: one series per version
    rates30 = by_version(prom.custom_query(RATE_QUERY.format(w="30s"), params={"time": at}))
    assert set(rates30) == {"stable", "canary"} and all(v > 0 for v in rates30.values())

    # histogram p95 vs the exact p95 of the drawn latencies
    p95 = by_version(prom.custom_query(
        "histogram_quantile(0.95, sum by (le, version) (rate(http_request_duration_seconds_bucket[10s])))",
        params={"time": at},
    ))
    assert p95["stable"] == pytest.approx(truth["stable"].p95, abs=0.05)
    assert 0.2 < p95["canary"] < 0.5

    # business and process metrics follow the load
    engagement = by_version(prom.custom_query("sum by (version) (rate(user_engagement_total[10s]))", params={"time": at}))
    assert engagement["stable"] == pytest.approx(0.30 * rates["stable"], rel=0.25)
    cpu = by_version(prom.custom_query("sum by (version) (rate(process_cpu_seconds_total[10s]))", params={"time": at}))
    # both follow load; which is higher depends on what earlier tests left in the window (weights, faults)
    assert cpu["stable"] > 0 and cpu["canary"] > 0
    mem = by_version(prom.custom_query("process_resident_memory_bytes", params={"time": at}))
    assert mem["stable"] > 96 * 1024 * 1024 and mem["canary"] > 96 * 1024 * 1024
