"""A real local lab for canary-console: two instrumented HTTP services, load, Prometheus.

    from tui.lab import Lab, StaticWeights

    weights = StaticWeights(canary=5)          # or any callable -> (stable, canary)
    with Lab(weights) as lab:                  # services + load + prometheus started
        lab.wait_scraped()                     # first scrape lands ~5 s after start
        print(lab.url)                         # Prometheus base URL
        lab.set_fault("errors")                # canary answers 5 % 503s
        print(lab.truth(window=10)["canary"].error_rate)

Pieces: :mod:`tui.lab.service` (the services), :mod:`tui.lab.load` (load generator,
:class:`StaticWeights`), :mod:`tui.lab.prometheus` (the Prometheus process).
This package imports neither textual nor kubernetes.

Default profile (both versions): 0.5 % errors, lognormal latency with median 180 ms
and p95 300 ms (p99 ~370 ms); fault ``errors`` -> 5 % errors, fault ``latency`` ->
latency x1.5. Default load: 100 req/s in total, 95/5 stable/canary.
The latency is drawn, observed and recorded but not slept (see :mod:`tui.lab.service`).
At the default load the lab costs ~5 % of one core (Python side) plus ~0.1 % (Prometheus).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping

from .load import DEFAULT_RATE, LoadGenerator, StaticWeights
from .prometheus import (
    PrometheusError,
    PrometheusNotFound,
    PrometheusServer,
    find_prometheus_binary,
)
from .service import FAULT_KINDS, LATENCY_BUCKETS, LabService, ServiceProfile, default_profile

__all__ = [
    "DEFAULT_RATE",
    "FAULT_KINDS",
    "LATENCY_BUCKETS",
    "VERSIONS",
    "Lab",
    "LabService",
    "LoadGenerator",
    "PrometheusError",
    "PrometheusNotFound",
    "PrometheusServer",
    "ServiceProfile",
    "StaticWeights",
    "VersionTruth",
    "find_prometheus_binary",
    "quantile",
]

VERSIONS: tuple[str, str] = ("stable", "canary")


def quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class VersionTruth:
    """What one service actually answered in ``[start, end)`` (wall-clock seconds)."""

    version: str
    start: float
    end: float
    requests: int
    errors: int            # 5xx answers
    error_rate: float      # errors / requests (0.0 without requests)
    rate: float            # requests per second over the range
    p50: float | None      # quantiles of the drawn latencies, seconds
    p95: float | None
    p99: float | None

    def as_dict(self) -> dict:
        return asdict(self)


class Lab:
    """Stable + canary services, a load generator and a Prometheus scraping them.

    Args:
        weights: callable ``() -> (stable, canary)`` steering the load; default
            ``StaticWeights(canary=5)`` (available as ``lab.weights``).
        rate: total requests per second of the load generator.
        seed: base seed of the services' and the load's RNGs.
        prometheus: start a Prometheus (needs the binary); False for services + load only.
        prometheus_binary / prometheus_port / data_dir: passed to :class:`PrometheusServer`.
        scrape_interval: Prometheus scrape interval (``"1s"``).
        time_scale: services sleep ``drawn latency * time_scale`` (0 = no sleep).
        workers: load generator worker threads.
        profiles: optional ``{"stable": ServiceProfile, "canary": ServiceProfile}``.
        load: False to start without the load generator (``lab.load`` is then None).
    """

    def __init__(
        self,
        weights: Callable[[], "tuple[int, int]"] | None = None,
        *,
        rate: float = DEFAULT_RATE,
        seed: int = 20240601,
        prometheus: bool = True,
        prometheus_binary: str | None = None,
        prometheus_port: int | None = None,
        data_dir: str | None = None,
        scrape_interval: str = "1s",
        time_scale: float = 0.0,
        workers: int = 2,
        profiles: Mapping[str, ServiceProfile] | None = None,
        load: bool = True,
    ) -> None:
        self.weights = weights if weights is not None else StaticWeights(canary=5)
        self.rate = rate
        self.seed = seed
        profiles = dict(profiles or {})
        self.services: dict[str, LabService] = {
            v: LabService(v, profile=profiles.get(v) or default_profile(v), seed=seed + i + 1, time_scale=time_scale)
            for i, v in enumerate(VERSIONS)
        }
        self._want_prometheus = prometheus
        self._prom_kwargs = dict(
            binary=prometheus_binary, port=prometheus_port, data_dir=data_dir, scrape_interval=scrape_interval
        )
        self._want_load = load
        self._workers = workers
        self.prometheus: PrometheusServer | None = None
        self.load: LoadGenerator | None = None
        self.started_at: float | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait_scraped: bool = False, timeout: float = 15.0) -> "Lab":
        """Start services, load and Prometheus (ready, not yet scraped unless ``wait_scraped``)."""
        if self.started_at is not None:
            return self
        if self._want_prometheus:
            binary = self._prom_kwargs["binary"] or find_prometheus_binary()
            if binary is None:
                raise PrometheusNotFound("prometheus binary not found (apt-get install prometheus)")
            self._prom_kwargs["binary"] = binary
        try:
            for svc in self.services.values():
                svc.start()
            self.started_at = time.time()
            if self._want_load:
                self.load = LoadGenerator(
                    {v: s.url for v, s in self.services.items()},
                    self.weights,
                    rate=self.rate,
                    seed=self.seed,
                    workers=self._workers,
                ).start()
            if self._want_prometheus:
                self.prometheus = PrometheusServer([s.address for s in self.services.values()], **self._prom_kwargs)
                self.prometheus.start(wait=True, timeout=timeout)
                if wait_scraped:
                    self.prometheus.wait_scraped(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything (Prometheus first, then load, then services); idempotent."""
        if self.prometheus is not None:
            self.prometheus.close()
            self.prometheus = None
        if self.load is not None:
            self.load.stop()
            self.load = None
        for svc in self.services.values():
            svc.stop()
        self.started_at = None

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_scraped(self, timeout: float = 15.0) -> None:
        """Wait until Prometheus has scraped both services (~5 s after its start)."""
        self._prom().wait_scraped(timeout=timeout)

    # ------------------------------------------------------------------ addresses
    def _prom(self) -> PrometheusServer:
        if self.prometheus is None:
            raise PrometheusError("this lab runs no Prometheus (start() it, or prometheus=True)")
        return self.prometheus

    @property
    def url(self) -> str:
        """Base URL of the lab's Prometheus, e.g. ``http://127.0.0.1:40123``."""
        return self._prom().url

    @property
    def service_urls(self) -> dict[str, str]:
        return {v: s.url for v, s in self.services.items()}

    # ------------------------------------------------------------------ control
    def set_fault(self, kind: str, version: str = "canary") -> None:
        """Inject a fault (``none``, ``errors``, ``latency``) into one version (canary by default)."""
        self.services[version].set_fault(kind)

    def set_weights(self, canary: int) -> None:
        """Set the canary weight when the weights source is a :class:`StaticWeights`."""
        if not isinstance(self.weights, StaticWeights):
            raise TypeError("the lab's weights come from an external source; steer that instead")
        self.weights.set(canary)

    # ------------------------------------------------------------------ truth
    def truth(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        window: float | None = None,
    ) -> dict[str, VersionTruth]:
        """Per version what the services answered in ``[start, end)`` (wall-clock ``time.time()``).

        ``window=N`` means the N seconds up to ``end`` (default now). The range never starts
        before the lab did, so ``rate`` is over the time the lab actually ran. Without
        arguments: since the lab started (up to the services' history, 200 000 requests each).
        """
        now = time.time()
        if window is not None:
            end = now if end is None else end
            start = end - window
        lo = start if start is not None else (self.started_at or now)
        if self.started_at is not None:
            lo = max(lo, self.started_at)  # no traffic before the start: rates over the real span
        hi = end if end is not None else now
        out: dict[str, VersionTruth] = {}
        for v, svc in self.services.items():
            recs = svc.records(lo, hi)
            n = len(recs)
            errors = sum(1 for _t, code, _lat in recs if code >= 500)
            lats = [lat for _t, _code, lat in recs]
            out[v] = VersionTruth(
                version=v, start=lo, end=hi, requests=n, errors=errors,
                error_rate=errors / n if n else 0.0,
                rate=n / (hi - lo) if hi > lo else 0.0,
                p50=quantile(lats, 0.50), p95=quantile(lats, 0.95), p99=quantile(lats, 0.99),
            )
        return out
