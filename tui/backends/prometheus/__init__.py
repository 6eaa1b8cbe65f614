"""The Prometheus metric source (``metrics.kind: prometheus``).

    from tui.backends.prometheus import PrometheusMetrics
    source = PrometheusMetrics.from_config(config)      # or PrometheusMetrics(url, preset="http", ...)
    snap = source.poll()                                 # MetricsSnapshot, BackendError when down

Importing this package is cheap: prometheus-api-client (and requests) are imported only
when a PrometheusMetrics is made. See :mod:`.metrics` for how a poll works and
:mod:`.queries` for the PromQL of the presets and the names ``metrics.queries`` overrides,
:mod:`.counters` for the interval counts taken per series from the raw counters.
"""

from tui.backends.prometheus.metrics import PollStats, PrometheusConfigError, PrometheusMetrics, default_timeout
from tui.backends.prometheus.queries import COUNTER_QUERIES, PRESETS, QUERY_NAMES, build_queries, preset_queries

__all__ = [
    "COUNTER_QUERIES",
    "PRESETS",
    "QUERY_NAMES",
    "PollStats",
    "PrometheusConfigError",
    "PrometheusMetrics",
    "build_queries",
    "default_timeout",
    "preset_queries",
]
