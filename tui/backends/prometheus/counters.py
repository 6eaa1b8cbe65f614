"""Interval counts from raw counters, computed client-side between consecutive polls. No I/O.

Why: the statistical judge needs, per poll, how many requests / errors / requests per
latency bucket each version answered since the previous poll. ``increase(x[interval])``
in PromQL needs two scraped samples inside one poll interval, which a real Prometheus
(scraping every 15-30 s) rarely has when the console polls every 2-10 s: the counts
would be no data most of the time. So each poll reads the raw counters instead, one
series per scraped target (nothing aggregated, so every series keeps its identity), and
the increase is taken here, per series, between the previous poll and this one, the
way Prometheus' increase() treats a counter:

* delta = value - previous;
* value < previous is a counter reset (the pod restarted, the counter began again at
  0): delta = value, everything counted since the restart;
* a series seen for the first time contributes nothing on that poll: its previous
  value is unknown, and its value is its whole history (a pod that ran for an hour
  before it was first scraped), not this interval's. It counts from the next poll on.
  One consequence: a label child created lazily (prometheus_client creates
  ``status="503"`` on the first 503) loses what it counted before the first poll that
  saw it, typically the version's first few errors. Services that initialise their
  label children at 0 lose nothing;
* a series that disappeared (pod gone, target down) contributes nothing and is
  forgotten; but an answer with no series at all while series are known is taken as
  no reading (see below), not as every series gone;
* a series whose value is NaN or unparseable contributes nothing this poll and keeps
  its previous value, so the next usable value's delta covers both polls.

The deltas are then summed by version (and by ``le`` for the latency buckets).

A version's count is None (no data, never 0) when none of its series has a previous
value: the first poll after start, a version not deployed, or a version whose every
series is new. When series were known but nothing was scraped between the two polls
(the scrape interval is longer than the poll interval), the count is 0 with an honest
meaning, "no new samples": the judge sums the counts over polls, and the next poll that
sees a new scrape carries the whole increase, so the sums stay exact.

Memory stays bounded: a tracker holds one value per series seen in the latest usable
read, nothing else. A read that is not usable (the poll failed; the answer is stale,
older than the previous one, or empty while series are known) leaves the tracker as it
was, so the next good read's deltas cover the whole gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tui.backends.prometheus.parse import (
    Histogram,
    VectorStats,
    build_histogram,
    fresh_point,
    parse_value,
    series_of,
)

SeriesKey = tuple[tuple[str, str], ...]  # a series' identity: its full label set, sorted


def series_key(labels: Mapping[str, Any]) -> SeriesKey:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


@dataclass(frozen=True)
class CounterRead:
    """One poll's answer to a raw counter query, reduced to the wanted versions' series.

    ``values``: series -> value (None: NaN or unparseable). ``at``: the newest sample
    timestamp of the answer (Prometheus' evaluation time), None without series.
    ``usable`` is False when the answer is stale: then it must not move the tracker.
    """

    values: dict[SeriesKey, float | None] = field(default_factory=dict)
    at: float | None = None
    usable: bool = True


def read_counters(result: Any, version_label: str, versions: Iterable[str], now: float | None = None,
                  max_age_s: float | None = None, stats: VectorStats | None = None) -> CounterRead:
    """The series of an instant-vector counter result that carry a wanted version.

    Series without the version label or of another version are left out (and not kept
    between polls). A series whose sample is older than ``max_age_s`` makes the whole
    read unusable: a stale answer (a caching proxy, a clock far off) must not be taken
    for "no new samples".
    """
    wanted = set(versions)
    values: dict[SeriesKey, float | None] = {}
    at: float | None = None
    stats = stats if stats is not None else VectorStats()
    stale_before = stats.stale
    for s in series_of(result):
        labels = s.get("metric", {})
        if labels.get(version_label) not in wanted:
            continue
        point = fresh_point(s, now, max_age_s, stats)
        if point is None:
            continue
        ts, raw = point
        at = ts if at is None else max(at, ts)
        value = parse_value(raw)
        values[series_key(labels)] = value if value is None or value >= 0 else None
    return CounterRead(values, at, stats.stale == stale_before)


@dataclass(frozen=True)
class Deltas:
    """Per-series increases since the previous usable read (only series that had one)."""

    values: dict[SeriesKey, float]
    span_s: float | None  # time between the two reads (their Prometheus timestamps), if known


class CounterTracker:
    """The previous value of every series of one counter query, between polls."""

    def __init__(self) -> None:
        self._prev: dict[SeriesKey, float] | None = None
        self._prev_at: float | None = None

    @property
    def primed(self) -> bool:
        """Whether a usable read was taken (the next one yields deltas)."""
        return self._prev is not None

    def __len__(self) -> int:
        return len(self._prev or {})

    def advance(self, read: CounterRead) -> Deltas | None:
        """Take a read; its per-series deltas, or None for the first usable read.

        These reads change nothing and yield None (no data), like a failed poll:
        a stale one; one older than the previous read (two polls that overlapped and
        finished out of order, which would otherwise read as resets); and an empty one
        while series are known (a Prometheus that restarted and has not scraped yet, a
        target-discovery hiccup): when the series come back, their deltas cover the gap.
        """
        prev, prev_at = self._prev, self._prev_at
        if not read.usable:
            return None
        if read.at is not None and prev_at is not None and read.at < prev_at:
            return None
        if prev and not read.values:
            return None
        current: dict[SeriesKey, float] = {}
        deltas: dict[SeriesKey, float] = {}
        for key, value in read.values.items():
            before = None if prev is None else prev.get(key)
            if value is None:  # NaN now: keep the old value, no delta this time
                if before is not None:
                    current[key] = before
                continue
            current[key] = value
            if before is None:  # new series: its history is not this interval's
                continue
            deltas[key] = value if value < before else value - before  # value < before: a reset
        # Vanished series are not carried over: the map holds only the latest read's series.
        self._prev, self._prev_at = current, read.at
        if prev is None:
            return None
        span = read.at - prev_at if read.at is not None and prev_at is not None and read.at > prev_at else None
        return Deltas(deltas, span)


def _by_version(deltas: Mapping[SeriesKey, float], version_label: str, versions: Iterable[str]
                ) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {v: [] for v in versions}
    for key, delta in deltas.items():
        labels = dict(key)
        v = labels.get(version_label)
        if v in out:
            out[v].append((labels, delta))
    return out


def counts_by_version(deltas: Deltas | None, version_label: str, versions: Iterable[str]
                      ) -> dict[str, float | None]:
    """Summed deltas per version; None for a version without a series that had a previous value."""
    versions = tuple(versions)
    if deltas is None:
        return {v: None for v in versions}
    grouped = _by_version(deltas.values, version_label, versions)
    return {v: (sum(d for _l, d in grouped[v]) if grouped[v] else None) for v in versions}


def error_counts(deltas: Deltas | None, version_label: str, versions: Iterable[str], status_label: str,
                 error_codes: str) -> dict[str, float | None]:
    """Errors per version from the REQUESTS counter's deltas: the series whose status matches.

    ``error_codes`` is a regex matched against the whole status value, as PromQL's
    ``=~`` does ("5.." for 5xx). None for a version with no counted series, or whose
    series carry no status label at all (errors cannot be told apart); 0 when there are
    counted series and none of them is an error series.
    """
    versions = tuple(versions)
    if deltas is None:
        return {v: None for v in versions}
    pattern = re.compile(error_codes)
    grouped = _by_version(deltas.values, version_label, versions)
    out: dict[str, float | None] = {}
    for v in versions:
        rows = grouped[v]
        if not rows or not any(status_label in labels for labels, _d in rows):
            out[v] = None
            continue
        out[v] = sum(d for labels, d in rows if pattern.fullmatch(str(labels.get(status_label, ""))))
    return out


def histograms_by_version(deltas: Deltas | None, version_label: str, versions: Iterable[str],
                          le_to_ms: float) -> dict[str, Histogram]:
    """Per version, the bucket deltas summed by ``le``: ((bound ms, cumulative count), ..., (inf, total)).

    ``le`` parsed as a float ("+Inf" -> inf), converted to ms, sorted, equal bounds
    merged and the counts made monotone (see parse.build_histogram); () for a version
    without counted bucket series or without a "+Inf" bucket.
    """
    versions = tuple(versions)
    if deltas is None:
        return {v: () for v in versions}
    grouped = _by_version(deltas.values, version_label, versions)
    return {v: build_histogram([(labels["le"], d) for labels, d in grouped[v] if "le" in labels], le_to_ms)
            for v in versions}
