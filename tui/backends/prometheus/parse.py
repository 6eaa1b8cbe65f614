"""Turning Prometheus API results into VersionSamples. Pure functions, no I/O.

Prometheus answers an instant query with a list of series ``{"metric": {labels},
"value": [unix_ts, "string value"]}`` (a range query with ``"values": [[ts, "v"], ...]``).
Values are strings and may be ``"NaN"``, ``"+Inf"`` or ``"-Inf"``. What these helpers
make of the odd shapes:

* an empty result, a series without the version label, or a version nobody asked
  about (a third version): ignored -> that version has no data (None);
* NaN or an infinite value: no data (None), never 0 and never a pass;
* two series for one version (an override that is not grouped by the version label):
  ambiguous -> no data for that version;
* a sample whose timestamp is more than ``max_age_s`` before now: stale -> no data;
* histogram buckets: ``le`` parsed as a float ("+Inf" -> inf), converted to ms, merged
  when two spellings give the same bound ("1" and "1.0"), sorted, and made monotone
  (rates of separate bucket series jitter, so a higher bucket can read lower): a
  histogram without a "+Inf" bucket is unusable -> ().
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tui.model import VersionSample, histogram_quantile

Histogram = tuple[tuple[float, float], ...]


def parse_value(raw: Any) -> float | None:
    """A sample value as a float, or None for NaN, +-Inf and anything unparseable."""
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or math.isinf(v):
        return None
    return v


def parse_le(raw: Any) -> float | None:
    """A bucket bound: "+Inf" -> inf; None when unparseable, NaN or negative infinity."""
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or v == -math.inf:
        return None
    return v


def series_of(result: Any) -> Iterable[Mapping[str, Any]]:
    """The series of a vector/matrix result; nothing for a scalar, string or junk."""
    if not isinstance(result, list):
        return ()
    return [s for s in result if isinstance(s, Mapping) and isinstance(s.get("metric", {}), Mapping)]


def _point(raw: Any) -> tuple[float, Any] | None:
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        try:
            return float(raw[0]), raw[1]
        except (TypeError, ValueError):
            return None
    return None


@dataclass
class VectorStats:
    """What was dropped while reading a result, for the snapshot's error line and logs."""

    series: int = 0
    stale: int = 0
    newest: float | None = None  # newest fresh sample timestamp
    newest_stale: float | None = None
    ambiguous: set[str] = field(default_factory=set)

    def saw(self, ts: float) -> None:
        self.newest = ts if self.newest is None else max(self.newest, ts)


def fresh_point(series: dict[str, Any], now: float | None, max_age_s: float | None,
                stats: VectorStats | None) -> tuple[float, Any] | None:
    """(timestamp, raw value) of an instant-vector series, or None when malformed or too old.

    Counts what it sees in `stats`: every series, the stale ones, the newest fresh sample.
    """
    point = _point(series.get("value"))
    if point is None:
        return None
    ts = point[0]
    if stats is not None:
        stats.series += 1
    if now is not None and max_age_s is not None and now - ts > max_age_s:
        if stats is not None:
            stats.stale += 1
            stats.newest_stale = ts if stats.newest_stale is None else max(stats.newest_stale, ts)
        return None
    if stats is not None:
        stats.saw(ts)
    return point


def vector_by_version(result: Any, version_label: str, versions: Iterable[str], now: float | None = None,
                      max_age_s: float | None = None, stats: VectorStats | None = None) -> dict[str, float | None]:
    """One value per wanted version from an instant vector; None where there is no usable value."""
    wanted = set(versions)
    found: dict[str, list[float | None]] = defaultdict(list)
    for s in series_of(result):
        version = s.get("metric", {}).get(version_label)
        if version not in wanted:
            continue
        point = fresh_point(s, now, max_age_s, stats)
        if point is None:
            continue
        ts, raw = point
        found[version].append(parse_value(raw))
    out: dict[str, float | None] = {}
    for v in wanted:
        values = found.get(v, [])
        if len(values) > 1 and stats is not None:
            stats.ambiguous.add(v)
        out[v] = values[0] if len(values) == 1 else None
    return out


def buckets_by_version(result: Any, version_label: str, versions: Iterable[str], le_to_ms: float,
                       now: float | None = None, max_age_s: float | None = None,
                       stats: VectorStats | None = None) -> dict[str, Histogram]:
    """A cumulative histogram (ms bounds) per wanted version from ``sum by (version, le)``."""
    wanted = set(versions)
    pairs: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for s in series_of(result):
        labels = s.get("metric", {})
        version = labels.get(version_label)
        if version not in wanted or "le" not in labels:
            continue
        point = fresh_point(s, now, max_age_s, stats)
        if point is None:
            continue
        ts, raw = point
        pairs[version].append((labels["le"], raw))
    return {v: build_histogram(pairs.get(v, ()), le_to_ms) for v in wanted}


