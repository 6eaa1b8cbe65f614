"""The resource checks: per-instance usage judged only the way unequal loads cannot mislead."""

from datetime import datetime, timezone

import pytest

from tui.analysis.criteria import resource_checks, usage_ratio
from tui.config import Criteria
from tui.model import MetricsSnapshot, Result, VersionSample

AT = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def snap(canary_rps, canary_instances, canary_cpu, stable_rps, stable_instances, stable_cpu) -> MetricsSnapshot:
    return MetricsSnapshot(
        AT,
        stable=VersionSample(requests_per_second=stable_rps, instances=stable_instances, cpu_cores=stable_cpu),
        canary=VersionSample(requests_per_second=canary_rps, instances=canary_instances, cpu_cores=canary_cpu),
    )


def cpu(s: MetricsSnapshot):
    return usage_ratio("cpu vs stable", "cpu_cores", s, 1.2, " cores")


def test_a_less_loaded_canary_using_less_proves_nothing():
    # Canary 5%: one instance at 5 req/s next to stable's at 19: it idles, so it looks cheap.
    check = cpu(snap(5.0, 1, 0.07, 95.0, 5, 0.13))
    assert check.result is Result.NOT_JUDGED
    assert check.reason == "unequal load per instance: 5.0 vs 19/s"
    assert (check.canary, check.stable) == (0.07, 0.13)  # the numbers stay on screen


def test_a_less_loaded_canary_using_more_fails_all_the_same():
    check = cpu(snap(5.0, 1, 0.20, 95.0, 5, 0.13))  # at equal load it would use more still
    assert check.result is Result.FAIL
    assert check.reason == "canary/stable = 1.54x at 0.26x stable's load"


def test_a_more_loaded_canary_over_the_bound_proves_nothing():
    # Canary 90%: stable's one instance at 10 req/s looks cheap next to the canary's at 20.
    check = cpu(snap(90.0, 4.5, 0.13, 10.0, 1, 0.09))
    assert check.result is Result.NOT_JUDGED
    assert check.reason == "unequal load per instance: 20 vs 10/s"


def test_a_more_loaded_canary_within_the_bound_passes():
    assert cpu(snap(90.0, 4.5, 0.10, 10.0, 1, 0.09)).result is Result.PASS


@pytest.mark.parametrize("canary_cpu,result", [(0.13, Result.PASS), (0.17, Result.FAIL)])
def test_near_alike_loads_decide_as_the_guides_check_does(canary_cpu, result):
    check = cpu(snap(18.0, 1, canary_cpu, 80.0, 4, 0.13))  # 18 and 20 req/s per instance
    assert check.result is result
    if result is Result.FAIL:
        assert check.reason == "canary/stable = 1.31x at 0.90x stable's load"


def test_equal_loads_compare_as_they_are():
    check = cpu(snap(50.0, 2.5, 0.155, 50.0, 2.5, 0.13))
    assert check.result is Result.PASS and check.reason == ""
    check = cpu(snap(50.0, 2.5, 0.16, 50.0, 2.5, 0.13))
    assert check.result is Result.FAIL and check.reason == "canary/stable = 1.23x"


def test_a_more_loaded_canary_over_what_its_load_explains_fails():
    # 2x stable's load explains at most 2x stable's usage: 2.56x is over 1.2 x that.
    check = cpu(snap(90.0, 4.5, 0.23, 10.0, 1, 0.09))
    assert check.result is Result.FAIL
    assert check.reason == "canary/stable = 2.56x at 2.00x stable's load"


def test_a_less_loaded_canary_within_the_bound_even_at_stables_load_passes():
    # Scaled up to stable's load (x3.8) the canary's 0.03 is 0.114: within 1.2 x 0.13.
    assert cpu(snap(5.0, 1, 0.03, 95.0, 5, 0.13)).result is Result.PASS


@pytest.mark.parametrize("canary_instances,stable_instances", [(None, 5), (1, None), (0, 5)])
def test_without_an_instance_count_the_usage_compares_as_it_is(canary_instances, stable_instances):
    check = cpu(snap(5.0, canary_instances, 0.20, 95.0, stable_instances, 0.13))
    assert check.result is Result.FAIL and check.reason == "canary/stable = 1.54x"
    assert cpu(snap(5.0, canary_instances, 0.07, 95.0, stable_instances, 0.13)).result is Result.PASS


def test_memory_follows_the_same_rule_and_business_ratios_do_not():
    s = MetricsSnapshot(
        AT,
        stable=VersionSample(requests_per_second=95.0, instances=5, memory_bytes=4e8, business={"conversion": 3.0}),
        canary=VersionSample(requests_per_second=5.0, instances=1, memory_bytes=3.3e8, business={"conversion": 3.0}),
    )
    criteria = Criteria(cpu_max_ratio=None, memory_max_ratio=1.2, business=({"name": "conversion", "minRatioToStable": 0.9},))
    by_name = {c.name: c for c in resource_checks(criteria, s)}
    assert by_name["memory vs stable"].result is Result.NOT_JUDGED
    assert by_name["conversion vs stable"].result is Result.PASS  # a per-request ratio: fair at any split


def test_unavailable_turns_every_resource_check_to_no_data():
    checks = resource_checks(Criteria(memory_max_ratio=None), snap(5.0, 1, 0.07, 95.0, 5, 0.13), unavailable="why")
    assert [(c.result, c.reason) for c in checks] == [(Result.NODATA, "why")]
