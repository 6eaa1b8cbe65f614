"""RSS of the console over 48 hours of simulated time at the fast clock.

The real app runs headless (Textual's test driver); the demo is polled every 2 simulated
seconds and the screen is redrawn from each simulated minute's state. RSS is read from
/proc/self/status every simulated hour.
Usage: python -m tests.bench.soak [--hours 48]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from tui.app.app import CanaryApp
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import demo_config


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def soak(hours: float) -> list[tuple[float, float]]:
    clock = ManualClock()
    controller = build_controller(demo_config(), clock=clock, who="soak@bench")
    controller.backfill()
    app = CanaryApp(controller, poll=False)
    samples = []
    faults = ("none", "errors", "latency")
    async with app.run_test(size=(200, 50)) as pilot:
        polls_per_hour = int(3600 / controller.config.interval_s)
        for hour in range(int(hours)):
            controller.set_fault(faults[hour % 3])  # vary the load on the charts and the event log
            for i in range(polls_per_hour):
                clock.advance(controller.config.interval_s)
                state = controller.poll_once()
                if i % 30 == 0:
                    app.apply_state(state)
                    await pilot.pause()
            samples.append((hour + 1, rss_mb()))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=48)
    args = parser.parse_args()
    t0 = time.perf_counter()
    samples = asyncio.run(soak(args.hours))
    wall = time.perf_counter() - t0
    marks = [s for s in samples if s[0] in (1, 6, 12, 24, 36, 48) or s is samples[-1]]
    print("simulated hour -> RSS: " + ", ".join(f"{h}h {mb:.0f} MB" for h, mb in marks))
    first, last = samples[0][1], samples[-1][1]
    print(f"{args.hours:.0f} simulated hours in {wall:.0f} s wall; RSS {first:.0f} MB after 1 h, "
          f"{last:.0f} MB at the end (peak {max(mb for _, mb in samples):.0f} MB)")


if __name__ == "__main__":
    main()
