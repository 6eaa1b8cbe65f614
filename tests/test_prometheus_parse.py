"""Parsing Prometheus results into samples, including the odd shapes Prometheus returns."""

from __future__ import annotations

import math

import pytest

from tui.backends.prometheus import parse
from tui.model import histogram_quantile

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakeprom import matrix, vector
except ModuleNotFoundError:
    from fakeprom import matrix, vector

V = ("stable", "canary")
NOW = 1_800_000_000.0


def test_empty_result_is_no_data():
    assert parse.vector_by_version([], "version", V) == {"stable": None, "canary": None}
    assert parse.buckets_by_version([], "version", V, 1000.0) == {"stable": (), "canary": ()}


@pytest.mark.parametrize("raw", ["NaN", "+Inf", "-Inf", "Inf", "nan", "garbage", None])
def test_nan_and_infinities_are_no_data(raw):
    result = [{"metric": {"version": "canary"}, "value": [NOW, raw]}]
    assert parse.vector_by_version(result, "version", V)["canary"] is None


def test_values_are_strings_and_parse_as_floats():
    result = vector([({"version": "stable"}, 12.5), ({"version": "canary"}, "1e-3")], ts=NOW)
    assert parse.vector_by_version(result, "version", V) == {"stable": 12.5, "canary": 0.001}


def test_missing_version_third_version_and_unlabelled_series():
    result = vector([({"version": "stable"}, 10), ({"version": "canary-2"}, 99), ({}, 5),
                     ({"track": "canary"}, 7)], ts=NOW)
    assert parse.vector_by_version(result, "version", V) == {"stable": 10.0, "canary": None}


def test_two_series_for_one_version_is_ambiguous_no_data():
    stats = parse.VectorStats()
    result = vector([({"version": "canary", "pod": "a"}, 1), ({"version": "canary", "pod": "b"}, 2)], ts=NOW)
    assert parse.vector_by_version(result, "version", V, stats=stats)["canary"] is None
    assert stats.ambiguous == {"canary"}


@pytest.mark.parametrize("odd", [None, {}, "x", [NOW, "1"], [["not", "a", "series"]], [{"metric": "x"}],
                                 [{"metric": {"version": "canary"}, "value": "1"}],
                                 [{"metric": {"version": "canary"}, "value": ["when", "1"]}]])
def test_odd_result_shapes_are_no_data_not_crashes(odd):
    assert parse.vector_by_version(odd, "version", V) == {"stable": None, "canary": None}
    assert parse.buckets_by_version(odd, "version", V, 1.0) == {"stable": (), "canary": ()}


def test_staleness_by_sample_timestamp():
    stats = parse.VectorStats()
    result = vector([({"version": "stable"}, 1)], ts=NOW - 4.1) + vector([({"version": "canary"}, 2)], ts=NOW - 3.9)
    got = parse.vector_by_version(result, "version", V, now=NOW, max_age_s=4.0, stats=stats)
    assert got == {"stable": None, "canary": 2.0}
    assert stats.stale == 1 and stats.series == 2 and stats.newest == NOW - 3.9


def test_histogram_le_ordering_inf_and_seconds_to_ms():
    # Prometheus returns series in no particular order, le as strings.
    pairs = [("+Inf", "100"), ("0.1", "40"), ("0.5", "95"), ("0.25", "80"), ("1", "99")]
    h = parse.build_histogram(pairs, le_to_ms=1000.0)
    assert h == ((100.0, 40.0), (250.0, 80.0), (500.0, 95.0), (1000.0, 99.0), (math.inf, 100.0))


def test_histogram_made_monotone_after_rate_jitter():
    pairs = [("0.1", "4.0"), ("0.2", "3.9"), ("0.3", "9.5"), ("+Inf", "9.4")]
    h = parse.build_histogram(pairs, 1000.0)
    counts = [c for _b, c in h]
    assert counts == sorted(counts) and counts == [4.0, 4.0, 9.5, 9.5]


def test_histogram_merges_equal_bounds_and_drops_nan_buckets():
    pairs = [("1", "2"), ("1.0", "3"), ("2", "NaN"), ("+Inf", "6"), ("bad", "1")]
    assert parse.build_histogram(pairs, 1.0) == ((1.0, 5.0), (math.inf, 6.0))


def test_histogram_without_inf_bucket_is_unusable():
    assert parse.build_histogram([("0.1", "1"), ("0.2", "2")], 1000.0) == ()


def test_histogram_negative_counts_clamp_to_zero():
    assert parse.build_histogram([("0.1", "-0.5"), ("+Inf", "-0.1")], 1.0) == ((0.1, 0.0), (math.inf, 0.0))


