"""The success criteria, checked canary against stable and against absolute bounds.

These are point checks on the latest sample (what the guide's checklist asks).
The statistical judge decides error and latency from counts; the resource and
business checks stay point checks. No data is never a pass.
"""

from __future__ import annotations

from dataclasses import replace

from tui.config import Criteria
from tui.model import Check, MetricsSnapshot, Result, VersionSample


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value * 100:.2f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.3g}{unit}"


def _nodata(name: str, metric: str, bound: str, canary: float | None, stable: float | None,
            unit: str, why: str) -> Check:
    return Check(name, metric, canary, stable, bound, Result.NODATA, why, unit=unit)


def absolute(name: str, metric: str, sample_c: VersionSample, sample_s: VersionSample,
             limit: float, unit: str) -> Check:
    c, s = sample_c.value(metric), sample_s.value(metric)
    bound = f"<= {_fmt(limit, unit)}"
    if c is None:
        return _nodata(name, metric, bound, c, s, unit, "no canary data")
    ok = c <= limit
    why = "" if ok else f"canary {_fmt(c, unit)} > {_fmt(limit, unit)}"
    return Check(name, metric, c, s, bound, Result.PASS if ok else Result.FAIL, why, unit=unit)


def ratio(name: str, metric: str, c: float | None, s: float | None, limit: float, unit: str,
          minimum: bool = False) -> Check:
    bound = f"{'>=' if minimum else '<='} {limit:.2f}x stable"
    if c is None or s is None:
        return _nodata(name, metric, bound, c, s, unit, "no canary data" if c is None else "no stable data")
    if s <= 0:
        return _nodata(name, metric, bound, c, s, unit, "stable is 0: no ratio")
    r = c / s
    ok = r >= limit if minimum else r <= limit
    why = "" if ok else f"canary/stable = {r:.2f}x"
    return Check(name, metric, c, s, bound, Result.PASS if ok else Result.FAIL, why, unit=unit)


def delta(name: str, metric: str, c: float | None, s: float | None, limit: float, unit: str) -> Check:
    bound = f"<= stable + {_fmt(limit, unit)}"
    if c is None or s is None:
        return _nodata(name, metric, bound, c, s, unit, "no canary data" if c is None else "no stable data")
    ok = c - s <= limit
    why = "" if ok else f"canary - stable = {_fmt(c - s, unit)}"
    return Check(name, metric, c, s, bound, Result.PASS if ok else Result.FAIL, why, unit=unit)


def _per_s(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def usage_ratio(name: str, metric: str, snap: MetricsSnapshot, limit: float, unit: str) -> Check:
    """Per-instance usage, canary against stable, judged as far as unequal loads allow.

    Usage grows with the load an instance carries, so between unequal loads the busier
    version looks costlier (at canary 5% its one instance idles next to stable's busy ones;
    at 90% the other way round). With usage = base + cost x load (both >= 0), the canary at
    stable's load per instance would use between its usage now and that usage scaled by the
    ratio of the loads. The check fails when even the lower end is over `limit` x stable,
    passes when even the upper end is within, and is not judged when the bound falls
    between: the data cannot tell. With an instance count unknown, the usage is compared as
    it is (the guide's check).
    """
    c, s = snap.canary, snap.stable
    used, reference = c.value(metric), s.value(metric)
    check = ratio(name, metric, used, reference, limit, unit)
    lc, ls = c.load_per_instance(), s.load_per_instance()
    if check.result not in (Result.PASS, Result.FAIL) or used is None or reference is None:
        return check
    if not lc or not ls or lc == ls:
        return check
    low, high = sorted((used, used * ls / lc))  # the canary's usage at stable's load: at least, at most
    if low > limit * reference:
        return replace(check, result=Result.FAIL, reason=f"canary/stable = {used / reference:.2f}x "
                                                          f"at {lc / ls:.2f}x stable's load")
    if high <= limit * reference:
        return replace(check, result=Result.PASS, reason="")
    return replace(check, result=Result.NOT_JUDGED,
                   reason=f"unequal load per instance: {_per_s(lc)} vs {_per_s(ls)}/s")


def resource_checks(criteria: Criteria, snap: MetricsSnapshot, unavailable: str | None = None) -> list[Check]:
    """cpu, memory and business checks; all no-data with the reason `unavailable` when the two
    versions cannot be compared now (one of them serves no traffic: its instances idle)."""
    checks: list[Check] = []
    if criteria.cpu_max_ratio is not None:
        # Per instance, like memory, not summed per version: the share of traffic must not decide it.
        checks.append(usage_ratio("cpu vs stable", "cpu_cores", snap, criteria.cpu_max_ratio, " cores"))
    if criteria.memory_max_ratio is not None:
        checks.append(usage_ratio("memory vs stable", "memory_bytes", snap, criteria.memory_max_ratio, " B"))
    for spec in criteria.business:
        name = spec["name"]
        checks.append(ratio(f"{name} vs stable", name, snap.canary.value(name), snap.stable.value(name),
                            float(spec["minRatioToStable"]), "", minimum=True))
    if unavailable is not None:
        return [Check(c.name, c.metric, c.canary, c.stable, c.bound, Result.NODATA, unavailable, unit=c.unit)
                for c in checks]
    return checks


def point_checks(criteria: Criteria, snap: MetricsSnapshot) -> list[Check]:
    """Every criterion on the latest sample."""
    c, s = snap.canary, snap.stable
    checks = [absolute("p95 latency", "p95_ms", c, s, criteria.p95_max_ms, "ms")]
    if criteria.p95_max_ratio is not None:
        checks.append(ratio("p95 latency vs stable", "p95_ms", c.value("p95_ms"), s.value("p95_ms"),
                            criteria.p95_max_ratio, "ms"))
    checks.append(absolute("error rate", "error_rate", c, s, criteria.error_max, "%"))
    if criteria.error_max_delta is not None:
        checks.append(delta("error rate vs stable", "error_rate", c.value("error_rate"), s.value("error_rate"),
                            criteria.error_max_delta, "%"))
    return checks + resource_checks(criteria, snap)


def stale_checks(checks: list[Check] | tuple[Check, ...], why: str) -> tuple[Check, ...]:
    """The same checks turned to no-data: a stale or failed poll never passes."""
    return tuple(
        Check(c.name, c.metric, None, None, c.bound, Result.NODATA, why, unit=c.unit) for c in checks
    )
