"""Fixtures for the lab tests: ONE lab (services + load + Prometheus) for the lab tests.

The lab lives as long as the tests of this package (scope "package"), not the session: its
100 req/s of in-process load keep the process at a few per cent of cpu, and Textual's pilot
reads a busy process as one not idle yet, so every key press in the app tests after it would
wait its full second (52 s for one command typed; the suite ran for many minutes).

Without a ``prometheus`` binary the tests that need it are skipped, unless
``CANARY_REQUIRE_PROMETHEUS=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tui.lab import Lab, StaticWeights, find_prometheus_binary  # noqa: E402

MISSING = "prometheus binary not found (apt-get install prometheus)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab: uses the local lab (real HTTP services, load, Prometheus)")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the prometheus binary; skips (or fails with CANARY_REQUIRE_PROMETHEUS=1) without."""
    binary = find_prometheus_binary()
    if binary is None:
        if os.environ.get("CANARY_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(MISSING + " and CANARY_REQUIRE_PROMETHEUS=1", pytrace=False)
        pytest.skip(MISSING)
    return binary


@pytest.fixture(scope="session")
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope="package")
def lab(prometheus_binary):
    """The lab tests' lab: 100 req/s, weights 95/5 (``lab.weights`` is a StaticWeights)."""
    the_lab = Lab(StaticWeights(canary=5), rate=100.0, seed=424242, prometheus_binary=prometheus_binary)
    the_lab.start()
    try:
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def scraped_lab(lab):
    """The lab once Prometheus has scraped both services (the first time costs ~5 s)."""
    lab.wait_scraped(timeout=20)
    return lab


@pytest.fixture
def prom(scraped_lab):
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    # no retries with back-off: a failing query should fail at once in these tests
    return PrometheusConnect(url=scraped_lab.url, disable_ssl=True, retry=Retry(total=0), timeout=5)
