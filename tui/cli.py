"""The command line: open the console, or act headless through the same controller.

Exit status: 0 success, 1 refused or failed (reason on stderr), 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Sequence

from tui import config as config_mod
from tui.config import Config, ConfigError
from tui.durations import parse_duration
from tui.formatting import RESULT_MARK, check_value, ms, pct, rate
from tui.model import FAULTS, Result

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MARK_WIDTH = max(len(mark) for mark in RESULT_MARK.values())


# A verb's copy of an option given before the verb must not reset it: argparse lets a
# subparser's default overwrite what the main parser read (`--read-only set-weight 20` wrote).
# The verbs' copies default to SUPPRESS (absent unless given); the main parser holds the defaults.
_UNSET = argparse.SUPPRESS


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    keep = {} if top else {"default": _UNSET}
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", "-c", metavar="FILE", help="rollout config (YAML)", **keep)
    src.add_argument("--demo", action="store_true", help="the built-in demo rollout (no file needed)", **keep)
    p.add_argument("--context", metavar="CTX", help="kubeconfig context (default: current)", **keep)
    p.add_argument("--speed", type=_speed, default=None if top else _UNSET,
                   help="demo: simulated seconds per real second, or 'max' (run: time jumps from poll to poll)")
    p.add_argument("--fault", choices=FAULTS, default=None if top else _UNSET,
                   help="demo: the canary's fault at start")


def _percent(text: str) -> int:
    """Refused before anything is read or sent: only a whole number from 0 to 100."""
    if not text.isdigit() or int(text) > 100:
        raise argparse.ArgumentTypeError(f"expected an integer between 0 and 100, got {text!r}")
    return int(text)


def _replicas(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _speed(text: str) -> float | str:
    if text == "max":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'max', got {text!r}")
    return value


def _writer(p: argparse.ArgumentParser, force: bool = True) -> None:
    p.add_argument("--read-only", "--readonly", action="store_true", default=_UNSET,  # k9s spells it --readonly
                   help="refuse to write (for shared terminals and scripts)")
    if force:
        _force(p)
    p.add_argument("--reason", default=None, help="why, recorded with the change")


def _force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="write even when another controller (Flagger, Argo, GitOps) owns the routes, "
                        "or the canary is scaled to 0 replicas")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canary-console",
        description="Watch and steer a canary rollout: a live console, or one verb at a time.",
    )
    _common(parser, top=True)
    parser.add_argument("--read-only", "--readonly", action="store_true", help="watch only: every write is disabled")
    parser.add_argument("--large", action="store_true",
                        help="open in large print (weights, verdict, p95s, error rates, last decision)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("status", help="routes, weights, metrics and the verdict")
    _common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--for", dest="watch", metavar="DURATION", default=None,
                   help="poll for this long before answering (e.g. 1m), so the checks have counted "
                        "requests to decide on; without it, one poll, and the checks have none yet")

    p = sub.add_parser("set-weight", help="set the canary weight (stable gets the rest)")
    p.add_argument("percent", type=_percent, metavar="PERCENT", help="the canary weight: an integer 0-100")
    _common(p)
    _writer(p)
    p.add_argument("--route", metavar="NAME", help="only this route (default: every driven route)")

    p = sub.add_parser("promote", help="canary 100%% on every driven route")
    _common(p)
    _writer(p)

    p = sub.add_parser("rollback", help="canary 0%% on every driven route, canary scaled to 0")
    _common(p)
    _writer(p)

    p = sub.add_parser("scale", help="scale the canary to N replicas: back up after a rollback, "
                                     "before it takes traffic again")
    p.add_argument("replicas", type=_replicas, metavar="N", help="the canary's replicas: an integer >= 0")
    _common(p)
    _writer(p, force=False)  # nothing to force: scaling to 0 under traffic is what a rollback is for

    p = sub.add_parser("report", help="the Canary Deployment Report from the recorded history (history.file)")
    _common(p)
    p.add_argument("--format", choices=("md", "json"), default="md")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")

    p = sub.add_parser("lab", help="the console on the real local lab: two instrumented services, "
                                   "load split by the console's weights, a real Prometheus")
    p.add_argument("--read-only", "--readonly", action="store_true", default=_UNSET,
                   help="watch only: every write is disabled")
    p.add_argument("--large", action="store_true", default=_UNSET, help="open in large print")

    p = sub.add_parser("run", help="drive the automatic progression headless (CI gate): "
                                   "exit 0 promoted, 1 rolled back, 3 held by someone else's change, "
                                   "4 the rollback failed")
    _common(p)
    p.add_argument("--timeout", metavar="DURATION", default=None,
                   help="roll back and exit 1 if not promoted within this time (e.g. 2h)")
    p.add_argument("--force", action="store_true", help="drive even when another controller owns the routes")
    p.add_argument("--read-only", "--readonly", action="store_true", default=_UNSET,
                   help="refuse to write (it then exits 1 at once)")
    return parser


def load_config(args: argparse.Namespace) -> Config:
    if getattr(args, "config", None):
        config = config_mod.load(args.config)
        return _with_demo_options(config, args)
    if getattr(args, "demo", False) or args.verb is None:
        return config_mod.demo_config(**_demo_overrides(args))
    raise ConfigError("--config FILE (or --demo) is required")


def _demo_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The demo settings --speed and --fault set ("max" is a clock, not a speed: see main)."""
    overrides: dict[str, Any] = {}
    if args.speed and args.speed != "max":
        overrides["speed"] = args.speed
    if args.fault:
        overrides["fault"] = args.fault
    return overrides