def test_buckets_by_version_and_quantiles():
    les = ["0.1", "0.2", "0.3", "+Inf"]
    stable = [10, 60, 95, 100]
    result = vector([({"version": "stable", "le": le}, c) for le, c in zip(les, stable)]
                    + [({"version": "canary", "le": le}, 0) for le in les]
                    + [({"version": "v3", "le": "+Inf"}, 5)], ts=NOW)
    h = parse.buckets_by_version(result, "version", V, 1000.0)
    assert h["stable"][-1] == (math.inf, 100.0)
    p50, p95, p99 = parse.quantiles(h["stable"])
    assert p50 == pytest.approx(100 + 100 * (50 - 10) / 50)
    assert p95 == pytest.approx(300.0)
    assert p99 == histogram_quantile(h["stable"], 0.99) == 300.0  # above the highest finite bound
    assert parse.quantiles(h["canary"]) == (None, None, None)  # no traffic: no percentiles


def test_istio_buckets_already_in_ms():
    h = parse.build_histogram([("250", "5"), ("+Inf", "10")], le_to_ms=1.0)
    assert h == ((250.0, 5.0), (math.inf, 10.0))


# --- the error rate and PromQL's missing series ---------------------------


def test_error_rate_is_errors_over_requests_client_side():
    assert parse.error_fraction(0.5, 10.0, error_series_present=True) == 0.05


def test_no_error_series_with_traffic_is_zero():
    assert parse.error_fraction(None, 12.0, error_series_present=False) == 0.0


def test_no_traffic_is_no_data_not_zero():
    assert parse.error_fraction(None, 0.0, error_series_present=False) is None
    assert parse.error_fraction(None, None, error_series_present=False) is None
    assert parse.error_fraction(0.0, 0.0, error_series_present=True) is None


def test_nan_or_stale_error_series_is_no_data_even_with_traffic():
    # Present but unusable (NaN, or dropped as stale): not a "no errors".
    assert parse.error_fraction(None, 5.0, error_series_present=True) is None


def test_error_fraction_is_clamped():
    assert parse.error_fraction(1.2, 1.0, True) == 1.0
    assert parse.error_fraction(-0.1, 1.0, True) == 0.0


def test_make_sample_interval_counts():
    sample = parse.make_sample({}, {}, (), ((100.0, 3.0), (math.inf, 4.0)), {}, requests=4.0, errors=1.0)
    assert (sample.requests, sample.errors, sample.histogram) == (4.0, 1.0, ((100.0, 3.0), (math.inf, 4.0)))
    assert parse.make_sample({}, {}, (), (), {}, requests=None, errors=1.0).errors is None  # no requests: no data
    assert parse.make_sample({}, {}, (), (), {}, requests=2.0, errors=5.0).errors == 2.0  # never above requests
    assert parse.make_sample({}, {}, (), (), {}).requests is None


def test_make_sample_end_to_end_no_series_for_zero_errors():
    rps = vector([({"version": "stable"}, 90.0), ({"version": "canary"}, 10.0)], ts=NOW)
    # sum by (version) (rate(x{status=~"5.."})): only stable has 5xx series.
    err = vector([({"version": "stable"}, 0.9)], ts=NOW)
    vals = {v: {} for v in V}
    present = {v: {} for v in V}
    for name, result in (("requests_per_second", rps), ("error_rate", err)):
        per = parse.vector_by_version(result, "version", V)
        seen = parse.versions_present(result, "version", V)
        for v in V:
            vals[v][name] = per[v]
            present[v][name] = seen[v]
    canary = parse.make_sample(vals["canary"], present["canary"], (), (), {})
    stable = parse.make_sample(vals["stable"], present["stable"], (), (), {})
    assert canary.error_rate == 0.0 and stable.error_rate == 0.01
    assert canary.p95_ms is None and canary.histogram == ()


def test_matrix_results_by_timestamp():
    result = matrix([({"version": "stable"}, [(NOW, 1), (NOW + 2, "NaN")]),
                     ({"version": "canary"}, [(NOW, 2)]), ({"version": "x"}, [(NOW, 3)])])
    got = parse.matrix_by_version(result, "version", V)
    assert got == {"stable": {NOW: 1.0, NOW + 2: None}, "canary": {NOW: 2.0}}


def test_matrix_buckets_by_timestamp():
    result = matrix([({"version": "canary", "le": "0.1"}, [(NOW, 1), (NOW + 2, 2)]),
                     ({"version": "canary", "le": "+Inf"}, [(NOW, 4), (NOW + 2, 4)])])
    got = parse.matrix_buckets_by_version(result, "version", V, 1000.0)
    assert got["canary"][NOW] == ((100.0, 1.0), (math.inf, 4.0))
    assert got["canary"][NOW + 2] == ((100.0, 2.0), (math.inf, 4.0))
    assert got["stable"] == {}
