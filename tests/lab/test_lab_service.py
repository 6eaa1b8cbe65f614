"""The lab's services and load generator on their own (no Prometheus needed)."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request

import pytest

from tui.lab import LATENCY_BUCKETS, LabService, LoadGenerator, StaticWeights, quantile
from tui.lab.service import ServiceProfile

pytestmark = pytest.mark.lab

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, str]:
    try:
        with OPENER.open(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post_json(url: str, payload) -> tuple[int, dict]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with OPENER.open(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def samples(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` from a text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@pytest.fixture
def service():
    with LabService("canary", seed=7) as svc:
        yield svc


def test_service_answers_and_exposes_metrics(service):
    assert service.url.startswith("http://127.0.0.1:")
    codes = [get(service.url + "/work")[0] for _ in range(30)]
    assert set(codes) <= {200, 503} and codes.count(200) >= 25
    status, text = get(service.url + "/metrics")
    assert status == 200
    s = samples(text)
    ok = s.get('http_requests_total{status="200",version="canary"}', 0.0)
    err = s.get('http_requests_total{status="503",version="canary"}', 0.0)
    assert ok + err == 30 == service.served
    assert s['http_request_duration_seconds_count{version="canary"}'] == 30
    assert s['http_request_duration_seconds_bucket{le="+Inf",version="canary"}'] == 30
    for le in LATENCY_BUCKETS:
        assert f'http_request_duration_seconds_bucket{{le="{le}",version="canary"}}' in s
    assert s['process_cpu_seconds_total{version="canary"}'] > 0
    assert s['process_resident_memory_bytes{version="canary"}'] >= 96 * 1024 * 1024
    assert 'user_conversion_total{version="canary"}' in s
    assert 'user_engagement_total{version="canary"}' in s
    assert not [k for k in s if "_created" in k]
    assert get(service.url + "/healthz") == (200, "ok\n")
    assert get(service.url + "/nope")[0] == 404


def test_fault_switch_over_http(service):
    status, body = get(service.url + "/fault")
    assert status == 200 and json.loads(body) == {"version": "canary", "kind": "none", "errorRate": 0.005, "latencyFactor": 1.0}
    status, body = get(service.url + "/fault?kind=errors")
    assert status == 200 and json.loads(body)["errorRate"] == 0.05
    status, body = get(service.url + "/fault?kind=latency")
    assert json.loads(body) == {"version": "canary", "kind": "latency", "errorRate": 0.005, "latencyFactor": 1.5}
    assert get(service.url + "/fault?kind=bogus")[0] == 400

    status, body = post_json(service.url + "/fault", {"errorRate": 1.0, "latencyFactor": 2})
    assert status == 200 and body["kind"] == "custom" and body["errorRate"] == 1.0 and body["latencyFactor"] == 2.0
    assert post_json(service.url + "/fault", {"errorRate": 2})[0] == 400
    assert post_json(service.url + "/fault", b"not json")[0] == 400
    # every request fails now, and the 503 series appears
    assert [get(service.url + "/work")[0] for _ in range(5)] == [503] * 5
    assert samples(get(service.url + "/metrics")[1])['http_requests_total{status="503",version="canary"}'] == 5

    assert json.loads(get(service.url + "/fault?kind=none")[1])["errorRate"] == 0.005


def test_a_down_service_answers_neither_work_nor_scrapes_but_its_fault_switch(service):
    import http.client

    assert json.loads(get(service.url + "/fault?kind=down")[1])["kind"] == "down"
    for path in ("/work", "/metrics"):
        with pytest.raises((http.client.HTTPException, urllib.error.URLError, ConnectionError)):
            get(service.url + path)  # a crashed pod: the connection ends with no answer
    assert get(service.url + "/fault?kind=none")[0] == 200
    assert get(service.url + "/work")[0] in (200, 503)


def test_latency_profile_and_faults():
    """Drawn latencies follow the profile: median ~180 ms, p95 ~300 ms; faults as specified."""
    svc = LabService("stable", seed=11)  # handle_work needs no running server
    lat = lambda recs: [r[2] for r in recs]  # noqa: E731
    for _ in range(4000):
        svc.handle_work()
    base = svc.records()
    assert quantile(lat(base), 0.5) == pytest.approx(0.180, rel=0.06)
    assert quantile(lat(base), 0.95) == pytest.approx(0.300, rel=0.08)
    assert sum(1 for r in base if r[1] == 503) / len(base) < 0.015

    svc.set_fault("latency")
    t = time.time()
    for _ in range(4000):
        svc.handle_work()
    slow = svc.records(start=t)
    assert quantile(lat(slow), 0.5) == pytest.approx(0.270, rel=0.06)

    svc.set_fault("errors")
    t = time.time()
    for _ in range(4000):
        svc.handle_work()
    errs = svc.records(start=t)
    assert sum(1 for r in errs if r[1] == 503) / len(errs) == pytest.approx(0.05, abs=0.015)

    p = ServiceProfile()
    assert math.exp(p.mu) == pytest.approx(0.18) and math.exp(p.mu + 1.6449 * p.sigma) == pytest.approx(0.30, rel=1e-3)


def test_static_weights():
    w = StaticWeights()
    assert w() == (95, 5) and w.get() == (95, 5)
    w.set(30)
    assert w() == (70, 30) and w.canary == 30
    with pytest.raises(ValueError):
        w.set(101)


def test_load_generator_is_bounded_and_follows_weights():
    with LabService("stable", seed=1) as stable, LabService("canary", seed=2) as canary:
        weights = StaticWeights(canary=50)
        gen = LoadGenerator({"stable": stable.url, "canary": canary.url}, weights, rate=200, duration=1.0, seed=3)
        t0 = time.monotonic()
        gen.start()
        gen.join(timeout=5)
        assert not gen.running and time.monotonic() - t0 < 3
        stats = gen.stats()
        total = stats["stable"]["sent"] + stats["canary"]["sent"]
        assert 160 <= total <= 220, stats
        assert stats["stable"]["failures"] == stats["canary"]["failures"] == 0
        # the client side agrees with what the services answered
        assert stats["stable"]["sent"] == stable.served and stats["canary"]["sent"] == canary.served
        assert 0.35 <= canary.served / total <= 0.65


def test_load_generator_counts_failures_when_a_service_is_gone():
    with LabService("stable", seed=1) as stable:
        canary = LabService("canary", seed=2).start()
        canary.stop()  # its port is closed now
        weights = StaticWeights(canary=50)
        gen = LoadGenerator({"stable": stable.url, "canary": canary.url}, weights, rate=100, duration=0.5, seed=3)
        gen.start()
        gen.join(timeout=5)
        stats = gen.stats()
        assert stats["canary"]["failures"] > 0 and stats["canary"]["sent"] == 0
        assert stats["stable"]["sent"] > 0
