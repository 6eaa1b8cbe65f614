"""Detection benchmark: how soon each rollback policy acts on a faulty canary, and how often on a clean one.

    python -m tests.bench.detection [--runs 200] [--seed 1] [--quick] [--workers 2]
                                    [--alpha A] [--latency-alpha A] [--effect-requests N] [--judge-only]
                                    [--canary-weight 5]

Each run records one trace from the demo world (tui.backends.demo.DemoWorld on a
ManualClock: 100 req/s in total, the canary at 5% for the whole run, stable at
0.5% errors and p95 ~300 ms, the VersionProfile defaults), one sample per
simulated second, and replays the very same trace through every policy. A fault
(canary errors x10, canary latency +50%, or none) starts at a uniformly random
second of the first `fault_window_s`; the three faults of run i share its seed,
so their traffic is identical up to the fault.

For the faults: median and 95th percentile of the time from the fault's start to
the rollback, over the runs that did not roll back before the fault ("never" when
more than that share of runs never rolled back within the run). For the clean
canary: the share of runs rolled back within the run.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import shlex
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import get_context
from operator import add, sub

from tests.bench.policies import (
    AlertRulePolicy,
    FlaggerPolicy,
    GradualScriptPolicy,
    JudgePolicy,
    KayentaPolicy,
    Policy,
)
from tui.analysis.sequential import wilson
from tui.backends.demo.simulation import DemoWorld
from tui.clock import ManualClock

FAULTS = ("errors", "latency", "none")
FAULT_LABELS = {"errors": "canary errors x10 (5%)", "latency": "canary latency +50%", "none": "clean canary"}
RPS = 100.0
CANARY_WEIGHT = 5


def default_policies(judge_args: tuple[tuple[str, float], ...] = (), judge_only: bool = False) -> list[Policy]:
    """The console's judge (with `judge_args` over its defaults) and, unless `judge_only`, the others."""
    judge = JudgePolicy(**dict(judge_args))
    if judge_only:
        return [judge]
    return [judge, AlertRulePolicy(), GradualScriptPolicy(), FlaggerPolicy(), KayentaPolicy()]


@dataclass
class Series:
    """One version's per-second counts, with prefix sums for O(1) window queries."""

    cpu: list[float | None] = field(default_factory=list)
    memory: list[float | None] = field(default_factory=list)
    _req: list[float] = field(default_factory=lambda: [0.0])
    _err: list[float] = field(default_factory=lambda: [0.0])
    _hist: list[tuple[float, ...]] = field(default_factory=list)
    instances: list[float | None] = field(default_factory=list)

    def add(self, requests: float, errors: float, cumulative: tuple[float, ...], cpu: float | None,
            memory: float | None, instances: float | None = None) -> None:
        self._req.append(self._req[-1] + requests)
        self._err.append(self._err[-1] + errors)
        if not self._hist:
            self._hist.append((0.0,) * len(cumulative))
        self._hist.append(tuple(map(add, self._hist[-1], cumulative)))
        self.cpu.append(cpu)
        self.memory.append(memory)
        self.instances.append(instances)

    def copy(self) -> "Series":
        return Series(list(self.cpu), list(self.memory), list(self._req), list(self._err), list(self._hist),
                      list(self.instances))

    def requests_between(self, start: int, end: int) -> float:
        """Requests in seconds [start, end)."""
        return self._req[end] - self._req[start]

    def errors_between(self, start: int, end: int) -> float:
        return self._err[end] - self._err[start]

    def histogram_between(self, start: int, end: int) -> tuple[float, ...]:
        """Cumulative bucket counts over seconds [start, end)."""
        return tuple(map(sub, self._hist[end], self._hist[start]))


@dataclass
class Trace:
    seed: int
    fault: str
    fault_at: int  # the first faulty second
    duration_s: int
    bounds: tuple[float, ...]
    stable: Series
    canary: Series


def _record_second(world: DemoWorld, clock: ManualClock, stable: Series, canary: Series) -> tuple[float, ...]:
    clock.advance(1.0)
    s, c, _ = world.take_samples()
    for series, sample in ((stable, s), (canary, c)):
        series.add(sample.requests or 0.0, sample.errors or 0.0, tuple(n for _, n in sample.histogram),
                   sample.cpu_cores, sample.memory_bytes, sample.instances)
    return tuple(b for b, _ in s.histogram)


