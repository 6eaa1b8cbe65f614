"""Load generator: real HTTP requests to the stable and canary services, split by weights.

One pacer thread ticks at ``rate`` requests per second and, for each tick, picks a
version with probability proportional to the weights (seeded RNG) and hands the
request to a small pool of worker threads (default 2). Each worker keeps one
keep-alive :class:`http.client.HTTPConnection` per version, so a request costs a
few hundred microseconds of CPU, not a TCP handshake.

Weights come from a callable ``weights() -> (stable, canary)`` evaluated at most
every ``weights_interval`` seconds (default 0.1 s), so a weight change moves the
traffic within ~100 ms. Negative weights count as 0; if both are 0 the request
goes to stable (the default route). If the callable raises, the last weights stay.

Default rate: 100 req/s in total. Measured on the 2-core dev machine at that rate:
the lab's Python process (both services and this generator) uses ~5 % of one core
and ~27 MB RSS, the Prometheus process ~0.1 % of a core and ~45 MB RSS.

If the workers fall behind (queue full, e.g. with a large ``time_scale`` on the
services), ticks are dropped and counted in ``stats()["dropped"]`` instead of
bursting later; after a stall of more than a second the pacer resynchronises.

The generator is bounded: it ends by itself after ``duration`` seconds if given,
and always on :meth:`stop`.
"""

from __future__ import annotations

import http.client
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = ["DEFAULT_RATE", "LoadGenerator", "StaticWeights", "VersionLoadStats"]

DEFAULT_RATE = 100.0

Weights = Callable[[], "tuple[float, float]"]  # (stable, canary), ints in practice


class StaticWeights:
    """A thread-safe (stable, canary) weight holder; the lab's default weights source.

    ``StaticWeights(canary=5)()`` returns ``(95, 5)``; :meth:`set` changes the canary
    weight (stable gets the rest of 100).
    """

    def __init__(self, canary: int = 5) -> None:
        self._lock = threading.Lock()
        self._canary = 0
        self.set(canary)

    def set(self, canary: int) -> None:
        canary = int(canary)
        if not 0 <= canary <= 100:
            raise ValueError(f"canary weight must be within 0..100, not {canary}")
        with self._lock:
            self._canary = canary

    @property
    def canary(self) -> int:
        return self._canary

    def get(self) -> tuple[int, int]:
        with self._lock:
            return 100 - self._canary, self._canary

    __call__ = get

    def __repr__(self) -> str:
        stable, canary = self.get()
        return f"StaticWeights(stable={stable}, canary={canary})"


@dataclass
class VersionLoadStats:
    """What the generator saw for one version (client side)."""

    sent: int = 0        # requests answered (any status)
    ok: int = 0          # 2xx
    errors: int = 0      # 5xx
    other: int = 0       # any other status
    failures: int = 0    # transport failures (no answer)

    def as_dict(self) -> dict:
        return dict(sent=self.sent, ok=self.ok, errors=self.errors, other=self.other, failures=self.failures)


@dataclass
class _Target:
    host: str
    port: int


class _Worker:
    def __init__(self, targets: Mapping[str, _Target], timeout: float) -> None:
        self.targets = targets
        self.timeout = timeout
        self.conns: dict[str, http.client.HTTPConnection] = {}

    def _conn(self, version: str) -> http.client.HTTPConnection:
        conn = self.conns.get(version)
        if conn is None:
            t = self.targets[version]
            conn = http.client.HTTPConnection(t.host, t.port, timeout=self.timeout)
            self.conns[version] = conn
        return conn

    def _drop(self, version: str) -> None:
        conn = self.conns.pop(version, None)
        if conn is not None:
            conn.close()

    def request(self, version: str, path: str) -> int | None:
        """Status code, or None when no answer came (after one retry on a fresh connection)."""
        for attempt in (0, 1):
            reused = version in self.conns
            conn = self._conn(version)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.will_close:
                    self._drop(version)
                return resp.status
            except (OSError, http.client.HTTPException):
                self._drop(version)
                if not reused or attempt == 1:
                    return None
        return None

    def close(self) -> None:
        for version in list(self.conns):
            self._drop(version)


