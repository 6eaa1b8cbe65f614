"""PrometheusMetrics: the MetricSource for ``metrics.kind: prometheus``.

How a poll works
----------------
Every query of a poll (9 for the ``http`` preset, 6 for ``istio`` unless cpu/memory/instances
are given in ``metrics.queries``, plus one per business metric) runs ONCE per poll, never
once per version: the window queries are grouped by the version label in PromQL, the
two raw counter queries return every series and are split by version here. They run
concurrently on a small thread pool kept for the source's lifetime, over one keep-alive
HTTP session, each with a timeout below the poll interval (``metrics.timeout``; default
min(interval/2, 5 s)) and at most ``metrics.retries`` quick retries (connection errors
and 502/503/504 only, with a backoff of a few tens of ms), and the whole poll is cut at
that timeout: a dead Prometheus fails the poll within the timeout, not seconds later.

Computed here, not in PromQL: p50/p95/p99 from the one bucket query (model.histogram_quantile),
the error rate as errors/s / requests/s (0.0 for a version with traffic and no 5xx series,
None without traffic), le seconds -> ms, cumulative monotone histograms.

The interval counts (VersionSample.requests/errors/histogram, for the statistical judge)
come from the RAW counters (``requests_counter``, ``latency_buckets_counter``): the
source keeps every series' previous value and takes the increase per series between
this poll and the previous one, as increase() would (resets, new and vanished series:
see :mod:`.counters`), then sums by version. The errors are the requests counter's
series whose status label is 5xx: no query of their own. So the counts do not depend on
the scrape interval: with a 30 s scrape and a 2 s poll most polls count 0 (no new
samples) and the poll after a scrape counts the whole scrape interval, and the sums the
judge makes are exact. The first poll after start has no previous values: its counts
are None (no data). A failed poll leaves the previous values alone, so the first good
poll after an outage counts the whole gap; the snapshot's ``interval_s`` is the span the
counts cover (the time since the previous good poll), not the configured interval.

No data is never a pass: an empty result, NaN, a series stamped more than two intervals
before now give None; an unreachable, slow or failing Prometheus raises
BackendError("prometheus at URL: ..."). Prometheus stamps an instant query's samples with
its evaluation time, not the scrape's (checked on the lab), so the stamp catches a cached
or replayed answer or a skewed clock; a target that can no longer be scraped drops out of
the answers by Prometheus's own staleness markers. The scrape's own time comes from the
``scrape_time`` query (``timestamp()`` of the requests counter): the snapshot's
``scraped_at`` is the older of the two versions' newest scrapes, shown as the data's age,
and a poll whose data was last scraped longer ago than ``metrics.window`` (a stalled scrape,
a lagging remote write) is stale, like a failed one.

prometheus-api-client (>= 0.7, without pandas) is imported here lazily, when a source is
made: importing tui.backends.prometheus pulls in neither it nor requests.

Which series is "stable" and which "canary": the version label's values. ``from_config``
takes them from ``metrics.versions`` ({stable: NAME, canary: NAME}) when it is set, else
from the router's stable/canary subset names when they are set (an Istio DestinationRule
subset is usually named after the pods' version label), else "stable"/"canary".
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
import warnings
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from tui.backends.base import BackendError
from tui.backends.prometheus import counters, parse
from tui.backends.prometheus.failures import describe_failure, fmt_seconds, is_transport, severity
from tui.backends.prometheus.queries import (
    BUSINESS_PREFIX,
    COUNTER_QUERIES,
    PRESETS,
    WINDOW_QUERIES,
    QueryConfigError,
    build_queries,
    resolve_version_label,
)
from tui.model import MetricsSnapshot, VersionSample

log = logging.getLogger(__name__)

MAX_WORKERS = 16
MAX_POINTS = 10_000  # Prometheus refuses range queries above 11 000 points per series
DEFAULT_TIMEOUT_CAP_S = 5.0


class PrometheusConfigError(BackendError):
    """The metrics section cannot make a working source (unknown query name, unset env var...)."""


@dataclass(frozen=True)
class PollStats:
    """The last poll (or backfill): how many queries and how long it took."""

    queries: int = 0
    seconds: float = 0.0
    ok: bool = False


def default_timeout(interval_s: float) -> float:
    """Half the poll interval, at most 5 s: a poll ends well before the next is due."""
    return min(interval_s * 0.5, DEFAULT_TIMEOUT_CAP_S)


class _Secrets:
    """Credential values held only to be sent and to be redacted; never printed."""

    def __init__(self, values: list[str]) -> None:
        self._values = sorted({v for v in values if v}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for v in self._values:
            text = text.replace(v, "***")
        return text

    def __repr__(self) -> str:
        return "<redacted>"


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(url without user:password@, user, password)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, (unquote(password) if sep else None)


class PrometheusMetrics:
    """Per-version samples from Prometheus (see the module docstring).

    Public API: ``from_config(config)``, ``describe()``, ``poll()``, ``backfill(seconds,
    step)``, ``close()`` (the MetricSource protocol), and for inspection ``queries``
    (name -> PromQL issued each poll), ``url``, ``timeout_s``, ``interval_s``,
    ``window_s``, ``versions``, ``last_poll`` (PollStats) and ``queries_issued``.
    """

    def __init__(
        self,
        url: str,
        *,
        preset: str = "http",
        selector: str = "",
        version_label: str | None = None,
        window_s: float = 60.0,
        interval_s: float = 2.0,
        timeout_s: float | None = None,
        retries: int = 1,
        queries: Mapping[str, str] | None = None,
        business: list[Mapping[str, Any]] | tuple = (),
        stable_version: str = "stable",
        canary_version: str = "canary",
        bearer_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        insecure_skip_verify: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url:
            raise PrometheusConfigError("metrics.url: missing Prometheus URL")
        clean_url, url_user, url_password = strip_userinfo(url.strip().rstrip("/"))
        if urlsplit(clean_url).scheme not in ("http", "https") or not urlsplit(clean_url).netloc:
            raise PrometheusConfigError(f"metrics.url: expected http(s)://host:port, got {clean_url!r}")
        self._url = clean_url
        if username is None and password is None and url_user is not None:
            username, password = url_user, url_password or ""
        self._secrets = _Secrets([
            bearer_token or "",
            password or "",
            url_password or "",
            _basic(username, password) if username is not None else "",
        ])
        if preset not in PRESETS:
            raise PrometheusConfigError(f"metrics.preset: unknown preset {preset!r}")
        self.preset = PRESETS[preset]
        self.version_label = resolve_version_label(preset, version_label)
        self.window_s = float(window_s)
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s) if timeout_s else default_timeout(self.interval_s)
        self.retries = int(retries)
        self.stable_version = stable_version
        self.canary_version = canary_version
        self.business_names = tuple(str(b["name"]) for b in business)
        try:
            self._queries = build_queries(preset, selector, self.version_label, self.window_s, self.interval_s,
                                          overrides=queries, business=tuple(business))
        except QueryConfigError as exc:
            raise PrometheusConfigError(str(exc)) from None
        if ca_file and not insecure_skip_verify and not os.path.isfile(ca_file):
            raise PrometheusConfigError(f"metrics.auth.caFile: no such file: {ca_file}")
        self._clock = clock
        self._closed = False
        self._lock = threading.Lock()
        self.queries_issued = 0
        self.last_poll = PollStats()
        self._warned_ambiguous = False
        # The previous value of every counter series, between polls (see .counters).
        self._trackers = {name: counters.CounterTracker() for name in COUNTER_QUERIES if name in self._queries}
        self._counter_lock = threading.Lock()

        # Lazy imports: only a configured Prometheus source loads the HTTP stack.
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry
        from prometheus_api_client import PrometheusConnect

        self._requests = requests
        workers = max(2, min(MAX_WORKERS, len(self._queries)))
        # Connection errors and proxy-ish 502/503/504 only; reads are not retried (a slow
        # Prometheus would otherwise take retries x timeout). urllib3 2 sleeps 0 before the
        # first retry, then backoff_factor * 2**n, capped at backoff_max: <= 0.4 s for 5.
        retry = Retry(total=self.retries, connect=self.retries, read=0, status=self.retries, other=0,
                      backoff_factor=0.02, backoff_max=0.1, status_forcelist=(502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False,
                      respect_retry_after_header=False)
        session = requests.Session()
        if insecure_skip_verify:
            session.verify = False
            from urllib3.exceptions import InsecureRequestWarning

            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
            log.warning("TLS verification to %s is off (metrics.auth.insecureSkipVerify)", self._url)
        elif ca_file:
            session.verify = ca_file
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else None
        auth = (username, password or "") if username is not None else None
        self._session = session
        self._client = PrometheusConnect(url=self._url, headers=headers, disable_ssl=bool(insecure_skip_verify),
                                         retry=retry, auth=auth, session=session, timeout=self.timeout_s)
        # PrometheusConnect mounts an adapter with the default pool of 10 connections;
        # size the pool to the concurrent queries so every one keeps its connection alive.
        session.mount(self._url, HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=workers))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prometheus-query")

    # --- construction -------------------------------------------------

    @classmethod
    def from_config(cls, config: Any, clock: Callable[[], float] | None = None) -> "PrometheusMetrics":
        """A source from the validated ``metrics`` section (credentials read from the env vars it names)."""
        m = config.metrics
        auth = m.get("auth") or {}
        token = _env(auth.get("bearerTokenEnv"), "bearerTokenEnv")
        username = _env(auth.get("usernameEnv"), "usernameEnv")
        password = _env(auth.get("passwordEnv"), "passwordEnv")
        if password is not None and username is None:
            raise PrometheusConfigError("metrics.auth: passwordEnv is set but usernameEnv is not")
        named = m.get("versions") or {}
        router = getattr(config, "router", {}) or {}
        stable = named.get("stable") or (router.get("stable") or {}).get("subset") or "stable"
        canary = named.get("canary") or (router.get("canary") or {}).get("subset") or "canary"
        interval = float(m.get("interval") or 2.0)
        return cls(
            m["url"],
            preset=m.get("preset") or "http",
            selector=m.get("selector") or "",
            version_label=m.get("versionLabel"),
            window_s=float(m.get("window") or 60.0),
            interval_s=interval,
            timeout_s=m.get("timeout"),
            retries=int(m.get("retries", 1)),
            queries=m.get("queries") or {},
            business=list(m.get("business") or ()),
            stable_version=stable,
            canary_version=canary,
            bearer_token=token,
            username=username,
            password=password,
            ca_file=auth.get("caFile"),
            insecure_skip_verify=bool(auth.get("insecureSkipVerify")),
            **({"clock": clock} if clock is not None else {}),
        )

    # --- the MetricSource protocol -------------------------------------

    @property
    def url(self) -> str:
        """The Prometheus base URL without any user:password."""
        return self._url

    @property
    def queries(self) -> dict[str, str]:
        """Name -> PromQL of every query one poll issues."""
        return dict(self._queries)

    @property
    def versions(self) -> tuple[str, str]:
        return self.stable_version, self.canary_version

    def describe(self) -> str:
        return f"prometheus {self._url} (preset {self.preset.name})"

    def __repr__(self) -> str:
        return f"PrometheusMetrics({self._url!r}, preset={self.preset.name!r}, version_label={self.version_label!r})"

    def poll(self) -> MetricsSnapshot:
        """Both versions' latest samples; BackendError when Prometheus cannot answer in time."""
        started = time.monotonic()
        results = self._run(self._queries, self.timeout_s, lambda q, t: self._client.custom_query(q, timeout=t))
        now = self._clock()
        snap = self._snapshot(results, now)
        self.last_poll = PollStats(len(self._queries), time.monotonic() - started, True)
        return snap

    def backfill(self, seconds: float, step: float) -> list[MetricsSnapshot]:
        """Past samples, oldest first: one range query per window metric (counts are None)."""
        if seconds <= 0 or step <= 0:
            return []
        step = max(float(step), float(seconds) / MAX_POINTS)
        end = self._clock()
        start = end - float(seconds)
        names = [n for n in WINDOW_QUERIES if n in self._queries]
        names += [n for n in self._queries if n.startswith(BUSINESS_PREFIX)]
        queries = {n: self._queries[n] for n in names}
        start_dt = datetime.fromtimestamp(start, tz=timezone.utc)
        end_dt = datetime.fromtimestamp(end, tz=timezone.utc)
        step_s = f"{step:g}"
        timeout = max(2 * self.timeout_s, 5.0)  # once, at start: a range query may take longer
        started = time.monotonic()
        results = self._run(queries, timeout, lambda q, t: self._client.custom_query_range(
            q, start_time=start_dt, end_time=end_dt, step=step_s, timeout=t))
        snaps = self._range_snapshots(results, step)
        self.last_poll = PollStats(len(queries), time.monotonic() - started, True)
        return snaps

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self._client.close()
        except Exception:  # pragma: no cover - closing a session does not fail in practice
            pass

    # --- running queries -----------------------------------------------

    def _run(self, queries: Mapping[str, str], timeout: float,
             call: Callable[[str, float], Any]) -> dict[str, Any]:
        """Every query concurrently; all results, or BackendError within `timeout` seconds."""
        if self._closed:
            raise BackendError(f"prometheus at {self._url}: the source is closed")
        futures: dict[Future, str] = {}
        try:
            for name, promql in queries.items():
                futures[self._pool.submit(call, promql, timeout)] = name
        except RuntimeError:  # the pool was shut down under us (close() from another thread)
            raise BackendError(f"prometheus at {self._url}: the source is closed") from None
        with self._lock:
            self.queries_issued += len(futures)
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            errors = [(futures[f], f.exception()) for f in failed]
            name, exc = min(errors, key=lambda e: severity(e[1], self._requests))
            raise self._error(name, exc, timeout) from None
        if pending:
            for f in pending:
                f.cancel()
            self._note_failure(f"timed out after {fmt_seconds(timeout)}")
            raise BackendError(f"prometheus at {self._url}: timed out after {fmt_seconds(timeout)}")
        return {futures[f]: f.result() for f in done}

    def _error(self, name: str, exc: BaseException, timeout: float) -> BackendError:
        what = self._secrets.redact(describe_failure(exc, timeout, self._requests))
        if not is_transport(exc, self._requests):
            what = f"query {name} failed: {what}"
        self._note_failure(what)
        return BackendError(f"prometheus at {self._url}: {what}")

    def _note_failure(self, what: str) -> None:
        self.last_poll = PollStats(0, 0.0, False)
        log.debug("prometheus at %s: %s", self._url, what)

    # --- results -> snapshots ---------------------------------------------

    def _snapshot(self, results: Mapping[str, Any], now: float) -> MetricsSnapshot:
        versions = self.versions
        vl = self.version_label
        max_age = 2 * self.interval_s
        stats = parse.VectorStats()
        values: dict[str, dict[str, float | None]] = {v: {} for v in versions}
        present: dict[str, dict[str, bool]] = {v: {} for v in versions}
        hists: dict[str, dict[str, parse.Histogram]] = {}
        business: dict[str, dict[str, float | None]] = {v: {} for v in versions}
        reads: dict[str, counters.CounterRead] = {}
        for name, result in results.items():
            if name in COUNTER_QUERIES:
                reads[name] = counters.read_counters(result, vl, versions, now=now, max_age_s=max_age, stats=stats)
                continue
            if name.startswith("latency_buckets_"):
                hists[name] = parse.buckets_by_version(result, vl, versions, self.preset.le_to_ms,
                                                       now=now, max_age_s=max_age, stats=stats)
                continue
            per_version = parse.vector_by_version(result, vl, versions, now=now, max_age_s=max_age, stats=stats)
            seen = parse.versions_present(result, vl, versions)
            for v in versions:
                if name.startswith(BUSINESS_PREFIX):
                    business[v][name[len(BUSINESS_PREFIX):]] = per_version[v]
                else:
                    values[v][name] = per_version[v]
                    present[v][name] = seen[v]
        for v in versions:
            for b in self.business_names:
                business[v].setdefault(b, None)
        requests, errors, interval_hists, span = self._counts(reads)
        samples = {
            v: parse.make_sample(values[v], present[v],
                                 hists.get("latency_buckets_window", {}).get(v, ()),
                                 interval_hists[v], business[v],
                                 requests=requests[v], errors=errors[v])
            for v in versions
        }
        if stats.ambiguous and not self._warned_ambiguous:
            self._warned_ambiguous = True
            log.warning("prometheus: more than one series per version (%s) in a result: a query is not "
                        "grouped by %s; those values read as no data", ", ".join(sorted(stats.ambiguous)), vl)
        error = None
        if not stats.series:
            others = sorted({str(x["metric"][vl]) for r in results.values() for x in parse.series_of(r)
                             if vl in x.get("metric", {})} - set(versions))
            if others:  # the data is there, under other version names: say so
                error = (f"no series for {vl}={self.stable_version!r} or {self.canary_version!r} "
                         f"(found {', '.join(others[:5])})")
        if stats.series and stats.stale == stats.series:
            age = now - (stats.newest_stale or now)
            error = f"stale data: the newest sample is {age:.0f}s old (more than 2 intervals)"
        at = stats.newest if stats.newest is not None else now
        # The version whose newest scrape is the older one says how old the data on screen is:
        # measured against the evaluation stamp (both Prometheus's clock, so no skew) and put
        # on this host's clock.
        scrapes = [t for v in versions if (t := values[v].get("scrape_time")) is not None]
        scrape_age = max(0.0, at - min(scrapes)) if scrapes else None
        scraped_at = None if scrape_age is None else now - scrape_age
        if error is None and scrape_age is not None and scrape_age > self.window_s:
            # The rates over the window no longer describe now: a stalled scrape or remote write.
            error = f"stale data: last scraped {scrape_age:.0f}s ago (longer than metrics.window, {self.window_s:g}s)"
        return MetricsSnapshot(
            at=datetime.fromtimestamp(at, tz=timezone.utc),
            stable=samples[self.stable_version],
            canary=samples[self.canary_version],
            interval_s=span or self.interval_s,
            error=error,
            scraped_at=None if scraped_at is None else datetime.fromtimestamp(scraped_at, tz=timezone.utc),
        )

    def _counts(self, reads: Mapping[str, counters.CounterRead]
                ) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, parse.Histogram], float | None]:
        """Requests, errors and latency histogram per version since the previous poll, and its span.

        Only called for a poll whose every query answered: a failed poll (Prometheus down,
        a timeout) never gets here, so the trackers keep the values of the last good poll
        and the next good poll's deltas cover the whole outage (the counts stay exact
        across it). A stale counter answer does not move its tracker either.
        """
        versions, vl = self.versions, self.version_label
        with self._counter_lock:
            deltas = {name: self._trackers[name].advance(read) for name, read in reads.items()}
        req = deltas.get("requests_counter")
        requests = counters.counts_by_version(req, vl, versions)
        if "errors_counter" in self._trackers:  # an override: errors from their own counter
            counted = counters.counts_by_version(deltas.get("errors_counter"), vl, versions)
            known = deltas.get("errors_counter") is not None
            errors = {v: None if requests[v] is None or not known else (counted[v] or 0.0) for v in versions}
        else:  # the 5xx series of the requests counter
            errors = counters.error_counts(req, vl, versions, self.preset.status_label, self.preset.error_codes)
        hists = counters.histograms_by_version(deltas.get("latency_buckets_counter"), vl, versions,
                                               self.preset.le_to_ms)
        return requests, errors, hists, (req.span_s if req is not None else None)

    def _range_snapshots(self, results: Mapping[str, Any], step: float) -> list[MetricsSnapshot]:
        versions = self.versions
        vl = self.version_label
        series: dict[str, dict[str, dict[float, float | None]]] = {}
        hists: dict[str, dict[float, parse.Histogram]] = {v: {} for v in versions}
        times: set[float] = set()
        for name, result in results.items():
            if name == "latency_buckets_window":
                hists = parse.matrix_buckets_by_version(result, vl, versions, self.preset.le_to_ms)
                for v in versions:
                    times.update(hists[v])
                continue
            series[name] = parse.matrix_by_version(result, vl, versions)
            for v in versions:
                times.update(series[name][v])
        out: list[MetricsSnapshot] = []
        for t in sorted(times):
            samples: dict[str, VersionSample] = {}
            for v in versions:
                vals = {n: s[v].get(t) for n, s in series.items() if not n.startswith(BUSINESS_PREFIX)}
                present = {n: t in s[v] for n, s in series.items() if not n.startswith(BUSINESS_PREFIX)}
                biz = {n[len(BUSINESS_PREFIX):]: s[v].get(t) for n, s in series.items() if n.startswith(BUSINESS_PREFIX)}
                sample = parse.make_sample(vals, present, hists.get(v, {}).get(t, ()), (), biz)
                samples[v] = sample
            out.append(MetricsSnapshot(at=datetime.fromtimestamp(t, tz=timezone.utc),
                                       stable=samples[self.stable_version], canary=samples[self.canary_version],
                                       interval_s=step))
        return out


# --- helpers ---------------------------------------------------------------


def _basic(username: str | None, password: str | None) -> str:
    raw = f"{username or ''}:{password or ''}".encode()
    return base64.b64encode(raw).decode()


def _env(name: str | None, key: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise PrometheusConfigError(f"metrics.auth.{key}: the environment variable {name} is not set")
    return value
