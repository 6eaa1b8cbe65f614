"""One real, instrumented HTTP service of the lab: the "stable" or the "canary" version.

The service is a :class:`http.server.ThreadingHTTPServer` bound to 127.0.0.1 on an
ephemeral port. Each instance has its OWN :class:`prometheus_client.CollectorRegistry`
so that two versions can live in one Python process without clashing.

Endpoints
---------
``GET /work``
    One request of the workload. A latency is drawn from a lognormal distribution
    (profile median / p95, times the fault's latency factor) and the answer is 200,
    or 503 with the fault's error rate.

    Latency policy: the service does NOT sleep the drawn latency. The drawn value is
    what is observed into ``http_request_duration_seconds`` and what is recorded as
    the truth, so the metrics show a realistic ~180 ms median while a request costs
    well under a millisecond of wall time. With ``time_scale > 0`` the handler also
    sleeps ``drawn * time_scale`` seconds (e.g. 0.01 -> ~2 ms) to make the wall
    clock follow the profile loosely; the recorded latency is still the drawn one.
``GET /metrics``
    Prometheus exposition of this service's registry (text or OpenMetrics by the
    ``Accept`` header, as ``prometheus_client`` chooses).
``GET /fault``
    Without query: the current fault state as JSON. With ``?kind=none|errors|latency|down``:
    switch to that fault. ``down`` is a crashed pod: ``/work`` and ``/metrics`` close the
    connection without an answer (the load generator counts transport failures, the scrape
    fails and Prometheus marks the version's series stale); ``/fault`` still answers.
``POST /fault``
    JSON ``{"errorRate": float, "latencyFactor": float}`` (either may be left out):
    set an explicit error rate (0..1, absolute, replacing the base rate) and/or
    latency factor (> 0).
``GET /healthz``
    ``ok``.

Metrics (all with a ``version`` label holding the service's version)
--------------------------------------------------------------------
* ``http_requests_total{version, status}`` counter, status is the HTTP code as a
  string ("200", "503"). The "200" child is created at start; the "503" child only
  when the first error is answered (so a 5xx/total ratio has no series until then).
* ``http_request_duration_seconds{version}`` histogram, buckets :data:`LATENCY_BUCKETS`.
* ``process_cpu_seconds_total{version}`` counter: simulated, idle CPU (0.004 s/s) plus
  1.5 ms per request served (times the latency factor under a latency fault); per
  version because both versions share one OS process.
* ``process_resident_memory_bytes{version}`` gauge: simulated, 96 MiB plus 512 KiB per
  request/s answered over the last 10 s.

No ``*_created`` series are exposed.
* ``user_conversion_total{version}`` / ``user_engagement_total{version}`` counters,
  incremented on successful requests with fixed probabilities.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from tui.model import FAULTS

__all__ = [
    "FAULT_KINDS",
    "LATENCY_BUCKETS",
    "LabService",
    "ServiceProfile",
    "FaultState",
    "Z95",
    "default_profile",
]

#: Histogram buckets, dense around 0.05..3 s so p50/p95/p99 interpolate well.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
    0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0,
)

#: Fault kinds understood by ``GET /fault?kind=`` and :meth:`LabService.set_fault`.
FAULT_KINDS: tuple[str, ...] = FAULTS

#: z-score of the 95th percentile of the standard normal distribution.
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class ServiceProfile:
    """Behaviour of one version when no fault is injected, and what faults do."""

    error_rate: float = 0.005          # base share of 503 answers
    latency_median: float = 0.180      # seconds
    latency_p95: float = 0.300         # seconds
    fault_error_rate: float = 0.05     # error rate under fault "errors"
    fault_latency_factor: float = 1.5  # latency factor under fault "latency"
    conversion_probability: float = 0.03
    engagement_probability: float = 0.30
    cpu_per_request: float = 0.0015    # simulated CPU seconds per request
    idle_cpu: float = 0.004            # simulated CPU seconds per wall second
    memory_base: int = 96 * 1024 * 1024
    memory_per_rps: int = 512 * 1024   # extra bytes per request/s of recent load

    @property
    def mu(self) -> float:
        return math.log(self.latency_median)

    @property
    def sigma(self) -> float:
        return math.log(self.latency_p95 / self.latency_median) / Z95


def default_profile(version: str) -> ServiceProfile:
    """The lab's profile for a version (both versions share one profile by default)."""
    return ServiceProfile()