class LoadGenerator:
    """Sends ``rate`` real HTTP requests per second, split by ``weights()``.

    ``targets`` maps ``"stable"`` and ``"canary"`` to a base URL (``http://127.0.0.1:PORT``)
    or a ``(host, port)`` pair.
    """

    def __init__(
        self,
        targets: Mapping[str, "str | tuple[str, int]"],
        weights: Weights | None = None,
        *,
        rate: float = DEFAULT_RATE,
        duration: float | None = None,
        seed: int | None = None,
        workers: int = 2,
        path: str = "/work",
        weights_interval: float = 0.1,
        timeout: float = 5.0,
    ) -> None:
        if set(targets) != {"stable", "canary"}:
            raise ValueError("targets must name exactly 'stable' and 'canary'")
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self._targets = {v: _parse_target(t) for v, t in targets.items()}
        self.weights: Weights = weights if weights is not None else StaticWeights()
        self.rate = float(rate)
        self.duration = duration
        self.path = path
        self.weights_interval = float(weights_interval)
        self.timeout = float(timeout)
        self._n_workers = max(1, int(workers))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stats = {"stable": VersionLoadStats(), "canary": VersionLoadStats()}
        self._dropped = 0
        self._ticks = 0
        self._current: tuple[float, float] = (100.0, 0.0)
        self._queue: queue.Queue[str] = queue.Queue(maxsize=max(10, int(self.rate)))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started_at: float | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LoadGenerator":
        if self._threads:
            return self
        self._stop.clear()
        self._started_at = time.monotonic()
        self._refresh_weights()
        for i in range(self._n_workers):
            t = threading.Thread(target=self._work, name=f"lab-load-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        pacer = threading.Thread(target=self._pace, name="lab-load-pacer", daemon=True)
        pacer.start()
        self._threads.append(pacer)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []

    def __enter__(self) -> "LoadGenerator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a bounded run (``duration``) to end."""
        for t in list(self._threads):
            t.join(timeout)

    # ------------------------------------------------------------------ observation
    @property
    def current_weights(self) -> tuple[float, float]:
        """The (stable, canary) weights the generator is using now."""
        return self._current

    def stats(self) -> dict:
        """Client-side counts: ``{"stable": {...}, "canary": {...}, "dropped": n, "ticks": n}``."""
        with self._lock:
            out = {v: s.as_dict() for v, s in self._stats.items()}
            out["dropped"] = self._dropped
            out["ticks"] = self._ticks
        return out

    # ------------------------------------------------------------------ internals
    def _refresh_weights(self) -> None:
        try:
            stable, canary = self.weights()
            stable, canary = max(0.0, float(stable)), max(0.0, float(canary))
        except Exception:  # noqa: BLE001 - a broken source keeps the last weights
            return
        self._current = (stable, canary)

    def _choose(self) -> str:
        stable, canary = self._current
        total = stable + canary
        if total <= 0 or canary <= 0:
            return "stable"
        return "canary" if self._rng.random() * total < canary else "stable"

    def _pace(self) -> None:
        interval = 1.0 / self.rate
        start = time.monotonic()
        end = None if self.duration is None else start + self.duration
        next_tick = start
        next_weights = start + self.weights_interval
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                if now >= next_weights:
                    self._refresh_weights()
                    next_weights = now + self.weights_interval
                if now < next_tick:
                    self._stop.wait(min(next_tick - now, self.weights_interval))
                    continue
                version = self._choose()
                try:
                    self._queue.put_nowait(version)
                except queue.Full:
                    with self._lock:
                        self._dropped += 1
                with self._lock:
                    self._ticks += 1
                next_tick += interval
                if now - next_tick > 1.0:  # stalled: resynchronise instead of bursting
                    next_tick = now
        finally:
            self._stop.set()

    def _work(self) -> None:
        worker = _Worker(self._targets, self.timeout)
        try:
            while True:
                try:
                    version = self._queue.get(timeout=0.2)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if self._stop.is_set():
                    return
                status = worker.request(version, self.path)
                with self._lock:
                    s = self._stats[version]
                    if status is None:
                        s.failures += 1
                    else:
                        s.sent += 1
                        if 200 <= status < 300:
                            s.ok += 1
                        elif 500 <= status < 600:
                            s.errors += 1
                        else:
                            s.other += 1
        finally:
            worker.close()


def _parse_target(target: "str | tuple[str, int]") -> _Target:
    if isinstance(target, tuple):
        host, port = target
        return _Target(str(host), int(port))
    from urllib.parse import urlsplit

    parts = urlsplit(target if "//" in target else f"http://{target}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"target needs host and port: {target!r}")
    return _Target(parts.hostname, parts.port)
