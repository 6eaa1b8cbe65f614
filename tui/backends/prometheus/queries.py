"""The PromQL the Prometheus metric source issues: presets ``http`` and ``istio``, and overrides.

Pure string building, no I/O. Every preset query carries the configured selector and
groups by the version label, so ONE query per metric answers for every version at once.

Query names (each can be replaced in ``metrics.queries`` by name):

``requests_per_second``       requests/s per version over the window
``error_rate``                5xx answers per second per version over the window; the console
                              divides it by requests_per_second (client side) for the fraction
``latency_buckets_window``    latency bucket rates by (version, le) over the window: p50/p95/p99
``requests_counter``          the RAW requests counter, every series (not aggregated), with its
                              version and status labels: the judge's request AND error counts
``latency_buckets_counter``   the RAW latency histogram buckets, every series, with version and le
``errors_counter``            optional, not in the presets: a raw counter of errors only, for when
                              the requests counter has no status label; without it the errors are
                              the requests_counter series whose status matches the preset's 5xx
``cpu_cores``                 CPU cores per instance (average over instances), per version
``memory_bytes``              resident memory per instance (average over instances), per version
``instances``                 instances per version (the http preset counts the CPU series): with
                              requests_per_second it gives the load per instance, which tells
                              whether the versions' per-instance cpu and memory compare fairly
``scrape_time``               when each version's requests were last scraped (the newest
                              ``timestamp()`` of its requests counter series): how old the
                              answers are, which an instant query's own stamp does not tell

The window queries (the first three, cpu, memory, instances, scrape_time) are grouped by the version label
in PromQL: one series per version. The ``*_counter`` queries are NOT aggregated: the
console keeps each series' previous value between polls and takes the increase per
series client-side (see :mod:`.counters`: counter resets, new and vanished series), then
sums by version (and ``le``). ``increase(x[poll interval])`` would need two scrapes
inside one poll interval, which a Prometheus scraping every 15-30 s seldom has. Leave
the counter series unaggregated in an override too: a ``sum`` over pods drops when one
pod restarts, and that drop would read as a reset of the whole sum. The counter queries
return every series the selector matches: give a selector that picks the one service.

An override of a window query must return the same shape as the preset query it
replaces: one series per version (labelled with the version label), and for
``latency_buckets_window`` one series per (version, ``le``), with ``le`` in the preset's
unit (seconds for ``http``, milliseconds for ``istio``; the same for
``latency_buckets_counter``). ``error_rate`` is a rate of errors (per second, like
requests_per_second), not a fraction: the fraction is errors/s / requests/s, computed
here. A version with traffic and no series in the error_rate result counts as 0 errors,
because ``rate(x{status=~"5.."})`` has NO series, not a 0, for a version that never
answered a 5xx; a version without traffic has no error rate (None).

For the istio preset, CPU and memory per version are left out (no data) because joining
``container_*`` series to a pod's version label depends on the cluster. With
kube-state-metrics exporting the pods' ``version`` label, for example::

    queries:
      cpu_cores: >-
        avg by (destination_version) (label_replace(sum by (namespace, pod)
          (rate(container_cpu_usage_seconds_total{namespace="shop", container!="", container!="POD"}[1m]))
          * on (namespace, pod) group_left (label_version) kube_pod_labels{namespace="shop"},
          "destination_version", "$1", "label_version", "(.*)"))
      memory_bytes: >-
        avg by (destination_version) (label_replace(sum by (namespace, pod)
          (container_memory_working_set_bytes{namespace="shop", container!="", container!="POD"})
          * on (namespace, pod) group_left (label_version) kube_pod_labels{namespace="shop"},
          "destination_version", "$1", "label_version", "(.*)"))
      instances: >-
        count by (destination_version) (label_replace(
          kube_pod_labels{namespace="shop", label_app="x0tta6bl4-app"},
          "destination_version", "$1", "label_version", "(.*)"))

Without ``instances`` the cpu and memory checks compare the usage per instance as it is,
however unequal the versions' loads per instance (the guide's check).

Percentiles come from ONE bucket query per poll, with model.histogram_quantile applied on
the client side, instead of three ``histogram_quantile`` queries: 1 query instead of 3,
and p50/p95/p99 come from the same instant's buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from tui.durations import promql_duration

QUERY_NAMES: tuple[str, ...] = (
    "requests_per_second",
    "error_rate",
    "latency_buckets_window",
    "requests_counter",
    "errors_counter",
    "latency_buckets_counter",
    "cpu_cores",
    "memory_bytes",
    "instances",
    "scrape_time",
)

# The queries that describe a window (charted, backfilled); the *_counter ones are read
# raw for the statistical judge's interval counts and are not backfilled.
WINDOW_QUERIES: tuple[str, ...] = (
    "requests_per_second",
    "error_rate",
    "latency_buckets_window",
    "cpu_cores",
    "memory_bytes",
)

# The raw counters, read every poll and differenced per series client-side (see .counters).
COUNTER_QUERIES: tuple[str, ...] = ("requests_counter", "errors_counter", "latency_buckets_counter")

# Names of earlier versions, refused with a pointer to the new name.
RENAMED: dict[str, str] = {
    "requests_increase": "requests_counter",
    "errors_increase": "errors_counter",
    "latency_buckets_increase": "latency_buckets_counter",
}

BUSINESS_PREFIX = "business:"


@dataclass(frozen=True)
class Preset:
    name: str
    requests_metric: str  # a counter of requests with a status label
    status_label: str  # the requests counter's status code label
    buckets_metric: str  # the latency histogram's _bucket series
    le_to_ms: float  # multiply ``le`` by this to get milliseconds
    base_matchers: tuple[str, ...] = ()  # always present (istio: reporter="destination")
    version_label: str = "version"  # the default version label of the preset
    cpu_metric: str | None = None  # a per-instance CPU seconds counter, or None: no CPU data
    memory_metric: str | None = None  # a per-instance memory gauge, or None: no memory data
    error_codes: str = "5.."  # a regex on the status label (anchored, as PromQL's =~) for the errors

    @property
    def error_matcher(self) -> str:
        """The PromQL matcher that selects the error answers, e.g. ``status=~"5.."``."""
        return f'{self.status_label}=~"{self.error_codes}"'


PRESETS: dict[str, Preset] = {
    # The guide's metric names, as a prometheus_client-instrumented service exposes them.
    "http": Preset(
        name="http",
        requests_metric="http_requests_total",
        status_label="status",
        buckets_metric="http_request_duration_seconds_bucket",
        le_to_ms=1000.0,
        version_label="version",
        cpu_metric="process_cpu_seconds_total",
        memory_metric="process_resident_memory_bytes",
    ),
    # Istio's standard metrics, as reported by the destination's sidecar. CPU and memory
    # per version would need container_* series joined to a pod's version label, which
    # depends on the cluster (kube-state-metrics or relabelling): left out, so the
    # cpu/memory checks show no data, unless `metrics.queries` gives cpu_cores/memory_bytes.
    "istio": Preset(
        name="istio",
        requests_metric="istio_requests_total",
        status_label="response_code",
        buckets_metric="istio_request_duration_milliseconds_bucket",
        le_to_ms=1.0,
        base_matchers=('reporter="destination"',),
        version_label="destination_version",
    ),
}

DEFAULT_VERSION_LABEL = "version"


class QueryConfigError(ValueError):
    """An unknown preset or query name, or an unusable selector."""


def resolve_version_label(preset: str, version_label: str | None) -> str:
    """The label that tells versions apart.

    ``versionLabel`` defaults to ``version``; left at that default with the istio preset
    it becomes ``destination_version`` (Istio's label). To group istio metrics by a label
    literally named ``version``, override the queries.
    """
    p = _preset(preset)
    if not version_label or version_label == DEFAULT_VERSION_LABEL:
        return p.version_label
    return version_label


def normalize_selector(selector: str | None) -> str:
    """``app="x"`` or ``{app="x"}`` -> ``app="x"``; empty for none."""
    s = (selector or "").strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    s = s.strip().strip(",").strip()
    if "{" in s or "}" in s:
        raise QueryConfigError(f"metrics.selector: expected label matchers like app=\"x\", got {selector!r}")
    return s


def _preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise QueryConfigError(f"metrics.preset: unknown preset {name!r}; expected one of {', '.join(PRESETS)}") from None


def _sel(*parts: str) -> str:
    inner = ", ".join(p for p in parts if p)
    return "{" + inner + "}" if inner else ""


def preset_queries(preset: str, selector: str = "", version_label: str | None = None,
                   window_s: float = 60.0, interval_s: float = 2.0) -> dict[str, str]:
    """The preset's queries by name (cpu/memory absent when the preset has none; no errors_counter).

    ``interval_s`` is accepted for symmetry and unused: the counter queries take no range.
    """
    p = _preset(preset)
    vl = resolve_version_label(preset, version_label)
    sel = normalize_selector(selector)
    w = promql_duration(window_s)
    every = _sel(*p.base_matchers, sel)
    errors = _sel(*p.base_matchers, p.error_matcher, sel)
    req, bkt = p.requests_metric, p.buckets_metric
    q = {
        "requests_per_second": f"sum by ({vl}) (rate({req}{every}[{w}]))",
        "error_rate": f"sum by ({vl}) (rate({req}{errors}[{w}]))",
        "latency_buckets_window": f"sum by ({vl}, le) (rate({bkt}{every}[{w}]))",
        # Raw, unaggregated: every series keeps its identity (see .counters); the errors
        # are the 5xx series of this same answer, so they need no query of their own.
        "requests_counter": f"{req}{every}",
        "latency_buckets_counter": f"{bkt}{every}",
    }
    if p.cpu_metric:
        q["cpu_cores"] = f"avg by ({vl}) (rate({p.cpu_metric}{_sel(sel)}[{w}]))"
    if p.memory_metric:
        q["memory_bytes"] = f"avg by ({vl}) ({p.memory_metric}{_sel(sel)})"
    if p.cpu_metric:
        # One CPU series per instance: the count the cpu average is taken over.
        q["instances"] = f"count by ({vl}) ({p.cpu_metric}{_sel(sel)})"
    # An instant query stamps its answer with the evaluation time: the scrape's own time
    # is only in timestamp().
    q["scrape_time"] = f"max by ({vl}) (timestamp({req}{every}))"
    return q


def build_queries(preset: str, selector: str = "", version_label: str | None = None,
                  window_s: float = 60.0, interval_s: float = 2.0,
                  overrides: Mapping[str, str] | None = None,
                  business: tuple[Mapping[str, object], ...] | list = ()) -> dict[str, str]:
    """Every query one poll issues, by name, in a stable order: preset, overrides, business.

    Business queries are named ``business:<name>`` and used verbatim; like overrides they
    must return series grouped by the version label.
    """
    queries = preset_queries(preset, selector, version_label, window_s, interval_s)
    for name, text in (overrides or {}).items():
        if name in RENAMED:
            raise QueryConfigError(
                f"metrics.queries: {name!r} was renamed {RENAMED[name]!r}: give the raw counter "
                f"(no increase(), no sum), the console takes the increase per series"
            )
        if name not in QUERY_NAMES:
            raise QueryConfigError(
                f"metrics.queries: unknown query name {name!r}; expected one of {', '.join(QUERY_NAMES)}"
            )
        if not str(text).strip():
            raise QueryConfigError(f"metrics.queries.{name}: empty query")
        queries[name] = str(text).strip()
    ordered = {n: queries[n] for n in QUERY_NAMES if n in queries}
    seen: set[str] = set()
    for spec in business:
        name = str(spec["name"])
        if name in seen:
            raise QueryConfigError(f"metrics.business: the name {name!r} is used twice")
        seen.add(name)
        ordered[BUSINESS_PREFIX + name] = str(spec["query"]).strip()
    return ordered