def build_histogram(pairs: Iterable[tuple[Any, Any]], le_to_ms: float = 1.0) -> Histogram:
    """(le, value) pairs -> ((bound ms, cumulative count), ...) ascending, ending with inf.

    Buckets with an unparseable bound or a NaN/infinite value are left out; equal bounds
    are summed; counts are made monotone (a running maximum, as Prometheus'
    histogram_quantile does) and never negative. Without a "+Inf" bucket: ().
    """
    merged: dict[float, float] = {}
    for le_raw, value_raw in pairs:
        le = parse_le(le_raw)
        value = parse_value(value_raw)
        if le is None or value is None:
            continue
        bound = math.inf if math.isinf(le) else le * le_to_ms
        merged[bound] = merged.get(bound, 0.0) + value
    if math.inf not in merged:
        return ()
    out: list[tuple[float, float]] = []
    running = 0.0
    for bound in sorted(merged):
        running = max(running, merged[bound])
        out.append((bound, running))
    return tuple(out)


def quantiles(histogram: Histogram) -> tuple[float | None, float | None, float | None]:
    """p50, p95, p99 in ms from a cumulative histogram; None without traffic."""
    if not histogram or histogram[-1][1] <= 0:
        return None, None, None
    return (histogram_quantile(histogram, 0.50), histogram_quantile(histogram, 0.95),
            histogram_quantile(histogram, 0.99))


def error_fraction(errors_per_second: float | None, requests_per_second: float | None,
                   error_series_present: bool) -> float | None:
    """The error rate (a fraction 0..1) from the errors/s and requests/s of one version.

    PromQL gives NO series for ``rate(x{status=~"5.."})`` of a version that never
    answered a 5xx (not a 0), so: traffic (requests/s > 0) and no error series -> 0.0;
    no traffic, no request data, or an error series that is NaN or stale -> None.
    """
    if requests_per_second is None or requests_per_second <= 0:
        return None
    if errors_per_second is not None:
        return min(1.0, max(0.0, errors_per_second / requests_per_second))
    return 0.0 if not error_series_present else None


def make_sample(values: Mapping[str, float | None], present: Mapping[str, bool],
                window_hist: Histogram, interval_hist: Histogram,
                business: Mapping[str, float | None], *,
                requests: float | None = None, errors: float | None = None) -> VersionSample:
    """One version's sample from its parsed window values (by query name) and interval counts.

    ``present[name]`` tells whether the version had any series (even a NaN or stale one)
    in that query's result, which separates "no errors" from "no data". ``requests``,
    ``errors`` and ``interval_hist`` are the counts since the previous poll (.counters).
    """
    rps = values.get("requests_per_second")
    p50, p95, p99 = quantiles(window_hist)
    return VersionSample(
        requests_per_second=rps,
        error_rate=error_fraction(values.get("error_rate"), rps, present.get("error_rate", False)),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        cpu_cores=values.get("cpu_cores"),
        memory_bytes=values.get("memory_bytes"),
        instances=values.get("instances"),
        requests=requests,
        errors=None if requests is None or errors is None else min(max(0.0, errors), requests),
        histogram=interval_hist,
        business=dict(business),
    )


def versions_present(result: Any, version_label: str, versions: Iterable[str]) -> dict[str, bool]:
    """Whether each version has at least one series in a result (whatever its value)."""
    wanted = set(versions)
    seen = {s.get("metric", {}).get(version_label) for s in series_of(result)}
    return {v: v in seen for v in wanted}


def matrix_by_version(result: Any, version_label: str, versions: Iterable[str]
                      ) -> dict[str, dict[float, float | None]]:
    """A range result: version -> {timestamp: value} (values parsed like instant ones)."""
    wanted = set(versions)
    out: dict[str, dict[float, float | None]] = {v: {} for v in wanted}
    counts: dict[str, int] = defaultdict(int)
    for s in series_of(result):
        version = s.get("metric", {}).get(version_label)
        if version not in wanted:
            continue
        counts[version] += 1
        for raw in s.get("values") or ():
            point = _point(raw)
            if point is not None:
                out[version][round(point[0], 3)] = parse_value(point[1])
    for v, n in counts.items():
        if n > 1:  # ambiguous: not grouped by the version label
            out[v] = {t: None for t in out[v]}
    return out


def matrix_buckets_by_version(result: Any, version_label: str, versions: Iterable[str], le_to_ms: float
                              ) -> dict[str, dict[float, Histogram]]:
    """A range result of bucket series: version -> {timestamp: histogram}."""
    wanted = set(versions)
    pairs: dict[str, dict[float, list[tuple[Any, Any]]]] = {v: defaultdict(list) for v in wanted}
    for s in series_of(result):
        labels = s.get("metric", {})
        version = labels.get(version_label)
        if version not in wanted or "le" not in labels:
            continue
        for raw in s.get("values") or ():
            point = _point(raw)
            if point is not None:
                pairs[version][round(point[0], 3)].append((labels["le"], point[1]))
    return {v: {t: build_histogram(p, le_to_ms) for t, p in pairs[v].items()} for v in wanted}