def _with_demo_options(config: Config, args: argparse.Namespace) -> Config:
    """--speed and --fault act on the simulation, which a config has only with a demo router or
    demo metrics (a rehearsal); elsewhere they are refused, not ignored (`run --fault errors`
    on a rehearsal config promoted the healthy canary it was given)."""
    from dataclasses import replace

    given = [name for name, value in (("--speed", args.speed), ("--fault", args.fault)) if value]
    if not given:
        return config
    if "demo" not in (config.router["kind"], config.metrics["kind"]):
        raise ConfigError(f"{' and '.join(given)}: only for simulated traffic (router.kind or metrics.kind "
                          f"demo); {config.source} has none")
    overrides = _demo_overrides(args)
    return replace(config, demo=replace(config.demo, **overrides)) if overrides else config


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`status | head -3`): no traceback. Whatever the verb did is done
        # (the `finally`s released the lease); stdout now points at /dev/null so that the
        # interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad usage (exit 2) or --help (0): a status, also when called in-process
        return int(exc.code or 0)
    if args.config and args.demo:  # one before the verb, the other after it: argparse cannot tell
        print("canary-console: --config and --demo: give one", file=sys.stderr)
        return EXIT_USAGE
    if args.verb == "lab":
        return run_lab_console(read_only=args.read_only, large=args.large)
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"canary-console: {exc}", file=sys.stderr)
        return EXIT_USAGE
    durations: dict[str, float | None] = {}
    for option, dest in (("--timeout", "timeout"), ("--for", "watch")):
        try:
            durations[dest] = parse_duration(getattr(args, dest)) if getattr(args, dest, None) else None
        except ValueError as exc:
            print(f"canary-console: {option}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    timeout_s = durations["timeout"]
    from tui.backends.base import BackendError
    from tui.assembly import build_controller

    clock = None
    if args.speed == "max":
        # Virtual time for the demo: sleeping advances the clock at once, so `run` covers an hour
        # of simulated rollout in about a second, each poll exactly one interval apart.
        from tui.clock import ManualClock

        clock = ManualClock(start=time.time())
    try:
        controller = build_controller(config, clock=clock, context=args.context,
                                      read_only=bool(getattr(args, "read_only", False)))
    except BackendError as exc:
        print(f"canary-console: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.verb == "report":
        return report(config, args.format, args.output)
    guard = None
    try:
        if args.verb == "status":
            return status(controller, as_json=args.json, watch_s=durations["watch"])
        if not controller.read_only:
            # Only one console or run drives a rollout; the others watch read-only.
            guard = driver_guard(controller)
            status_ = guard.start()
            if not status_.ours and args.verb is not None:
                print(f"canary-console: {args.verb} refused: {controller.read_only_reason}", file=sys.stderr)
                return EXIT_FAILED
        if args.verb is None:
            def cleanup() -> None:
                if guard is not None:
                    guard.stop()  # the lease released: another console may drive
                controller.close()

            return run_console(controller, large=args.large, cleanup=cleanup)
        if args.verb == "run":
            from tui.controller.headless import StopRequest, run_rollout

            # A cancelled CI job (SIGTERM), a closed terminal or Ctrl-C stops `run` between polls:
            # the lease is released and the rollout left whole where it is, not cut off mid-write.
            stop = StopRequest()
            with _signals_to(stop.handle, (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)):
                return run_rollout(controller, timeout_s, sys.stderr, stop=stop)
        return write_verb(controller, args)
    finally:
        if guard is not None:
            guard.stop()
        controller.close()


@contextmanager
def _signals_to(handler, signals):
    """Route `signals` to `handler` for the block, then restore what was there (main() also runs
    in-process, in tests); only the main thread can set handlers, elsewhere nothing changes."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def driver_guard(controller):
    from tui.controller.driver import DriverGuard, InProcessLease

    make_lease = getattr(controller.router, "driver_lease", None)
    lease = make_lease() if make_lease is not None else None
    return DriverGuard(controller, lease or InProcessLease())


def run_lab_console(read_only: bool, large: bool) -> int:
    from tui.labconsole import start_lab

    started = start_lab(read_only=read_only)
    if started is None:
        return EXIT_FAILED
    lab, controller = started

    def cleanup() -> None:
        controller.close()
        lab.stop()

    try:
        return run_console(controller, large=large, cleanup=cleanup)
    finally:
        cleanup()


def run_console(controller, large: bool = False, cleanup: Callable[[], None] | None = None) -> int:
    """`cleanup`: what the caller does after the console (release the lease, stop the lab), done by
    the watchdog instead if a SIGHUP's or SIGTERM's exit hangs (tui/hangup.py)."""
    from tui.app.app import CanaryApp  # Textual is imported only for the console itself
    from tui.hangup import HangupWatchdog

    app = CanaryApp(controller, large_print=large)
    watchdog = HangupWatchdog(cleanup or controller.close)
    app.hangup_watch = watchdog.start
    try:
        app.run()
    finally:
        watchdog.cancel()
    return app.return_code or EXIT_OK  # 1 when it ended on an error (a script must not read 0)


def write_verb(controller, args: argparse.Namespace) -> int:
    reason = args.reason or f"cli {args.verb}"
    if args.verb == "set-weight":
        result = controller.set_weight(args.percent, reason=reason, route=args.route, force=args.force)
    elif args.verb == "promote":
        result = controller.promote(reason=reason, force=args.force)
    elif args.verb == "scale":
        result = controller.scale_canary(args.replicas, reason=reason)
    else:
        result = controller.rollback(reason=reason, force=args.force)
    from tui.controller.headless import failures_so_far

    for message in failures_so_far(controller):
        print(f"canary-console: warning: {message}", file=sys.stderr)
    if not result.ok:
        print(f"canary-console: {args.verb} refused: {result.message}", file=sys.stderr)
        return EXIT_FAILED
    print(result.message)
    scaled_to_0 = args.verb == "rollback" and result.ok
    for name in result.skipped_routes:
        print(f"left as is: route {name} (reaches the canary only through its match)"
              + ("; the canary is now at 0 replicas, so each of its requests fails" if scaled_to_0 else ""))
    if controller.config.router["kind"] == "demo":
        # The demo lives in this process: say so, or the next command's 5% looks like a lost write.
        print("demo: the simulation ends with this command; the next one starts again from its first weight")
    return EXIT_OK


def report(config: Config, fmt: str, output: str | None) -> int:
    """The report from the history a console or `run` recorded (no controller, no cluster calls)."""
    from tui.operations.record import RolloutRecord
    from tui.operations.report import build_report, render_markdown

    path = config.history.get("file")
    if not path:
        print(f"canary-console: report: {config.source}: history.file is not set: nothing was recorded "
              "(the console and `run` record the rollout there)", file=sys.stderr)
        return EXIT_FAILED
    try:
        record = RolloutRecord.load(path)
    except FileNotFoundError:
        print(f"canary-console: report: {path}: no recorded history yet", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as exc:
        print(f"canary-console: report: {path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    doc = build_report(record, config)
    text = json.dumps(doc, indent=2) + "\n" if fmt == "json" else render_markdown(doc)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _metrics_document(sample) -> dict[str, Any]:
    """One version's numbers for `status --json`; null where there is no (fresh) data."""

    def v(name: str) -> float | None:
        return sample.value(name) if sample is not None else None

    return {
        "requestsPerSecond": v("requests_per_second"),
        "errorRate": v("error_rate"),
        "p50LatencyMs": v("p50_ms"),
        "p95LatencyMs": v("p95_ms"),
        "p99LatencyMs": v("p99_ms"),
        "cpuCores": v("cpu_cores"),
        "memoryBytes": v("memory_bytes"),
        "instances": v("instances"),
        "business": dict(sample.business) if sample is not None else {},
    }


def status_document(state) -> dict[str, Any]:
    """The `status --json` document: routes, weights, per-version metrics, verdict, checks."""
    split = state.split
    routes = []
    if split is not None:
        for r in split.routes:
            routes.append({"name": r.name, "index": r.index, "match": list(r.match) or None,
                           "stable": r.stable_weight, "canary": r.canary_weight, "driven": r.driven,
                           # every request on it fails (a header route to a canary at 0 pods), or null
                           "fails": state.route_fails(r)})
    metrics: dict[str, Any] = {}
    fresh = state.snapshot is not None and not state.stale
    for role in ("stable", "canary"):
        metrics[role] = _metrics_document(state.snapshot.of(role) if fresh else None)
    verdict = state.verdict
    return {
        "rollout": state.name,
        "simulated": state.simulated or None,  # "DEMO", "SIMULATED METRICS": made-up numbers
        "source": split.source if split else None,
        "owner": split.owner if split else None,
        "routes": routes,
        "weights": {"stable": split.stable_weight, "canary": split.canary_weight} if split else None,
        # The weights above are the last ones read: reading them fails since (see error).
        "weightsReadAt": state.split_read_at.isoformat() if split and state.split_read_at else None,
        "weightsStale": bool(split) and state.weights_stale,
        "lastChange": split.last_change.as_dict() if split and split.last_change else None,
        # False: the weights moved after that note, by a write that left none (kubectl, GitOps).
        "lastChangeIsCurrent": split.note_is_current if split and split.last_change else None,
        "metrics": metrics,
        "verdict": verdict.result.value if verdict else "nodata",
        "checks": [
            {"name": c.name, "canary": c.canary, "stable": c.stable, "bound": c.bound,
             "unit": c.unit, "result": c.result.value, "confidence": c.confidence, "reason": c.reason}
            for c in (verdict.checks if verdict else ())
        ],
        "summary": verdict.summary if verdict else "",
        "checksSince": verdict.since.isoformat() if verdict and verdict.since else None,
        "dataAgeSeconds": state.data_age_s,
        "scrapeAgeSeconds": state.scrape_age_s,
        "error": state.error,
        "at": state.now.isoformat(),
    }


def _driver_document(controller) -> dict[str, Any]:
    """Who drives the rollout and what its automation does, as stored (no lease is taken)."""
    doc: dict[str, Any] = {"driver": None, "automation": None}
    make_lease = getattr(controller.router, "driver_lease", None)
    if make_lease is not None:
        try:
            lease = make_lease().peek()
        except Exception as exc:  # noqa: BLE001 - say it, the rest of status still stands
            doc["driver"] = {"holder": None, "error": str(exc)}
        else:
            doc["driver"] = {"holder": lease.holder, "until": _iso_epoch(lease.expires_at)}
    autopilot = controller.autopilot
    autopilot.follow_store()  # from the split just read: what the driver stored
    text = autopilot.describe()
    if text:
        doc["automation"] = {"on": autopilot.progress.enabled, "held": bool(autopilot.progress.held),
                             "text": text}
    return doc


def _iso_epoch(epoch: float | None) -> str | None:
    from datetime import datetime, timezone

    from tui.model import utc_iso

    return None if epoch is None else utc_iso(datetime.fromtimestamp(epoch, tz=timezone.utc))


def status(controller, as_json: bool, watch_s: float | None = None) -> int:
    state = controller.poll_once() or controller.state()
    # The checks decide on requests counted between polls: one poll has counted none.
    clock, start = controller.clock, controller.clock.time()
    while watch_s and clock.time() - start < watch_s:
        clock.sleep(min(controller.config.interval_s, watch_s - (clock.time() - start)))
        state = controller.poll_once() or controller.state()
    doc = status_document(state)
    doc.update(_driver_document(controller))
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        print(render_status(doc))
    return EXIT_OK if state.split is not None and not state.weights_stale else EXIT_FAILED


def render_status(doc: dict[str, Any]) -> str:
    lines = [f"rollout {doc['rollout']}  ({doc['source'] or 'split unreadable'})"]
    if doc.get("simulated"):
        what = {"DEMO": "the weights and the traffic are", "SIMULATED METRICS": "the traffic is",
                "SIMULATED WEIGHTS": "the weights are"}[doc["simulated"]]
        lines.append(f"  {doc['simulated']}: {what} simulated, not real")
    if doc.get("weightsStale"):
        lines.append(f"  the weights below are as read at {doc['weightsReadAt']}: reading them fails since")
    if doc["owner"]:
        lines.append(f"OWNED BY {doc['owner']}: writes refused without --force")
    for r in doc["routes"]:
        label = r["name"] or f"#{r['index']}"
        match = " · ".join(r["match"] or []) or "default"
        mark = "driven" if r["driven"] else "not driven"
        lines.append(f"  {label:<16} stable {r['stable']:>3}%  canary {r['canary']:>3}%  [{mark}] {match}"
                     + (f"  FAILS: {r['fails']}" if r.get("fails") else ""))
    change = doc["lastChange"]
    if change:
        action = "" if change["action"] == "set-weight" else f" {change['action']}"
        frm = "?" if change["from"] is None else f"{change['from']}%"
        why = f": {change['reason']}" if change["reason"] else ""
        lines.append(f"  last change {change['when']} canary {frm} -> {change['to']}%{action} "
                     f"by {change['who'] or 'unknown'}{why}")
        if doc.get("lastChangeIsCurrent") is False:
            lines.append("  the weights moved since, by a write with no change note (kubectl, GitOps or another tool?)")
    driver = doc.get("driver")
    if driver is not None:
        if driver.get("error"):
            lines.append(f"  driver: unknown ({driver['error']})")
        else:
            lines.append(f"  driven by {driver['holder']} (lease until {driver['until']})" if driver["holder"]
                         else "  no console drives it (the lease is free)")
    automation = doc.get("automation")
    if automation:
        lines.append(f"  automation: {automation['text']}" if automation["on"]
                     else f"  automation off; {automation['text']}")
    if doc["error"]:
        lines.append(f"NO DATA: {doc['error']}")
    m = doc["metrics"]
    lines.append(f"  {'':<10}{'req/s':>10}{'errors':>10}{'p50':>10}{'p95':>10}{'p99':>10}")
    for role in ("stable", "canary"):
        x = m[role]
        lines.append(f"  {role:<10}{rate(x['requestsPerSecond']):>10}{pct(x['errorRate']):>10}"
                     f"{ms(x['p50LatencyMs']):>10}{ms(x['p95LatencyMs']):>10}{ms(x['p99LatencyMs']):>10}")
    since = doc["checksSince"]
    since = f" (on the requests since {since[11:19]}Z)" if since else ""
    word = "NO DATA" if doc["error"] else RESULT_MARK[Result(doc["verdict"])]  # the screen's words
    lines.append(f"verdict: {word}{since}")
    for c in doc["checks"]:
        mark = RESULT_MARK[Result(c["result"])]
        lines.append(f"  {mark:<{MARK_WIDTH}} {c['name']:<30} canary {check_value(c['canary'], c['unit']):>9}  "
                     f"stable {check_value(c['stable'], c['unit']):>9}  {c['bound']}  {c['reason']}")
    if doc["summary"]:
        lines.append(doc["summary"])
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