def _fork(world: DemoWorld) -> tuple[DemoWorld, ManualClock]:
    """An independent copy of the world (its random state included), on its own clock."""
    clock = ManualClock(start=world.clock.time())
    memo = {id(world.clock): clock, id(world._lock): threading.RLock()}
    return copy.deepcopy(world, memo), clock


def record_traces(seed: int, faults: tuple[str, ...], fault_at: int, duration_s: int,
                  canary_weight: int = CANARY_WEIGHT) -> dict[str, Trace]:
    """One run of the demo world per fault, a sample per simulated second.

    The faults share the seed: their traffic is the same until `fault_at`, so that part
    is simulated once and the world is copied (random state included) at the fault.
    """
    clock = ManualClock(start=0.0)
    # The world's own 1-second window: the policies build their windows from the counts.
    world = DemoWorld(clock, rps=RPS, seed=seed, canary_weight=canary_weight, fault="none", window_s=1)
    stable, canary = Series(), Series()
    bounds: tuple[float, ...] = ()
    for _ in range(min(fault_at, duration_s)):
        bounds = _record_second(world, clock, stable, canary)
    traces = {}
    for fault in faults:
        twin, twin_clock = _fork(world)
        s, c = stable.copy(), canary.copy()
        if fault != "none":
            twin.set_fault(fault)
        b = bounds
        for _ in range(fault_at, duration_s):
            b = _record_second(twin, twin_clock, s, c)
        traces[fault] = Trace(seed, fault, fault_at, duration_s, b, s, c)
    return traces


def record_trace(seed: int, fault: str, fault_at: int, duration_s: int, canary_weight: int = CANARY_WEIGHT) -> Trace:
    """One run without sharing (the reference the shared recording must equal)."""
    clock = ManualClock(start=0.0)
    world = DemoWorld(clock, rps=RPS, seed=seed, canary_weight=canary_weight, fault="none", window_s=1)
    stable, canary = Series(), Series()
    bounds: tuple[float, ...] = ()
    for second in range(duration_s):
        if second == fault_at and fault != "none":
            world.set_fault(fault)
        bounds = _record_second(world, clock, stable, canary)
    return Trace(seed, fault, fault_at, duration_s, bounds, stable, canary)


@dataclass(frozen=True)
class Job:
    run: int
    seed: int
    fault_at: int
    duration_s: int
    faults: tuple[str, ...]
    judge_args: tuple[tuple[str, float], ...] = ()
    judge_only: bool = False
    canary_weight: int = CANARY_WEIGHT


def _run_job(job: Job) -> tuple[Job, dict[str, dict[str, tuple[float | None, tuple[str, ...]]]]]:
    """fault -> policy -> (rollback time, the checks that failed, for policies that name them)."""
    traces = record_traces(job.seed, job.faults, job.fault_at, job.duration_s, job.canary_weight)
    policies = default_policies(job.judge_args, job.judge_only)
    out: dict[str, dict[str, tuple[float | None, tuple[str, ...]]]] = {}
    for fault, trace in traces.items():
        out[fault] = {}
        for p in policies:
            t = p.rollback_at(trace)
            out[fault][p.name] = (t, getattr(p, "last_failing", ()) if t is not None else ())
    return job, out


def jobs_for(runs: int, seed: int, duration_s: int, fault_window_s: int,
             faults: tuple[str, ...] = FAULTS, judge_args: tuple[tuple[str, float], ...] = (),
             judge_only: bool = False, canary_weight: int = CANARY_WEIGHT) -> list[Job]:
    out = []
    for run in range(runs):
        run_seed = seed * 1_000_003 + run
        fault_at = random.Random(run_seed).randrange(0, fault_window_s)
        out.append(Job(run, run_seed, fault_at, duration_s, faults, judge_args, judge_only, canary_weight))
    return out


