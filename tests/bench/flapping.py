"""How often a healthy canary's checks fall from PASS, at a fixed weight (the demo, virtual time).

    python -m tests.bench.flapping [--hours 1] [--seeds 1 2 3] [--weights 5 20 50]

A PASS that falls back to "not enough data" and returns a minute later is noise on a shared
screen; this counts, per weight over every seed, the polls where the verdict, and each check,
went from PASS to anything else, and when the verdict first passed.
"""

from __future__ import annotations

import argparse
from collections import Counter

from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import demo_config

INTERVAL_S = 2


def run(weight: int, seed: int, hours: float) -> tuple[int, Counter, int | None]:
    clock = ManualClock(start=1_800_000_000.0)
    controller = build_controller(demo_config(seed=seed), clock=clock, who="bench")
    try:
        controller.poll_once()
        if weight != 5:
            controller.set_weight(weight, "bench", who="bench")
        previous: dict[str, str] = {}
        checks: Counter = Counter()
        verdict_falls, first_pass, last = 0, None, None
        for poll in range(int(hours * 3600 / INTERVAL_S)):
            clock.advance(INTERVAL_S)
            verdict = controller.poll_once().verdict
            for check in verdict.checks:
                if previous.get(check.name) == "pass" and check.result.value != "pass":
                    checks[check.name] += 1
                previous[check.name] = check.result.value
            if last == "pass" and verdict.result.value != "pass":
                verdict_falls += 1
            if verdict.result.value == "pass" and first_pass is None:
                first_pass = (poll + 1) * INTERVAL_S
            last = verdict.result.value
        return verdict_falls, checks, first_pass
    finally:
        controller.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--weights", type=int, nargs="+", default=[5, 20, 50])
    args = parser.parse_args(argv)
    print("| canary | verdict fell from PASS | checks fell from PASS | first PASS after (s) |")
    print("|---|---|---|---|")
    for weight in args.weights:
        falls, checks, firsts = 0, Counter(), []
        for seed in args.seeds:
            f, c, first = run(weight, seed, args.hours)
            falls += f
            checks += c
            firsts.append("never" if first is None else str(first))
        detail = ", ".join(f"{name} {n}" for name, n in sorted(checks.items()))
        print(f"| {weight}% | {falls} | {sum(checks.values())} ({detail}) | {' / '.join(firsts)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
