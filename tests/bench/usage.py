"""The cpu check at every split: the guide's per-instance comparison against the console's.

    python -m tests.bench.usage [--polls 120]

For each canary weight and canary profile, the demo controller at the fast clock polls every
2 s for `--polls` polls after the weight is set; the first 30 (one rate window) are left out.
Counted on the same snapshots: how often the guide's check (canary cpu per instance <= 1.2x
stable's, as it is) fails, and what the console's check says (criteria.usage_ratio).
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

from tests.conftest import make_demo_controller
from tui.analysis.criteria import ratio
from tui.model import Result

WEIGHTS = (5, 20, 50, 80, 90, 95)
PROFILES = {  # name -> (factor on the idle cpu, factor on the cpu per request)
    "healthy": (1.0, 1.0),
    "cpu 1.5x per request": (1.0, 1.5),
    "cpu 3x at idle": (3.0, 1.0),
}
SETTLE = 30


def measure(weight: int, idle: float, per_request: float, polls: int) -> tuple[int, Counter, int]:
    """(guide's FAILs, the console's results, polls counted) for one split and profile."""
    controller, clock = make_demo_controller()
    try:
        world = controller.metrics.world
        base = world.stable_profile
        world.canary_base = replace(base, cpu_base=base.cpu_base * idle,
                                    cpu_per_request=base.cpu_per_request * per_request)
        limit = controller.config.criteria.cpu_max_ratio
        assert controller.set_weight(weight, reason="bench").ok
        guide, console, counted = 0, Counter(), 0
        for i in range(polls):
            clock.advance(2)
            state = controller.poll_once()
            if i < SETTLE:
                continue
            counted += 1
            snap = state.snapshot
            guide += ratio("cpu", "cpu_cores", snap.canary.value("cpu_cores"), snap.stable.value("cpu_cores"),
                           limit, "").result is Result.FAIL
            check = next(c for c in state.verdict.checks if c.name == "cpu vs stable")
            console[check.result] += 1
        return guide, console, counted
    finally:
        controller.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=120)
    args = parser.parse_args(argv)
    print(f"'cpu vs stable' over polls {SETTLE + 1}-{args.polls} after the weight is set (2 s polls, demo)")
    print("| canary profile | check | " + " | ".join(f"{w}%" for w in WEIGHTS) + " |")
    print("|---|---|" + "---|" * len(WEIGHTS))
    for name, (idle, per_request) in PROFILES.items():
        rows = {"guide's: FAIL": [], "console's: FAIL": [], "console's: not judged": []}
        for w in WEIGHTS:
            guide, console, n = measure(w, idle, per_request, args.polls)
            rows["guide's: FAIL"].append(f"{guide}/{n}")
            rows["console's: FAIL"].append(f"{console[Result.FAIL]}/{n}")
            rows["console's: not judged"].append(f"{console[Result.NOT_JUDGED]}/{n}")
        for check, cells in rows.items():
            print(f"| {name} | {check} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