@dataclass
class Outcome:
    """One policy on one fault over all runs."""

    fault: str
    duration_s: int
    delays: list[float] = field(default_factory=list)  # from the fault's start; inf: never
    before_fault: int = 0  # rolled back before the fault started
    rollback_times: list[float | None] = field(default_factory=list)
    failing: Counter[str] = field(default_factory=Counter)  # check -> rollbacks it took part in

    @property
    def runs(self) -> int:
        return len(self.rollback_times)

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile of the delays (inf when that share never rolled back)."""
        if not self.delays:
            return math.inf
        d = sorted(self.delays)
        return d[max(0, math.ceil(q * len(d)) - 1)]

    def quantile_interval(self, q: float, confidence: float = 0.95) -> tuple[float, float]:
        """A distribution-free confidence interval for the q-quantile: two order statistics.

        The number of runs below the true quantile is Binomial(n, q); the ranks are picked
        so that it falls between them with at least `confidence` (with 200 runs, the p95
        lies between the 184th and the 197th smallest delay).
        """
        d = sorted(self.delays)
        n = len(d)
        if not n:
            return math.inf, math.inf
        tail = (1 - confidence) / 2
        cdf = list(_binomial_cdf(n, q))
        lower = max((k for k in range(1, n + 1) if cdf[k - 1] <= tail), default=None)
        upper = min((k for k in range(1, n + 1) if cdf[k - 1] >= 1 - tail), default=None)
        return (-math.inf if lower is None else d[lower - 1]), (math.inf if upper is None else d[upper - 1])

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)

    @property
    def rolled_back(self) -> int:
        return sum(1 for t in self.rollback_times if t is not None)


def _binomial_cdf(n: int, q: float):
    """P(B <= k) for k = 0..n, B ~ Binomial(n, q), 0 < q < 1."""
    total = 0.0
    for k in range(n + 1):
        log_pmf = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                   + k * math.log(q) + (n - k) * math.log1p(-q))
        total += math.exp(log_pmf)
        yield min(1.0, total)


@dataclass
class Results:
    runs: int
    seed: int
    duration_s: int
    fault_window_s: int
    outcomes: dict[str, dict[str, Outcome]]  # policy -> fault -> outcome
    wall_s: float = 0.0
    canary_weight: int = CANARY_WEIGHT

    def outcome(self, policy: str, fault: str) -> Outcome:
        return self.outcomes[policy][fault]

    def policy_names(self) -> list[str]:
        return list(self.outcomes)


def run_benchmark(runs: int = 200, seed: int = 1, duration_s: int = 3600, fault_window_s: int = 1800,
                  workers: int | None = None, faults: tuple[str, ...] = FAULTS,
                  judge_args: tuple[tuple[str, float], ...] = (), judge_only: bool = False,
                  canary_weight: int = CANARY_WEIGHT) -> Results:
    started = time.perf_counter()
    jobs = jobs_for(runs, seed, duration_s, fault_window_s, faults, judge_args, judge_only, canary_weight)
    workers = workers or min(2, os.cpu_count() or 1)
    if workers > 1:
        # spawn, not fork: safe even when the caller (a test session) runs threads
        with get_context("spawn").Pool(workers) as pool:
            done = list(pool.imap_unordered(_run_job, jobs))
    else:
        done = [_run_job(j) for j in jobs]
    done.sort(key=lambda jr: jr[0].run)
    names = [p.name for p in default_policies(judge_args, judge_only)]
    outcomes = {n: {f: Outcome(f, duration_s) for f in faults} for n in names}
    for job, by_fault in done:
        for fault, result in by_fault.items():
            for name, (t, failing) in result.items():
                o = outcomes[name][fault]
                o.rollback_times.append(t)
                if failing:
                    o.failing.update(failing)
                if fault == "none":
                    continue
                if t is not None and t <= job.fault_at:
                    o.before_fault += 1
                else:
                    o.delays.append(math.inf if t is None else t - job.fault_at)
    return Results(runs, seed, duration_s, fault_window_s, outcomes, time.perf_counter() - started, canary_weight)


def fmt_delay(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def fmt_interval(lo: float, hi: float) -> str:
    if math.isinf(lo) and lo < 0:
        return f"[? - {fmt_delay(hi)}]"
    return f"[{fmt_delay(lo)} - {fmt_delay(hi)}]"


def table(results: Results) -> str:
    """One row per policy; the errors-x10 p95 and the clean share with 95% confidence intervals."""
    rows = [
        "| policy | errors x10: median | errors x10: p95 [95% CI] | latency +50%: median | latency +50%: p95 "
        "| clean canary: rolled back [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for name in results.policy_names():
        cells = [name]
        for fault in ("errors", "latency"):
            o = results.outcome(name, fault)
            note = f" ({o.before_fault} before the fault)" if o.before_fault else ""
            p95 = fmt_delay(o.p95)
            if fault == "errors" and math.isfinite(o.p95):
                p95 += " " + fmt_interval(*o.quantile_interval(0.95))
            cells += [fmt_delay(o.median), p95 + note]
        clean = results.outcome(name, "none")
        lo, hi = wilson(clean.rolled_back, clean.runs, 1.96)
        cells.append(f"{clean.rolled_back}/{clean.runs} ({100 * clean.rolled_back / max(1, clean.runs):.1f}%) "
                     f"[{100 * lo:.1f}-{100 * hi:.1f}%]")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def clean_rollback_causes(results: Results) -> list[str]:
    """Which checks rolled back clean canaries (for policies that name them): where the false alarms come from."""
    lines = []
    for name in results.policy_names():
        if "none" not in results.outcomes[name]:
            continue
        clean = results.outcome(name, "none")
        if clean.failing:
            causes = ", ".join(f"{check} {n}" for check, n in clean.failing.most_common())
            lines += [f"{name}: clean canaries rolled back by the check(s) that failed: {causes} "
                      "(a rollback on two checks counts for each).", ""]
    return lines


def report(results: Results, argv: list[str]) -> str:
    minutes = results.duration_s // 60
    lines = [
        f"$ python -m tests.bench.detection {shlex.join(argv)}".rstrip(),
        "",
        f"seed {results.seed}, {results.runs} runs per fault, each run {minutes} minutes of simulated traffic "
        f"(DemoWorld, {RPS:.0f} req/s in total; stable 0.5% errors, p95 ~300 ms).",
        f"The canary weight stays at {results.canary_weight}% for the whole run "
        f"(~{RPS * results.canary_weight / 100:.0f} req/s to the canary)"
        + (": the first step, the worst case for detection." if results.canary_weight == CANARY_WEIGHT else "."),
        f"Faults start at a uniformly random second of the first {results.fault_window_s // 60} minutes; "
        "times are from the fault's start to the rollback, \"never\" = not rolled back within "
        f"the {minutes}-minute run. Clean canary: share of runs rolled back within {minutes} minutes.",
        "Every policy replays the same traces. The judge polls every 2 s; the alert rules evaluate every 15 s.",
        "",
        table(results),
        "",
        *clean_rollback_causes(results),
        f"wall time {results.wall_s:.1f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m tests.bench.detection", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per fault (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="30 runs per fault: a smoke run")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    parser.add_argument("--minutes", type=int, default=60, help="run length (default 60)")
    parser.add_argument("--alpha", type=float, help="the judge's false-alarm level (default: the judge's)")
    parser.add_argument("--latency-alpha", type=float,
                        help="the latency tests' false-alarm level (default: the judge's)")
    parser.add_argument("--effect-requests", type=float,
                        help="requests in which the judge's alternative reaches its threshold (default: the judge's)")
    parser.add_argument("--judge-only", action="store_true", help="run the console's judge alone (faster)")
    parser.add_argument("--canary-weight", type=int, default=CANARY_WEIGHT,
                        help=f"the canary's share of traffic in percent (default {CANARY_WEIGHT})")
    args = parser.parse_args(argv)
    runs = 30 if args.quick else args.runs
    judge_args = tuple((k, v) for k, v in (("alpha", args.alpha), ("latency_alpha", args.latency_alpha),
                                           ("effect_requests", args.effect_requests))
                       if v is not None)
    results = run_benchmark(runs=runs, seed=args.seed, duration_s=args.minutes * 60,
                            fault_window_s=min(1800, args.minutes * 30), workers=args.workers,
                            judge_args=judge_args, judge_only=args.judge_only, canary_weight=args.canary_weight)
    print(report(results, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
