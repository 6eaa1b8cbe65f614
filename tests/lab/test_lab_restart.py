"""Prometheus can be stopped and restarted under the lab (same port, same data dir)."""

from __future__ import annotations

import os
import time

import pytest
import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

pytestmark = pytest.mark.lab


def totals(prom: PrometheusConnect, at: float) -> dict[str, float]:
    result = prom.custom_query("sum by (version) (http_requests_total)", params={"time": at})
    return {r["metric"]["version"]: float(r["value"][1]) for r in result}


def test_stop_and_restart_keeps_port_and_data(scraped_lab):
    lab = scraped_lab
    server = lab.prometheus
    url, data_dir, old_pid = lab.url, server.data_dir, server.pid
    prom = PrometheusConnect(url=url, disable_ssl=True, retry=Retry(total=0), timeout=5)
    before_at = time.time() - 1
    before = totals(prom, before_at)
    assert set(before) == {"stable", "canary"}

    server.stop()
    assert not server.running
    with pytest.raises(requests.exceptions.RequestException):
        prom.custom_query("up")
    assert os.path.isdir(data_dir) and os.listdir(data_dir)

    server.restart()
    assert server.running and server.pid != old_pid
    assert lab.url == url and server.data_dir == data_dir
    # the WAL was replayed: samples from before the stop are still there
    assert totals(prom, before_at) == before

    lab.wait_scraped(timeout=20)
    after = totals(prom, time.time())
    assert after["stable"] > before["stable"]
    up = prom.custom_query("up")
    assert len(up) == 2 and all(r["value"][1] == "1" for r in up)
