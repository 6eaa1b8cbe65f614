import math
from datetime import datetime, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tui.model import (
    Check,
    Destination,
    Result,
    Route,
    SlowCount,
    Verdict,
    WeightChange,
    WeightError,
    count_slower,
    histogram_quantile,
    validate_weight,
    with_weights,
)


@pytest.mark.parametrize("bad", [-1, 101, 5.0, "5", None, True])
def test_weight_must_be_an_integer_from_0_to_100(bad):
    with pytest.raises(WeightError):
        validate_weight(bad)


@pytest.mark.parametrize("good", [0, 1, 50, 100])
def test_valid_weights_pass(good):
    assert validate_weight(good) == good


def _route(*dests):
    return Route(index=0, name=None, match=(), destinations=tuple(dests), driven=True)


def test_with_weights_keeps_the_sum_at_100_and_other_fields():
    r = _route(Destination("s", "stable", 95, "stable"), Destination("c", "canary", 5, "canary"))
    out = with_weights(r, 30)
    assert (out.stable_weight, out.canary_weight, out.total_weight) == (70, 30, 100)
    assert [d.host for d in out.destinations] == ["s", "c"]
    assert out.label == "#0"


def test_with_weights_zeroes_duplicates_of_a_role():
    r = _route(Destination("s", "stable", 50, "stable"), Destination("s2", "stable", 45, "stable"),
               Destination("c", "canary", 5, "canary"))
    out = with_weights(r, 10)
    assert [d.weight for d in out.destinations] == [90, 0, 10]


def test_histogram_quantile_interpolates_inside_a_bucket():
    hist = ((100.0, 50.0), (200.0, 90.0), (300.0, 100.0), (math.inf, 100.0))
    assert histogram_quantile(hist, 0.5) == pytest.approx(100.0)
    assert histogram_quantile(hist, 0.95) == pytest.approx(250.0)
    assert histogram_quantile((), 0.5) is None
    assert histogram_quantile(((100.0, 0.0), (math.inf, 0.0)), 0.5) is None


def test_count_slower_interpolates_inside_the_bucket_holding_the_threshold():
    hist = ((100.0, 50.0), (250.0, 90.0), (500.0, 99.0), (math.inf, 100.0))
    # 300 ms is a fifth of the way through 250-500: a fifth of its 9 requests are not slower
    slow = count_slower(hist, 300.0)
    assert slow.count == pytest.approx(100 - (90 + 9 / 5)) and slow.bucket == (250.0, 500.0)
    assert count_slower(hist, 250.0) == SlowCount(10.0, None)  # on a bound: exact
    assert count_slower(hist, 50.0).count == pytest.approx(75.0)  # below the first bound: from 0, as Prometheus
    assert count_slower(hist, 800.0) == SlowCount(1.0, (500.0, math.inf))  # above the last bound: all of +Inf
    assert count_slower((), 300.0) is None


@given(st.lists(st.integers(0, 50), min_size=2, max_size=12), st.floats(0.5, 0.99))
def test_slower_than_the_p95_shown_is_exactly_the_rest(counts, q):
    """"At most 5% slower than T" and "p95 <= T" are the same statement: both interpolate alike."""
    bounds = [25.0 * (i + 1) for i in range(len(counts) - 1)] + [math.inf]
    cumulative, total = [], 0.0
    for bound, n in zip(bounds, counts):
        total += n
        cumulative.append((bound, total))
    hist = tuple(cumulative)
    quantile = histogram_quantile(hist, q)
    assume(quantile is not None and total - cumulative[-2][1] < (1 - q) * total)  # the quantile is finite
    assert count_slower(hist, quantile).count == pytest.approx((1 - q) * total)


def _check(result):
    return Check("c", "m", 1.0, 1.0, "<= 1", result)


def test_no_data_is_never_a_pass():
    assert Verdict.combine(()).result is Result.NODATA
    assert Verdict.combine((_check(Result.PASS), _check(Result.NODATA))).result is Result.NODATA
    assert Verdict.combine((_check(Result.NODATA), _check(Result.FAIL))).result is Result.FAIL
    assert Verdict.combine((_check(Result.PASS), _check(Result.WARN))).result is Result.WARN
    assert Verdict.combine((_check(Result.PASS),)).result is Result.PASS


def test_a_check_not_judged_neither_passes_nor_holds_a_verdict():
    assert Verdict.combine((_check(Result.PASS), _check(Result.NOT_JUDGED))).result is Result.PASS
    assert Verdict.combine((_check(Result.FAIL), _check(Result.NOT_JUDGED))).result is Result.FAIL
    assert Verdict.combine((_check(Result.NOT_JUDGED),)).result is Result.NODATA  # nothing judged: no verdict


def test_a_weight_change_reads_back_what_it_wrote():
    change = WeightChange("sre@bridge", datetime(2026, 11, 27, 9, 14, 43, tzinfo=timezone.utc), 5, 0,
                          "5xx on /pay", action="rollback")
    assert WeightChange.from_dict(change.as_dict()) == change
    assert WeightChange.from_dict({**change.as_dict(), "from": None}).from_canary is None


@pytest.mark.parametrize("note", [
    None, "text", [], {}, {"when": "2026-11-27T09:14:43Z"}, {"when": "yesterday", "to": 5},
    {"when": "2026-11-27T09:14:43Z", "to": "5"}, {"when": "2026-11-27T09:14:43Z", "to": True},
    {"when": "2026-11-27T09:14:43Z", "to": 5, "from": 2.5}, {"when": "2026-11-27T09:14:43Z", "to": 500},
])
def test_a_malformed_change_note_is_no_note(note):
    # read back from an annotation anyone can edit: never an error, never half a note
    assert WeightChange.from_dict(note) is None