@dataclass(frozen=True)
class FaultState:
    kind: str            # "none", "errors", "latency", "down" or "custom"
    error_rate: float
    latency_factor: float

    def as_json(self) -> dict:
        return {"kind": self.kind, "errorRate": self.error_rate, "latencyFactor": self.latency_factor}


class _ProcessCollector:
    """Per-version simulated ``process_*`` metrics, computed at scrape time."""

    def __init__(self, service: "LabService") -> None:
        self._service = service

    def collect(self) -> Iterable:
        svc = self._service
        cpu = CounterMetricFamily(
            "process_cpu_seconds",
            "Simulated CPU seconds used by this version (follows requests served).",
            labels=["version"],
        )
        cpu.add_metric([svc.version], svc.cpu_seconds())
        yield cpu
        mem = GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Simulated resident memory of this version (base plus load-dependent part).",
            labels=["version"],
        )
        mem.add_metric([svc.version], svc.memory_bytes())
        yield mem


class _WithoutCreated:
    """Re-exposes a registry without the ``*_created`` samples.

    ``prometheus_client`` adds a ``<name>_created`` sample per counter/histogram child,
    which Prometheus 2.x stores as extra gauge series; the lab's guide does not use
    them, so they are left out (``disable_created_metrics()`` would be process-wide).
    """

    def __init__(self, inner: CollectorRegistry) -> None:
        self._inner = inner

    def collect(self) -> Iterable:
        for family in self._inner.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive: the load generator reuses connections
    disable_nagle_algorithm = True     # headers and body go out without a 40 ms stall
    timeout = 30                       # idle keep-alive connections end by themselves
    server_version = "canary-lab"
    sys_version = ""

    # The ThreadingHTTPServer subclass below carries the LabService.
    @property
    def svc(self) -> "LabService":
        return self.server.lab_service  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence access log
        pass

    def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, code: int, obj) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        path = parts.path
        if path in ("/work", "/metrics") and self.svc.fault.kind == "down":
            self.close_connection = True  # a crashed pod: no answer at all
            return
        if path == "/work":
            code = self.svc.handle_work()
            self._send(code, b"ok\n" if code < 400 else b"unavailable\n")
        elif path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(self.svc.registry), content_type)
        elif path == "/fault":
            query = parse_qs(parts.query)
            kinds = query.get("kind")
            if kinds:
                try:
                    state = self.svc.set_fault(kinds[-1])
                except ValueError as exc:
                    self._send_json(400, {"error": str(exc)})
                    return
            else:
                state = self.svc.fault
            self._send_json(200, {"version": self.svc.version, **state.as_json()})
        elif path == "/healthz":
            self._send(200, b"ok\n")
        else:
            self._send(404, b"not found\n")

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if path != "/fault":
            self._send(404, b"not found\n")
            return
        try:
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            state = self.svc.set_custom_fault(
                error_rate=data.get("errorRate"), latency_factor=data.get("latencyFactor")
            )
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"error": str(exc)})
            return
        self._send_json(200, {"version": self.svc.version, **state.as_json()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, service: "LabService") -> None:
        self.lab_service = service
        super().__init__(address, _Handler)


class LabService:
    """A real HTTP service for one version; see the module docstring.

    ``record`` keeps the truth of what was answered: ``(time.time(), status, latency)``
    per ``/work`` request, the last ``history`` of them.
    """

    def __init__(
        self,
        version: str,
        *,
        profile: ServiceProfile | None = None,
        seed: int | None = None,
        time_scale: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        history: int = 200_000,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            raise ValueError(f"the lab binds loopback addresses only, not {host!r}")
        self.version = version
        self.profile = profile or default_profile(version)
        self.time_scale = float(time_scale)
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._fault = FaultState("none", self.profile.error_rate, 1.0)
        self._records: deque[tuple[float, int, float]] = deque(maxlen=history)
        self._served = 0
        self._request_cpu = 0.0
        self._started_at: float | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        # Metrics live in ``_metrics``; ``registry`` is what /metrics exposes.
        self._metrics = CollectorRegistry()
        self.registry = CollectorRegistry()
        self.registry.register(_WithoutCreated(self._metrics))
        self._requests = Counter(
            "http_requests", "HTTP requests answered, by version and status code.",
            ["version", "status"], registry=self._metrics,
        )
        self._duration = Histogram(
            "http_request_duration_seconds", "Request latency (the drawn latency), by version.",
            ["version"], buckets=LATENCY_BUCKETS, registry=self._metrics,
        )
        self._conversion = Counter(
            "user_conversion", "Business metric: conversions, by version.",
            ["version"], registry=self._metrics,
        )
        self._engagement = Counter(
            "user_engagement", "Business metric: engagements, by version.",
            ["version"], registry=self._metrics,
        )
        self._metrics.register(_ProcessCollector(self))
        # Children that a real service would have from its first request on.
        self._ok_counter = self._requests.labels(version=version, status="200")
        self._hist = self._duration.labels(version=version)
        self._conv = self._conversion.labels(version=version)
        self._eng = self._engagement.labels(version=version)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LabService":
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self)
        self._port = self._server.server_address[1]
        self._started_at = time.time()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"lab-service-{self.version}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "LabService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as a Prometheus target."""
        return f"{self._host}:{self._port}"

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    # ------------------------------------------------------------------ faults
    @property
    def fault(self) -> FaultState:
        return self._fault

    def set_fault(self, kind: str) -> FaultState:
        """Switch to a named fault: ``none``, ``errors`` (5 % errors), ``latency`` (x1.5) or ``down``."""
        p = self.profile
        if kind == "none":
            state = FaultState("none", p.error_rate, 1.0)
        elif kind == "errors":
            state = FaultState("errors", p.fault_error_rate, 1.0)
        elif kind == "latency":
            state = FaultState("latency", p.error_rate, p.fault_latency_factor)
        elif kind == "down":
            state = FaultState("down", 1.0, 1.0)  # nothing is answered: every request routed to it fails
        else:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        self._fault = state
        return state

    def set_custom_fault(self, error_rate=None, latency_factor=None) -> FaultState:
        """Set an explicit error rate (0..1) and/or latency factor (> 0)."""
        state = self._fault
        if error_rate is not None:
            if isinstance(error_rate, bool) or not isinstance(error_rate, (int, float)):
                raise ValueError("errorRate must be a number")
            if not 0.0 <= float(error_rate) <= 1.0:
                raise ValueError("errorRate must be within 0..1")
            state = replace(state, error_rate=float(error_rate))
        if latency_factor is not None:
            if isinstance(latency_factor, bool) or not isinstance(latency_factor, (int, float)):
                raise ValueError("latencyFactor must be a number")
            if not 0.0 < float(latency_factor) <= 100.0:
                raise ValueError("latencyFactor must be within (0, 100]")
            state = replace(state, latency_factor=float(latency_factor))
        self._fault = replace(state, kind="custom")
        return self._fault

    # ------------------------------------------------------------------ the work
    def handle_work(self) -> int:
        """Serve one ``/work`` request: draw latency and outcome, record, return the code."""
        fault = self._fault
        p = self.profile
        with self._lock:
            latency = self._rng.lognormvariate(p.mu, p.sigma) * fault.latency_factor
            failed = self._rng.random() < fault.error_rate
            converted = self._rng.random() < p.conversion_probability
            engaged = self._rng.random() < p.engagement_probability
        if self.time_scale > 0:
            time.sleep(latency * self.time_scale)
        code = 503 if failed else 200
        self._hist.observe(latency)
        if failed:
            self._requests.labels(version=self.version, status="503").inc()
        else:
            self._ok_counter.inc()
            if converted:
                self._conv.inc()
            if engaged:
                self._eng.inc()
        with self._lock:
            self._served += 1
            self._request_cpu += p.cpu_per_request * fault.latency_factor
            self._records.append((time.time(), code, latency))
        return code

    # ------------------------------------------------------------------ truth
    def records(self, start: float | None = None, end: float | None = None) -> list[tuple[float, int, float]]:
        """``(time, status, latency)`` of the requests answered in ``[start, end)`` (wall time)."""
        with self._lock:
            items = list(self._records)
        if start is None and end is None:
            return items
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return [r for r in items if lo <= r[0] < hi]

    @property
    def served(self) -> int:
        return self._served

    def recent_rate(self, seconds: float = 10.0) -> float:
        """Requests per second answered over the last ``seconds``."""
        now = time.time()
        since = now - seconds
        n = 0
        with self._lock:
            for t, _code, _lat in reversed(self._records):
                if t < since:
                    break
                n += 1
        if self._started_at is not None:
            seconds = max(min(seconds, now - self._started_at), 1e-3)
        return n / seconds

    def cpu_seconds(self) -> float:
        p = self.profile
        uptime = 0.0 if self._started_at is None else time.time() - self._started_at
        return p.idle_cpu * uptime + self._request_cpu

    def memory_bytes(self) -> float:
        p = self.profile
        return float(p.memory_base + p.memory_per_rps * self.recent_rate())
