"""``python -m tui.lab``: run the lab until Ctrl-C (or ``--duration``).

Prints the Prometheus URL and the services' URLs, optionally writes a console
config for the lab (``--write-config PATH``), and reads simple commands from
standard input while it runs::

    weight 20        canary weight 20 (stable 80)
    fault errors     fault on the canary: none | errors | latency
    fault latency stable
    truth            per-version truth over the last 30 s
    quit
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

from . import FAULT_KINDS, VERSIONS, Lab, PrometheusError, StaticWeights


def config_yaml(prometheus_url: str) -> str:
    """The console config for a lab whose Prometheus listens at ``prometheus_url``."""
    return (
        "name: lab\n"
        "router: {kind: demo}\n"
        f"metrics: {{kind: prometheus, url: {prometheus_url}, preset: http, "
        "versionLabel: version, window: 30s, interval: 2s}\n"
    )


def write_config(path: str, prometheus_url: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(config_yaml(prometheus_url))
    os.replace(tmp, path)


def _format_truth(lab: Lab, window: float = 30.0) -> str:
    rows = []
    for v, t in lab.truth(window=window).items():
        p95 = f"{t.p95 * 1000:.0f}ms" if t.p95 is not None else "-"
        rows.append(f"  {v:<7} {t.rate:7.1f} req/s  errors {t.error_rate * 100:5.2f}%  p95 {p95}")
    return f"truth over the last {window:.0f}s:\n" + "\n".join(rows)


def _command(lab: Lab, line: str, out) -> bool:
    """Run one stdin command; False to quit."""
    words = line.split()
    if not words:
        return True
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd in ("q", "quit", "exit"):
            return False
        if cmd == "weight" and len(args) == 1:
            lab.set_weights(int(args[0]))
            print(f"weights now {lab.weights()}", file=out, flush=True)
        elif cmd == "fault" and len(args) in (1, 2) and args[0] in FAULT_KINDS:
            version = args[1] if len(args) == 2 else "canary"
            if version not in VERSIONS:
                raise ValueError(f"unknown version {version!r}")
            lab.set_fault(args[0], version)
            print(f"fault {args[0]} on {version}", file=out, flush=True)
        elif cmd == "truth":
            print(_format_truth(lab), file=out, flush=True)
        else:
            print(f"commands: weight N | fault {'|'.join(FAULT_KINDS)} [stable|canary] | truth | quit", file=out, flush=True)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=out, flush=True)
    return True


def _stdout_to_devnull() -> None:
    """Later prints, and the interpreter's flush at exit, go nowhere instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.lab", description="Run the canary-console local lab.")
    parser.add_argument("--rate", type=float, default=100.0, help="total requests per second (default 100)")
    parser.add_argument("--canary-weight", type=int, default=5, help="initial canary weight 0..100 (default 5)")
    parser.add_argument("--fault", choices=FAULT_KINDS, default="none", help="initial fault on the canary")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--prometheus-port", type=int, default=None, help="fixed port (default: a free one)")
    parser.add_argument("--write-config", metavar="PATH", help="write a console config YAML for this lab")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--no-stdin", action="store_true", help="do not read commands from standard input")
    args = parser.parse_args(argv)

    weights = StaticWeights(canary=args.canary_weight)
    lab = Lab(weights, rate=args.rate, seed=args.seed, prometheus_port=args.prometheus_port)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    def say(line: str) -> None:
        """Print, or, when the terminal is gone (closed while the lab was still starting), stop as
        on SIGHUP: a broken pipe there ended the lab with a traceback and status 1."""
        try:
            print(line, flush=True)
        except OSError:
            _stdout_to_devnull()
            stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored (a background job)
    if hasattr(signal, "SIGHUP"):  # a closed terminal must not leave Prometheus and the services running
        signal.signal(signal.SIGHUP, on_signal)
    try:
        lab.start()
    except PrometheusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        lab.set_fault(args.fault)
        say(f"prometheus: {lab.url}")
        for v, url in lab.service_urls.items():
            say(f"{v:<10}: {url}  (/work /metrics /fault)")
        say(f"load      : {args.rate:g} req/s, weights {weights()}")
        if args.write_config:
            write_config(args.write_config, lab.url)
            say(f"config    : {args.write_config}")
        say("the first scrape lands ~5 s after start; Ctrl-C to stop")

        if not args.no_stdin and sys.stdin is not None and not sys.stdin.closed:
            def read_commands() -> None:
                for line in sys.stdin:
                    if not _command(lab, line, sys.stdout):
                        break
                else:
                    return  # EOF: keep running until Ctrl-C / --duration
                stop.set()

            threading.Thread(target=read_commands, name="lab-stdin", daemon=True).start()

        deadline = None if args.duration is None else time.monotonic() + args.duration
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if lab.prometheus is not None and not lab.prometheus.running:
                print(f"prometheus exited:\n{lab.prometheus.log_tail()}", file=sys.stderr)
                return 1
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping the lab")  # the terminal may be gone (SIGHUP): stop all the same
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
