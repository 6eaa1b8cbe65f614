"""Interval counts from raw counters, per series, between polls (tui.backends.prometheus.counters).

Pure functions and a small tracker, no HTTP: resets, new and vanished series, reordering,
several pods per version, ``le`` parsing, the first poll, stale reads, NaN, bounded memory.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.backends.prometheus import counters
from tui.backends.prometheus.counters import CounterTracker, read_counters
from tui.backends.prometheus.parse import VectorStats

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakeprom import vector
except ModuleNotFoundError:
    from fakeprom import vector

V = ("stable", "canary")
T0 = 1_800_000_000.0


def req(version: str, pod: str, status: str = "200") -> dict[str, str]:
    return {"__name__": "http_requests_total", "version": version, "pod": pod, "status": status}


def read(samples, ts: float = T0, **kwargs) -> counters.CounterRead:
    return read_counters(vector(samples, ts), "version", V, **kwargs)


def step(tracker: CounterTracker, samples, ts: float = T0):
    """One poll: (requests by version, errors by version, deltas)."""
    d = tracker.advance(read(samples, ts))
    return (counters.counts_by_version(d, "version", V),
            counters.error_counts(d, "version", V, "status", "5.."), d)


def test_first_poll_is_no_data_not_zero():
    t = CounterTracker()
    requests, errors, d = step(t, [(req("stable", "a"), 100), (req("canary", "b"), 7)])
    assert d is None and t.primed
    assert requests == {"stable": None, "canary": None} and errors == {"stable": None, "canary": None}
    assert counters.histograms_by_version(d, "version", V, 1000.0) == {"stable": (), "canary": ()}


def test_deltas_summed_over_several_pods_per_version():
    t = CounterTracker()
    step(t, [(req("stable", "a"), 100), (req("stable", "b"), 50), (req("canary", "c"), 10),
             (req("stable", "a", "503"), 2)])
    requests, errors, _ = step(t, [(req("stable", "a"), 130), (req("stable", "b"), 60), (req("canary", "c"), 15),
                                   (req("stable", "a", "503"), 5)], ts=T0 + 2)
    assert requests == {"stable": 30 + 10 + 3, "canary": 5.0}
    assert errors == {"stable": 3.0, "canary": 0.0}  # canary: counted, no 5xx series -> 0, not None


def test_a_counter_reset_counts_the_new_value():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 500), (req("canary", "b"), 100)])
    # pod a restarted: its counter began again and reads 12 -> 12 requests since the restart
    requests, _e, _d = step(t, [(req("canary", "a"), 12), (req("canary", "b"), 104)])
    assert requests["canary"] == 12 + 4
    requests, _e, _d = step(t, [(req("canary", "a"), 20), (req("canary", "b"), 104)])
    assert requests["canary"] == 8  # counting from the new value on


def test_a_new_series_contributes_nothing_until_its_second_poll():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100)])
    # a new pod b appears with its whole history (1000): not this interval's
    requests, _e, _d = step(t, [(req("canary", "a"), 110), (req("canary", "b"), 1000)])
    assert requests["canary"] == 10
    requests, _e, _d = step(t, [(req("canary", "a"), 110), (req("canary", "b"), 1003)])
    assert requests["canary"] == 3


def test_a_version_whose_series_are_all_new_is_no_data():
    t = CounterTracker()
    step(t, [(req("stable", "a"), 100)])
    requests, errors, _ = step(t, [(req("stable", "a"), 100), (req("canary", "c"), 40)])  # canary deployed
    assert requests == {"stable": 0.0, "canary": None} and errors == {"stable": 0.0, "canary": None}
    requests, _e, _d = step(t, [(req("stable", "a"), 100), (req("canary", "c"), 45)])
    assert requests["canary"] == 5


def test_a_vanished_series_contributes_nothing_and_is_forgotten():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100), (req("canary", "b"), 200)])
    requests, _e, _d = step(t, [(req("canary", "a"), 104)])  # pod b gone
    assert requests["canary"] == 4 and len(t) == 1
    # b comes back (same labels): a new series again, not a delta from 200
    requests, _e, _d = step(t, [(req("canary", "a"), 104), (req("canary", "b"), 230)])
    assert requests["canary"] == 0


def test_series_order_and_label_order_do_not_matter():
    t = CounterTracker()
    a, b = req("canary", "a"), req("canary", "b")
    step(t, [(a, 1), (b, 2)])
    b_reordered = dict(reversed(list(b.items())))
    requests, _e, d = step(t, [(b_reordered, 5), (a, 2)])
    assert requests["canary"] == 1 + 3 and len(d.values) == 2


def test_nothing_scraped_between_two_polls_is_zero_not_none():
    t = CounterTracker()
    samples = [(req("stable", "a"), 100), (req("canary", "b"), 10)]
    step(t, samples)
    requests, errors, _ = step(t, samples, ts=T0 + 2)
    assert requests == {"stable": 0.0, "canary": 0.0} and errors == {"stable": 0.0, "canary": 0.0}


def test_errors_are_the_matching_status_subset_and_none_without_a_status_label():
    t = CounterTracker()
    rows = [(req("canary", "a", "200"), 10), (req("canary", "a", "503"), 1), (req("canary", "a", "404"), 1),
            (req("canary", "a", "5xx"), 0), ({"version": "stable", "pod": "s"}, 50)]
    step(t, rows)
    rows2 = [(req("canary", "a", "200"), 20), (req("canary", "a", "503"), 3), (req("canary", "a", "404"), 4),
             (req("canary", "a", "5xx"), 1), ({"version": "stable", "pod": "s"}, 60)]
    requests, errors, _ = step(t, rows2)
    assert requests == {"canary": 10 + 2 + 3 + 1, "stable": 10.0}
    assert errors["canary"] == 2 + 1  # 503 and 5xx; 404 is not an error
    assert errors["stable"] is None  # no status label: errors cannot be told apart -> no data


def test_istio_response_code_label():
    t = CounterTracker()
    lab = {"destination_version": "v2", "response_code": "503", "reporter": "destination"}
    ok = dict(lab, response_code="200")
    for value_ok, value_err in ((100, 1), (150, 4)):
        d = t.advance(read_counters(vector([(ok, value_ok), (lab, value_err)], T0), "destination_version",
                                    ("v1", "v2")))
    assert counters.error_counts(d, "destination_version", ("v1", "v2"), "response_code", "5..") == \
        {"v1": None, "v2": 3.0}


def test_buckets_le_parsed_summed_over_pods_sorted_and_monotone():
    t = CounterTracker()

    def bucket(pod, le):
        return {"__name__": "http_request_duration_seconds_bucket", "version": "canary", "pod": pod, "le": le}

    les = ["+Inf", "0.1", "0.25", "1.0"]  # any order, strings as Prometheus sends them
    first = {"a": [100, 10, 50, 90], "b": [40, 5, 20, 39]}
    second = {"a": [110, 12, 56, 99], "b": [48, 6, 26, 47]}
    t.advance(read([(bucket(p, le), v) for p, vs in first.items() for le, v in zip(les, vs)]))
    d = t.advance(read([(bucket(p, le), v) for p, vs in reversed(second.items()) for le, v in zip(les, vs)]))
    h = counters.histograms_by_version(d, "version", V, 1000.0)
    assert h["canary"] == ((100.0, 2 + 1), (250.0, 6 + 6), (1000.0, 9 + 8), (math.inf, 10 + 8))
    assert h["stable"] == ()  # no bucket series for stable: no data, not zeros
    # a reset of one pod's buckets mid-way keeps the histogram cumulative and monotone
    third = {"a": [3, 1, 2, 3], "b": [48, 6, 26, 47]}
    d = t.advance(read([(bucket(p, le), v) for p, vs in third.items() for le, v in zip(les, vs)]))
    h = counters.histograms_by_version(d, "version", V, 1000.0)["canary"]
    assert h == ((100.0, 1.0), (250.0, 2.0), (1000.0, 3.0), (math.inf, 3.0))
    counts = [c for _b, c in h]
    assert counts == sorted(counts)


def test_buckets_in_ms_for_istio():
    t = CounterTracker()
    s = {"destination_version": "v2", "le": "250"}
    inf = dict(s, le="+Inf")
    for a, b in ((1, 2), (4, 6)):
        d = t.advance(read_counters(vector([(s, a), (inf, b)], T0), "destination_version", ("v1", "v2")))
    assert counters.histograms_by_version(d, "destination_version", ("v1", "v2"), 1.0)["v2"] == \
        ((250.0, 3.0), (math.inf, 4.0))


def test_a_stale_read_moves_nothing_and_the_next_good_one_covers_the_gap():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100)])
    stale = read([(req("canary", "a"), 150)], ts=T0 + 2, now=T0 + 10, max_age_s=4.0)
    assert not stale.usable and t.advance(stale) is None
    d = t.advance(read([(req("canary", "a"), 180)], ts=T0 + 12))
    assert counters.counts_by_version(d, "version", V)["canary"] == 80 and d.span_s == 12


def test_an_empty_answer_while_series_are_known_is_no_reading():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100)])
    requests, _e, d = step(t, [], ts=T0 + 2)  # e.g. Prometheus restarted and has not scraped yet
    assert d is None and requests["canary"] is None and len(t) == 1
    requests, _e, d = step(t, [(req("canary", "a"), 130)], ts=T0 + 4)
    assert requests["canary"] == 30 and d.span_s == 4  # the gap is covered


def test_an_answer_older_than_the_previous_is_ignored():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100)], ts=T0)
    step(t, [(req("canary", "a"), 120)], ts=T0 + 2)
    requests, _e, d = step(t, [(req("canary", "a"), 110)], ts=T0 + 1)  # overlapping polls, out of order
    assert d is None and requests["canary"] is None  # not a reset
    requests, _e, _d = step(t, [(req("canary", "a"), 125)], ts=T0 + 4)
    assert requests["canary"] == 5


def test_nan_keeps_the_previous_value():
    t = CounterTracker()
    step(t, [(req("canary", "a"), 100), (req("canary", "b"), 10)])
    requests, _e, _d = step(t, [(req("canary", "a"), "NaN"), (req("canary", "b"), 12)])
    assert requests["canary"] == 2
    requests, _e, _d = step(t, [(req("canary", "a"), 130), (req("canary", "b"), 12)])
    assert requests["canary"] == 30  # from the last usable 100


def test_other_versions_and_unlabelled_series_are_not_kept():
    t = CounterTracker()
    stats = VectorStats()
    r = read([(req("stable", "a"), 1), (req("v3", "x"), 5), ({"pod": "y"}, 9)], stats=stats)
    t.advance(r)
    assert len(t) == 1 and stats.series == 1


def test_memory_is_bounded_by_the_latest_read_across_pod_churn():
    t = CounterTracker()
    for generation in range(50):  # 50 rollouts of 20 fresh pods each
        t.advance(read([(req("canary", f"pod-{generation}-{i}"), 10.0 * generation) for i in range(20)]))
        assert len(t) == 20


def test_span_is_the_time_between_the_two_reads():
    t = CounterTracker()
    t.advance(read([(req("canary", "a"), 1)], ts=T0))
    assert t.advance(read([(req("canary", "a"), 2)], ts=T0 + 2.5)).span_s == 2.5


# --- property: the summed per-poll counts equal what the counters counted ------------


@st.composite
def histories(draw):
    """Per step and pod: (increment, reset?) ; a reset restarts the counter before the increment."""
    pods = draw(st.integers(1, 4))
    steps = draw(st.integers(2, 25))
    return [[(draw(st.integers(0, 50)), draw(st.booleans()) and draw(st.booleans())) for _ in range(pods)]
            for _ in range(steps)]


@settings(max_examples=150, deadline=None)
@given(histories())
def test_summed_counts_equal_the_true_increase_since_the_first_poll(history):
    t = CounterTracker()
    values = [1000.0] * len(history[0])  # the pods have served traffic before the console started
    step(t, [(req("canary", f"p{i}"), v) for i, v in enumerate(values)])
    total_seen = total_true = 0.0
    for row in history:
        for i, (inc, reset) in enumerate(row):
            # a reset that is detectable: the new value is below the old one (as for increase())
            if reset and inc < values[i]:
                values[i] = 0.0
            values[i] += inc
            total_true += inc
        requests, _e, _d = step(t, [(req("canary", f"p{i}"), v) for i, v in enumerate(values)])
        total_seen += requests["canary"]
    assert total_seen == total_true
