"""A tiny stand-in for the Prometheus HTTP API, on loopback, for tests.

    with FakePrometheus() as fake:
        fake.answer("http_requests_total", vector([({"version": "stable"}, 10.0)]))
        source = PrometheusMetrics(fake.url)
        ...
        fake.requests        # every request: path, params, headers, start/end times
        fake.max_in_flight   # how many requests were being answered at once, at most

Answers ``/api/v1/query`` and ``/api/v1/query_range`` with the first rule whose
substring (or predicate) matches the PromQL, and an empty vector/matrix otherwise.
A rule may also give an HTTP status, a raw body, or a delay (to look slow).
Standard library only; binds 127.0.0.1 on an ephemeral port.

:class:`Counters` holds raw counter series a test moves by hand (pods, resets, new and
vanished series) and answers the source's raw counter queries with all of them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit



def vector(samples: list[tuple[Mapping[str, str], Any]], ts: float | None = None) -> list[dict]:
    """An instant-vector result: [(labels, value), ...]; values are sent as strings."""
    at = time.time() if ts is None else ts
    return [{"metric": dict(labels), "value": [at, _str(value)]} for labels, value in samples]


def matrix(series: list[tuple[Mapping[str, str], list[tuple[float, Any]]]]) -> list[dict]:
    """A range-vector result: [(labels, [(ts, value), ...]), ...]."""
    return [{"metric": dict(labels), "values": [[t, _str(v)] for t, v in points]} for labels, points in series]


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value == float("inf"):
        return "+Inf"
    if value == float("-inf"):
        return "-Inf"
    if value != value:
        return "NaN"
    return repr(float(value))


class Counters:
    """Raw counter series by label set, answered as an instant vector (a rule's result).

        reqs = Counters(clock=lambda: now)
        reqs.set({"version": "canary", "pod": "a", "status": "200"}, 10)
        fake.answer(lambda q: q == source.queries["requests_counter"], reqs)

    ``clock`` gives the samples' timestamp (Prometheus' evaluation time); default: now.
    """

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock
        self._series: dict[tuple[tuple[str, str], ...], Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(labels.items()))

    def set(self, labels: Mapping[str, str], value: Any) -> None:
        with self._lock:
            self._series[self._key(labels)] = value

    def add(self, labels: Mapping[str, str], n: float) -> None:
        with self._lock:
            key = self._key(labels)
            self._series[key] = float(self._series.get(key, 0.0)) + n

    def drop(self, labels: Mapping[str, str]) -> None:
        with self._lock:
            self._series.pop(self._key(labels), None)

    def samples(self) -> list[tuple[dict[str, str], Any]]:
        with self._lock:
            return [(dict(k), v) for k, v in self._series.items()]

    def __call__(self, promql: str = "", params: Any = None) -> list[dict]:
        return vector(self.samples(), None if self.clock is None else self.clock())


@dataclass
class Rule:
    match: Any  # a substring of the PromQL, or a predicate on it
    result: Any = None  # data.result (a list), or a callable(promql, params) -> result
    result_type: str = "vector"
    status: int = 200
    body: bytes | None = None  # a raw body instead of the JSON envelope
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)

    def matches(self, promql: str) -> bool:
        return self.match(promql) if callable(self.match) else self.match in promql


@dataclass(frozen=True)
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    started: float
    ended: float

    @property
    def query(self) -> str:
        return self.params.get("query", "")


class FakePrometheus:
    def __init__(self, delay: float = 0.0, tls: tuple[str, str] | None = None, port: int = 0) -> None:
        self._bind_port = port  # 0: an ephemeral port
        self.delay = delay  # added to every answer
        self.tls = tls  # (certfile, keyfile): answer over HTTPS
        self.rules: list[Rule] = []
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- rules ---------------------------------------------------------

    def answer(self, match: Any, result: Any = None, **kwargs: Any) -> Rule:
        """Add a rule (checked in the order added, after the ones added before)."""
        rule = Rule(match, result, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()
            self.max_in_flight = 0

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    def _rule(self, promql: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(promql):
                    return rule
        return None

    # --- server --------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    def start(self) -> "FakePrometheus":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 64

        self._server = Server(("127.0.0.1", self._bind_port), Handler)
        if self.tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-prometheus", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakePrometheus":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        started = time.time()
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        parts = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            length = int(h.headers.get("Content-Length") or 0)
            if length:
                params.update({k: v[-1] for k, v in parse_qs(h.rfile.read(length).decode()).items()})
            status, body, ctype, rule = self._answer(parts.path, params)
        finally:
            # Recorded before the answer goes out: a client that has its answer sees it counted.
            with self._lock:
                self.in_flight -= 1
                self.requests.append(Seen(parts.path, params, dict(h.headers.items()), started, time.time()))
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in (rule.headers.items() if rule else ()):
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _answer(self, path: str, params: dict[str, str]) -> tuple[int, bytes, str, Rule | None]:
        api = path in ("/api/v1/query", "/api/v1/query_range")
        promql = params.get("query", "")
        rule = self._rule(promql) if api else None
        delay = self.delay + (rule.delay if rule else 0.0)
        if delay:
            time.sleep(delay)
        if not api:
            return 404, b"404 page not found\n", "text/plain", None
        if rule is not None and rule.body is not None:
            return rule.status, rule.body, "text/plain", rule
        result: Any = [] if rule is None else rule.result
        if callable(result):
            result = result(promql, params)
        rtype = "matrix" if path.endswith("_range") else (rule.result_type if rule else "vector")
        status = rule.status if rule else 200
        if status == 200:
            payload = {"status": "success", "data": {"resultType": rtype, "result": result or []}}
        else:
            payload = {"status": "error", "errorType": "bad_data", "error": str(result or "error")}
        return status, json.dumps(payload).encode(), "application/json", rule
