"""The console in a real pseudo-terminal: time to first frame, and CPU while it watches the demo.

startup: time from `canary-console --demo` until the terminal receives the first frame
         (the traffic panel's title); median of --runs.
cpu:     CPU time of the console (user+system, from /proc) over --seconds of watching the demo
         polled every second, as a share of one core.
Usage: python -m tests.bench.console startup [--runs 10] | cpu [--seconds 60]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

MARKER = b"Traffic split"


def launch(args: list[str], cols: int = 120, rows: int = 36, timeout: float = 20.0):
    """Start the console in a pty; return (process, master fd, seconds until the first frame)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tui", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    while time.perf_counter() - start < timeout:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            seen += os.read(master, 65536)
            if MARKER in seen:
                return proc, master, time.perf_counter() - start
    stop(proc, master)
    raise RuntimeError("no frame within the timeout")


def stop(proc, master) -> None:
    """SIGTERM, reading the terminal meanwhile as a real one would: a full pty blocks the app's
    last writes (restoring the screen), and it could not exit."""
    os.killpg(proc.pid, signal.SIGTERM)
    end = time.perf_counter() + 10
    while proc.poll() is None and time.perf_counter() < end:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:  # the slave side closed: the app is gone
                break
    proc.wait(max(0.1, end - time.perf_counter()))
    os.close(master)


def drain(master, seconds: float) -> None:
    """Keep reading the terminal (a real terminal would) for `seconds`."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            os.read(master, 65536)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup(runs: int) -> None:
    times = []
    for _ in range(runs):
        proc, master, elapsed = launch(["--demo"])
        stop(proc, master)
        times.append(elapsed)
    print(f"first frame after: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {runs} runs")


def cpu(seconds: float) -> None:
    config = Path(tempfile.mkdtemp()) / "demo-1s.yaml"
    config.write_text("name: x0tta6bl4-app\nmetrics: {kind: demo, interval: 1s}\n")
    proc, master, _ = launch(["--config", str(config)])
    try:
        drain(master, 5)  # past start-up
        before, t0 = cpu_seconds(proc.pid), time.perf_counter()
        drain(master, seconds)
        used, wall = cpu_seconds(proc.pid) - before, time.perf_counter() - t0
    finally:
        stop(proc, master)
    print(f"console watching the demo at a 1 s poll: {used:.2f} s CPU in {wall:.0f} s = "
          f"{100 * used / wall:.1f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("startup", "cpu"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    if args.what == "startup":
        startup(args.runs)
    else:
        cpu(args.seconds)


if __name__ == "__main__":
    main()
