"""The resource checks: per-instance usage judged as far as the loads per instance explain it."""

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


# (canary req/s, instances, cores; stable req/s, instances, cores) -> result, reason. Bound: 1.2x.
CASES = {
    # Canary 5%: its one instance at 5 req/s idles next to stable's at 19, so it looks cheap.
    "less loaded, using less: proves nothing": (
        (5.0, 1, 0.07, 95.0, 5, 0.13), Result.NOT_JUDGED, "unequal load per instance: 5.0 vs 19/s"),
    # At stable's load it would use more still.
    "less loaded, using more: fails all the same": (
        (5.0, 1, 0.20, 95.0, 5, 0.13), Result.FAIL, "canary/stable = 1.54x at 0.26x stable's load"),
    # Scaled up to stable's load (x3.8) its 0.03 is 0.114: within 1.2 x 0.13.
    "less loaded, within the bound even at stable's load: passes": (
        (5.0, 1, 0.03, 95.0, 5, 0.13), Result.PASS, ""),
    # Canary 90%: stable's one instance at 10 req/s looks cheap next to the canary's at 20.
    "more loaded, over the bound: proves nothing": (
        (90.0, 4.5, 0.13, 10.0, 1, 0.09), Result.NOT_JUDGED, "unequal load per instance: 20 vs 10/s"),
    "more loaded, within the bound: passes": (
        (90.0, 4.5, 0.10, 10.0, 1, 0.09), Result.PASS, ""),
    # 2x stable's load explains at most 2x stable's usage: 2.56x is over 1.2 x that.
    "more loaded, over what its load explains: fails": (
        (90.0, 4.5, 0.23, 10.0, 1, 0.09), Result.FAIL, "canary/stable = 2.56x at 2.00x stable's load"),
    # 18 and 20 req/s per instance: the interval is narrow, the guide's reading stands.
    "near alike loads, within: passes": ((18.0, 1, 0.13, 80.0, 4, 0.13), Result.PASS, ""),
    "near alike loads, over: fails": (
        (18.0, 1, 0.17, 80.0, 4, 0.13), Result.FAIL, "canary/stable = 1.31x at 0.90x stable's load"),
    "equal loads, within: passes": ((50.0, 2.5, 0.155, 50.0, 2.5, 0.13), Result.PASS, ""),
    "equal loads, over: the guide's check": ((50.0, 2.5, 0.16, 50.0, 2.5, 0.13), Result.FAIL, "canary/stable = 1.23x"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_usage_is_judged_as_far_as_the_loads_explain(case):
    sample, result, reason = case
    check = cpu(snap(*sample))
    assert (check.result, check.reason) == (result, reason)
    assert (check.canary, check.stable) == (sample[2], sample[5])  # the numbers stay on screen


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
