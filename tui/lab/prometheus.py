"""Run a real Prometheus server (the ``prometheus`` binary) for the lab.

:class:`PrometheusServer` writes its own config (``scrape_interval`` 1 s, one job
``canary-lab`` scraping the given targets with ``honor_labels: true`` and no target
labels, so ``version`` comes from the metrics themselves) into its own temporary
work directory, and runs ``prometheus`` listening on 127.0.0.1 on a free ephemeral
port, with ``--storage.tsdb.path`` in that directory and a 1 h retention.

Prometheus answers ``/-/ready`` within ~0.1 s, but its scrape manager applies the
first target set only ~5 s after start: :meth:`PrometheusServer.wait_scraped`
waits for that. :meth:`restart` keeps the port and the data directory (the WAL is
replayed, so data from before the restart stays queryable).

Needs no third-party package: HTTP calls use :mod:`urllib`.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from typing import Mapping, Sequence

__all__ = [
    "PrometheusError",
    "PrometheusNotFound",
    "PrometheusServer",
    "find_prometheus_binary",
    "free_port",
]

DEFAULT_JOB = "canary-lab"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class PrometheusError(RuntimeError):
    """Prometheus did not start, get ready or scrape in time."""


class PrometheusNotFound(PrometheusError, FileNotFoundError):
    """No ``prometheus`` binary on this machine."""


def find_prometheus_binary() -> str | None:
    """Path of the ``prometheus`` binary: ``$CANARY_PROMETHEUS_BIN``, PATH, then /usr/bin."""
    candidates = [os.environ.get("CANARY_PROMETHEUS_BIN"), shutil.which("prometheus"), "/usr/bin/prometheus"]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the kernel's ephemeral choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


# Loopback only: never route through an http_proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with _opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_running: "weakref.WeakSet[PrometheusServer]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    # Close, not only stop: at exit no one restarts a server, and its temporary directory would stay.
    for server in list(_running):
        try:
            server.close()
        except Exception:  # noqa: BLE001
            pass


class PrometheusServer:
    """A ``prometheus`` process scraping ``targets`` (``host:port`` strings).

    ``targets`` may also be a mapping ``job name -> [host:port, ...]`` for several jobs.
    ``data_dir`` defaults to ``<workdir>/data`` in a temporary work directory that
    :meth:`close` removes (a given ``data_dir`` is never removed).
    """

    def __init__(
        self,
        targets: "Sequence[str] | Mapping[str, Sequence[str]]",
        *,
        binary: str | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        data_dir: str | None = None,
        scrape_interval: str = "1s",
        retention: str = "1h",
        job: str = DEFAULT_JOB,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the lab's Prometheus listens on loopback only, not {host!r}")
        jobs = {job: list(targets)} if not isinstance(targets, Mapping) else {k: list(v) for k, v in targets.items()}
        for addrs in jobs.values():
            for addr in addrs:
                if not _is_loopback(addr.rsplit(":", 1)[0]):
                    raise ValueError(f"lab targets must be loopback addresses, not {addr!r}")
        self.jobs = jobs
        self.binary = binary or find_prometheus_binary()
        self.host = host
        self.port = port
        self._fixed_port = port is not None
        self.scrape_interval = scrape_interval
        self.retention = retention
        self.extra_args = list(extra_args)
        self.workdir = tempfile.mkdtemp(prefix="canary-lab-prometheus-")
        self._owns_data = data_dir is None
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "prometheus.yml")
        self.log_path = os.path.join(self.workdir, "prometheus.log")
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._lock = threading.RLock()
        self.started_at: float | None = None
        self._write_config()

    # ------------------------------------------------------------------ config
    def config_text(self) -> str:
        lines = [
            "# written by tui.lab.prometheus for the canary-console lab",
            "global:",
            f"  scrape_interval: {self.scrape_interval}",
            f"  scrape_timeout: {self.scrape_interval}",
            f"  evaluation_interval: {self.scrape_interval}",
            "scrape_configs:",
        ]
        for job, addrs in self.jobs.items():
            lines += [
                f"  - job_name: {json.dumps(job)}",
                "    honor_labels: true",
                "    metrics_path: /metrics",
                "    static_configs:",
                f"      - targets: {json.dumps(addrs)}",
            ]
        return "\n".join(lines) + "\n"

    def _write_config(self) -> None:
        with open(self.config_path, "w", encoding="utf-8") as fh:
            fh.write(self.config_text())

    @property
    def target_count(self) -> int:
        return sum(len(a) for a in self.jobs.values())

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("Prometheus has no port yet: call start()")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _args(self) -> list[str]:
        return [
            self.binary or "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=info",
            *self.extra_args,
        ]

    def _spawn(self) -> None:
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n--- start {time.strftime('%H:%M:%S')} port {self.port}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            self._args(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            close_fds=True,
        )
        self.started_at = time.time()
        _running.add(self)

    def start(self, wait: bool = True, timeout: float = 15.0) -> "PrometheusServer":
        """Start the process (and, with ``wait``, wait for ``/-/ready``)."""
        with self._lock:
            if self.running:
                return self
            if not self.binary:
                raise PrometheusNotFound("prometheus binary not found (apt-get install prometheus)")
            attempts = 1 if self._fixed_port else 3
            for attempt in range(attempts):
                if self.port is None or (attempt > 0 and not self._fixed_port):
                    self.port = free_port(self.host)
                self._spawn()
                if not wait:
                    return self
                try:
                    self.wait_ready(timeout=timeout)
                    return self
                except PrometheusError:
                    died = not self.running
                    self.stop()
                    if not died or attempt == attempts - 1:
                        raise
            return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until ``GET /-/ready`` answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited (code {self._proc and self._proc.returncode}):\n{self.log_tail()}")
            try:
                code, _ = _http_get(self.url + "/-/ready", timeout=1.0)
                if code == 200:
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise PrometheusError(f"prometheus not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def targets(self) -> list[dict]:
        """Active targets from ``/api/v1/targets``."""
        code, body = _http_get(self.url + "/api/v1/targets?state=active", timeout=2.0)
        if code != 200:
            raise PrometheusError(f"/api/v1/targets answered {code}")
        return json.loads(body)["data"]["activeTargets"]

    def wait_scraped(self, timeout: float = 15.0) -> None:
        """Wait until every configured target has been scraped successfully (``up == 1``).

        Uses ``/api/v1/targets`` (health ``up``) rather than the ``up`` series, because
        after a restart the old ``up`` samples are still within the lookback window.
        Raises :class:`TimeoutError` (with the targets' state) when it takes too long.
        """
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            if not self.running:
                raise PrometheusError(f"prometheus is not running:\n{self.log_tail()}")
            try:
                active = self.targets()
                last = [(t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in active]
                if len(active) >= self.target_count and all(t.get("health") == "up" for t in active):
                    return
            except (OSError, ValueError, KeyError, PrometheusError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(f"targets not all up after {timeout}s: {last}")
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Keeps port and data dir."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                if proc.poll() is None:
                    try:
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=5)
                    except ProcessLookupError:
                        pass
            if self._log is not None:
                self._log.close()
                self._log = None
            _running.discard(self)

    def restart(self, wait: bool = True, timeout: float = 15.0) -> "PrometheusServer":
        """Stop and start again on the same port and data directory."""
        with self._lock:
            self.stop()
            self._fixed_port = True
            return self.start(wait=wait, timeout=timeout)

    def close(self) -> None:
        """Stop and remove the temporary work directory (and the data dir if it is ours)."""
        self.stop()
        if not self._owns_data:
            # keep a caller-provided data dir; remove only our config and log
            for path in (self.config_path, self.log_path):
                try:
                    os.remove(path)
                except OSError:
                    pass
            try:
                os.rmdir(self.workdir)
            except OSError:
                pass
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                data = fh.read()[-8192:]
        except OSError:
            return ""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def query(self, promql: str, at: float | None = None, timeout: float = 5.0) -> list[dict]:
        """Instant query; returns ``data.result`` (raises ``OSError`` when unreachable)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        code, body = _http_get(self.url + "/api/v1/query?" + urllib.parse.urlencode(params), timeout=timeout)
        payload = json.loads(body)
        if code != 200 or payload.get("status") != "success":
            raise PrometheusError(f"query failed ({code}): {payload.get('error', body[:200])}")
        return payload["data"]["result"]
