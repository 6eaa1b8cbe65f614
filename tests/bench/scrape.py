"""The judge on a real Prometheus that scrapes less often than the console polls.

Starts the lab (two real services, 100 requests/s of load, canary 5%, Debian's prometheus)
with the given scrape interval, polls it with the lab console's controller every 2 s for
the given time, and counts per check how often its result changed and how many polls said
a version had no traffic. Between scrapes a poll counts no new requests; a healthy canary's
checks should not flicker for that. It also prints the data's age from the scrape (what the
header's "data N s old" says) at its lowest, median and highest.
Usage: python -m tests.bench.scrape [--scrape 15s] [--seconds 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from tui.backends.demo.routes import RouteTable
from tui.lab import Lab
from tui.labconsole import build_lab_controller


# What a check says when it takes a version for one without traffic (tui.analysis.judge).
IDLE_REASONS = ("requests in the last", "no canary traffic", "no stable traffic")


def run(scrape: str, seconds: float, poll_s: float = 2.0) -> tuple[int, Counter, list[float], list[float]]:
    """(polls, result changes per check, the times (s from the first poll) of the polls on which
    some check said a version had no traffic, the scrape age at each poll)."""
    table = RouteTable(canary_weight=5, source="lab")
    lab = Lab(weights=table.weights, scrape_interval=scrape)
    lab.start(wait_scraped=True, timeout=60)
    try:
        controller = build_lab_controller(lab, table)
        results: list[dict[str, str]] = []
        idle: list[float] = []
        ages: list[float] = []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            state = controller.poll_once()
            if state.scrape_age_s is not None:
                ages.append(state.scrape_age_s)
            checks = state.verdict.checks
            results.append({c.name: c.result.value for c in checks})
            if any(any(say in c.reason for say in IDLE_REASONS) for c in checks):
                idle.append(time.monotonic() - start)
            time.sleep(poll_s)
    finally:
        lab.stop()
    changes: Counter = Counter()
    for before, after in zip(results, results[1:]):
        changes.update(name for name in after if before.get(name) != after[name])
    return len(results), changes, idle, ages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrape", default="15s", help="Prometheus scrape interval (default 15s)")
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to poll (default 300)")
    args = parser.parse_args()
    polls, changes, idle, ages = run(args.scrape, args.seconds)
    print(f"scrape {args.scrape}, 2 s polls, {polls} polls over {args.seconds:g} s")
    if ages:
        print(f"data age from the scrape: lowest {min(ages):.1f} s, median {statistics.median(ages):.1f} s, "
              f"highest {max(ages):.1f} s ({len(ages)} polls)")
    when = f" (at {', '.join(f'{t:.0f}' for t in idle)} s)" if idle else ""
    print(f"polls with a check saying a version had no traffic: {len(idle)}{when}")
    for name in sorted(changes, key=lambda n: -changes[n]):
        print(f"  {name}: result changed {changes[name]} times")


if __name__ == "__main__":
    main()
