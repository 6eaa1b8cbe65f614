"""The session lab's load follows the weights (measured from the services' truth)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.lab


def canary_share(lab, start: float, end: float) -> tuple[float, int]:
    t = lab.truth(start, end)
    total = t["stable"].requests + t["canary"].requests
    return (t["canary"].requests / total if total else 0.0), total


def test_lab_services_answer(lab):
    assert set(lab.service_urls) == {"stable", "canary"}
    assert lab.url.startswith("http://127.0.0.1:")
    for url in lab.service_urls.values():
        assert url.startswith("http://127.0.0.1:")


def test_weight_change_moves_traffic(lab):
    # Each window: 2 s at 100 req/s = ~200 requests; a binomial share's sd is <= 3.5 %.
    t0 = time.time()
    time.sleep(2.0)
    share, total = canary_share(lab, t0, time.time())
    assert 150 <= total <= 240
    assert share == pytest.approx(0.05, abs=0.05)

    try:
        lab.set_weights(50)
        time.sleep(0.3)  # the generator re-reads weights every 100 ms
        t1 = time.time()
        time.sleep(2.0)
        share, total = canary_share(lab, t1, time.time())
        assert 150 <= total <= 240
        assert share == pytest.approx(0.50, abs=0.15)
        assert lab.load.current_weights == (50, 50)
    finally:
        lab.set_weights(5)
    assert lab.load.stats()["dropped"] == 0
