"""`canary-console run`: the automatic progression without a screen, for CI.

The same controller, judge and rollback as the console. Progress lines go to
`out` (stderr); the outcome is an exit status: 0 promoted, 1 rolled back (or
halted / timed out, then rolled back), 3 held by a change made by someone else
(left as they put it), 4 the rollback it had to make failed.
"""

from __future__ import annotations

import signal
from dataclasses import replace
from typing import TextIO

from tui.controller.controller import RolloutController
from tui.durations import format_duration
from tui.formatting import RESULT_MARK, event_line, hhmmss, ms, pct
from tui.model import Event, Result

PROMOTED, ROLLED_BACK = 0, 1
HELD = 3  # a person (or another tool) moved the weights: left where they put them, not rolled back
ROLLBACK_FAILED = 4  # it had to roll back and could not: traffic may still reach the canary
# Stopped by a signal (a cancelled CI job, Ctrl-C): 128 + the signal's number, as a shell reports it.


class _WakeUp(Exception):
    pass


class StopRequest:
    """A signal asking `run` to stop, honoured between polls and never in the middle of a write:
    `handle` only notes it, and interrupts nothing but the wait for the next poll."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._waiting = False

    def handle(self, signum: int, frame: object = None) -> None:  # a signal handler
        self.signum = signum
        if self._waiting:
            raise _WakeUp

    def sleep(self, clock, seconds: float) -> None:
        # The outer try also catches a signal landing inside the inner `finally`, before it clears the flag.
        try:
            try:
                self._waiting = True
                if self.signum is None:
                    clock.sleep(seconds)
            finally:
                self._waiting = False
        except _WakeUp:
            self._waiting = False


def failures_so_far(controller: RolloutController) -> list[str]:
    """What went wrong beside the actions so far (an audit log that cannot be written): for a
    command line to say, not only the event log."""
    return [e.message for e in controller.state().events if e.kind == "error" and not e.ok]


def _line(controller: RolloutController) -> tuple[str, tuple]:
    """The progress line, and what in it is news: weight, verdict, failing checks, the step.
    The numbers and the countdown change every poll; they are printed with news or once a minute."""
    state = controller.state()
    split = state.split
    weight = f"canary {split.canary_weight}%" if split and split.canary_weight is not None else "canary ?"
    if split is not None and state.weights_stale:
        weight += f" (as read at {hhmmss(state.split_read_at)}Z)"  # reading it fails since: it may be untrue
    verdict = state.verdict
    # The screen's words: "? UNDECIDED" while the judge gathers evidence, "NO DATA" when the poll failed.
    word = RESULT_MARK[verdict.result] if verdict is not None and not state.stale else "NO DATA"
    parts = [f"{hhmmss(state.now)}Z", weight, f"verdict {word}"]
    if state.snapshot is not None:
        c, s = state.snapshot.canary, state.snapshot.stable
        parts.append(f"p95 {ms(c.p95_ms)} vs {ms(s.p95_ms)}")
        parts.append(f"errors {pct(c.error_rate)} vs {pct(s.error_rate)}")
    failing = [c for c in verdict.checks if c.result is Result.FAIL] if verdict else []
    waiting = sum(c.result is Result.NODATA for c in verdict.checks) if verdict else 0
    if failing:
        parts.append("FAILING " + "; ".join(f"{c.name}: {c.reason}" for c in failing))
    elif waiting:
        # Why they wait: "not enough data yet (812 requests)", or "served nothing for 30s while
        # routed 5%" (a crashed canary), or the failed poll: not all the same "gathering data".
        why = verdict.undecided_reason
        parts.append(f"{waiting} check(s) undecided: {why}" if why else f"{waiting} check(s) undecided")
    if state.automation:
        parts.append(state.automation)
    progress = controller.autopilot.progress
    news = (split.canary_weight if split else None, verdict.result if verdict else None,
            tuple(c.name for c in failing), waiting, progress.enabled, progress.step, progress.held,
            progress.finished, state.error)
    return " | ".join(parts), news


def run_rollout(controller: RolloutController, timeout_s: float | None, out: TextIO,
                report_every_s: float = 60.0, stop: StopRequest | None = None) -> int:
    """Drive the rollout to promotion or rollback; return the exit status."""
    autopilot = controller.autopilot
    # `run` is the automation: at the last step it promotes rather than wait for a person.
    autopilot.policy = replace(autopilot.policy, promote="auto")
    clock = controller.clock
    start = clock.time()
    if not controller.resume_automation():
        try:
            at_start = controller.current_split()
        except Exception:  # unreadable: toggle_auto below says why it cannot start
            at_start = None
        if at_start is not None and at_start.canary_weight == 100:
            # Promoted already (a re-run of the job): the gate's goal holds, and automation at 100%
            # would have nothing to walk.
            print(f"run: {controller.config.name}: the canary already takes 100% (promoted before this run); "
                  "nothing to do", file=out, flush=True)
            return PROMOTED
        result = controller.toggle_auto()
        if not result.ok:
            print(f"run: cannot start: {result.message}", file=out)
            return ROLLED_BACK
    # The job's log is the event log of a run nobody watches: every change with who and why, and
    # the numbers behind a rollback (the progress line after it is judged afresh at 0%). What went
    # wrong beside the rollout (an audit log or history that cannot be written) is a warning.
    # Failed polls are in the progress lines.
    def tell(event: Event) -> None:
        if event.kind == "error" and not event.ok:
            if not event.message.startswith("poll failed"):
                print(f"run: warning: {event.message}", file=out, flush=True)
            return
        print(f"run: {event_line(event)}", file=out, flush=True)

    for message in failures_so_far(controller):
        print(f"run: warning: {message}", file=out, flush=True)
    controller.subscribe(tell)
    simulated = controller.state().simulated
    if simulated:  # a rehearsal's promotion is no evidence about the real canary: the job's log says so
        print(f"run: {controller.config.name}: {simulated}: judged on simulated traffic, not real", file=out,
              flush=True)
    print(f"run: {controller.config.name}: {autopilot.describe()}", file=out, flush=True)
    last_news: tuple | None = None
    last_report = start
    stop = stop or StopRequest()
    while True:
        stop.sleep(clock, controller.config.interval_s)
        if stop.signum is not None:
            # Nothing half-done: the last write went through whole, and the progression state is
            # stored, so a new `run` (or a console) resumes from here.
            split = controller.state().split
            at = f"canary {split.canary_weight}%" if split and split.canary_weight is not None else "its weights"
            print(f"run: stopped by {signal.Signals(stop.signum).name} after {format_duration(clock.time() - start)}; "
                  f"the rollout stays at {at} and a new run resumes it", file=out, flush=True)
            return 128 + stop.signum
        controller.poll_once()
        now = clock.time()
        line, news = _line(controller)
        if news != last_news or now - last_report >= report_every_s:
            print(line, file=out, flush=True)
            last_news, last_report = news, now
        progress = autopilot.progress
        if progress.enabled and progress.held:
            # Waiting for a resume no one in CI will give, then rolling back on the timeout, would
            # fight whoever took over.
            print(f"run: automation held ({progress.held}) after {format_duration(now - start)}; "
                  "the rollout is left where that change put it", file=out, flush=True)
            return HELD
        if not progress.enabled:
            outcome = progress.finished or "stopped"
            if outcome == "promoted":
                print(f"run: promoted after {format_duration(now - start)}", file=out, flush=True)
                return PROMOTED
            if not outcome.startswith("rolled back"):
                # Halted (no data, failed check without autoRollback, or stopped): leave nothing half-done.
                result = controller.rollback(reason=f"run: {outcome}", who="automation")
                if not result.ok:  # say so: "rolled back" here would send people home with traffic on it
                    print(f"run: {outcome}; the rollback FAILED: {result.message}", file=out, flush=True)
                    return ROLLBACK_FAILED
            print(f"run: {outcome}; canary rolled back after {format_duration(now - start)}", file=out, flush=True)
            return ROLLED_BACK
        if timeout_s is not None and now - start >= timeout_s:
            why = f"timed out after {format_duration(timeout_s)}"
            autopilot.disable("automation", why=why)
            result = controller.rollback(reason=f"run: {why}", who="automation")
            print(f"run: {why}; " + ("canary rolled back" if result.ok else f"the rollback FAILED: {result.message}"),
                  file=out, flush=True)
            return ROLLED_BACK if result.ok else ROLLBACK_FAILED
