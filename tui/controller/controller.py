"""The polling controller: reads the split and the metrics, evaluates, keeps history, owns every action.

It is synchronous and thread-safe, usable headless (CLI verbs, the CI gate) or
from the app's workers. Polls never overlap; actions are serialized; every
change is recorded as an event with who, when, from, to and why.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable

from tui.analysis.criteria import stale_checks
from tui.backends.base import BackendError, MetricSource, NoCanaryRoute, TrafficRouter
from tui.clock import Clock, RealClock, utc
from tui.config import Config
from tui.config.keys import key_hint
from tui.controller.evaluation import Evaluator, PointEvaluator
from tui.controller.history import History
from tui.controller.progression import AUTOMATION, Autopilot
from tui.controller.state import ActionResult, ConsoleState
from tui.controller.workload import CanaryWorkload
from tui.durations import format_duration
from tui.formatting import hhmmss, route_weights
from tui.identity import whoami
from tui.model import (
    FAULTS,
    Event,
    MetricsSnapshot,
    Result,
    TrafficSplit,
    Verdict,
    WeightChange,
    WeightError,
    validate_weight,
)

EventListener = Callable[[Event], None]
MAX_REPLICAS = 1000  # a typo guard: `scale 20` meant, `scale 200` typed


def _driven_weights(split: TrafficSplit) -> tuple[int | None, ...]:
    return tuple(r.canary_weight for r in split.driven_routes)


def _replicas(n: int) -> str:
    return f"{n} replica" if n == 1 else f"{n} replicas"


def _describe_error(exc: Exception) -> str:
    # Backend errors are written for operators; anything else is a bug worth naming.
    return str(exc) if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"


@dataclass
class _Latest:
    split: TrafficSplit | None = None
    snapshot: MetricsSnapshot | None = None
    verdict: Verdict | None = None
    last_success: datetime | None = None
    split_read_at: datetime | None = None  # when the weights were last read (or written)
    split_failed: bool = False  # the latest read of the weights failed
    error: str | None = None
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=500))
    weights_moved_at: datetime | None = None
    canary_pods: tuple[int, int] | None = None  # (replicas, ready) while only opt-in routes reach it


class RolloutController:
    def __init__(
        self,
        config: Config,
        router: TrafficRouter,
        metrics: MetricSource,
        clock: Clock | None = None,
        evaluator: Evaluator | None = None,
        who: str | None = None,
        read_only: bool = False,
        history_capacity: int = 600,
    ) -> None:
        self.config = config
        self.router = router
        self.metrics = metrics
        self.clock = clock or RealClock()
        self.evaluator = evaluator or PointEvaluator(config.criteria)
        self.who = who or whoami()
        self.read_only = read_only
        self._forced_read_only = read_only  # --read-only stays read-only whatever the lease says
        self.read_only_reason = "--read-only" if read_only else ""
        self.history = History(history_capacity)
        self.workload = CanaryWorkload(lambda: self.router, self._command_hint)
        self._latest = _Latest()
        self._poll_lock = threading.Lock()
        self._action_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._listeners: list[EventListener] = []
        self._poll_listeners: list[Callable[[ConsoleState], None]] = []
        self.closers: list[Callable[[], None]] = []  # run on close (flush a notifier, save the history)
        self.fault_switch: Callable[[str], None] | None = None  # set by the demo
        self._uncertain: WeightChange | None = None  # a write whose answer timed out: landed or not
        self._failing_since: float | None = None  # clock time of the first of the polls failing now
        self._failed_polls = 0
        self._alarm: str | None = None  # the alarm announced and not yet over
        self._alarm_role = "canary"  # the version it is about
        self._route_gone_noted = False  # the loss of the canary's route was said
        self._lease_unreadable = False  # read-only because the driver lease could not be read
        self.fault: str | None = None
        self.autopilot = Autopilot(self, config.rollout)

    # --- events --------------------------------------------------------

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def subscribe_polls(self, listener: Callable[[ConsoleState], None]) -> None:
        """Called with the state after every poll (the recorded history, its persistence)."""
        self._poll_listeners.append(listener)

    def record(self, kind: str, message: str, **fields: object) -> Event:
        event = Event(at=utc(self.clock), kind=kind, message=message, **fields)  # type: ignore[arg-type]
        with self._state_lock:
            self._latest.events.append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # a broken sink (audit, webhook) must not stop the controller
                with self._state_lock:
                    self._latest.events.append(
                        Event(at=utc(self.clock), kind="error", message=f"event sink failed: {exc}", ok=False)
                    )
        return event

    # --- polling -------------------------------------------------------

    def backfill(self) -> int:
        """Fill the charts from the metric source's past, so they are full from the first frame."""
        seconds = float(self.config.metrics.get("backfill") or 0)
        if seconds <= 0:
            return 0
        if self._latest.split is None:
            # The weights first: the points are charted at them, and a simulation replays its
            # past at the weights the router holds (a rehearsal on a real VirtualService).
            try:
                self.current_split()
            except BackendError:
                pass  # the first poll shows why
        try:
            snaps = self.metrics.backfill(seconds, self.config.interval_s)
        except BackendError as exc:
            self.record("error", f"backfill failed: {exc}", ok=False)
            return 0
        split = self._latest.split
        weight = split.canary_weight if split else None
        for snap in snaps:
            self.history.add(snap, weight)
        return len(snaps)

    def poll_once(self) -> ConsoleState | None:
        """One cycle: read the split, read the metrics, evaluate. None if a poll is already running."""
        if not self._poll_lock.acquire(blocking=False):
            return None
        try:
            self._poll()
            state = self.state()
        finally:
            self._poll_lock.release()
        for listener in list(self._poll_listeners):
            try:
                listener(state)
            except Exception as exc:
                self.record("error", f"poll listener failed: {exc}", ok=False)
        return state

    def _poll(self) -> None:
        errors: list[str] = []
        said_now = False  # this poll's failure was just said as a change made outside
        # Under the action lock: a read taken between a write's own read and its write would come
        # back older than the write and look like a change made outside this console.
        with self._action_lock:
            try:
                split = self.router.read()
            except NoCanaryRoute as exc:
                split = None
                message, said_now = self._route_gone(exc)
                errors.append(f"router: {message}")
            except Exception as exc:  # a failed poll is shown, never fatal
                split = None
                errors.append(f"router: {_describe_error(exc)}")
            if split is None:
                with self._state_lock:
                    self._latest.split_failed = True
            else:
                self._route_gone_noted = False
                self._take_split(split)
                self._watch_opt_in_pods(split)
                if self.read_only:
                    self.autopilot.follow_store()  # show the driver's automation (from this same read)
        try:
            snap = self.metrics.poll()
        except Exception as exc:
            snap = None
            errors.append(f"metrics: {_describe_error(exc)}")
        if snap is not None and snap.error:
            errors.append(f"metrics: {snap.error}")
            snap = None
        with self._state_lock:
            latest = self._latest
            weight = latest.split.canary_weight if latest.split else None
            if snap is not None:
                latest.snapshot = snap
                latest.last_success = snap.at
                self.history.add(snap, weight)
                # The judge takes the counts in any case (its evidence would have a gap otherwise),
                # but a poll that failed in part decides nothing: with the weights unread, the
                # checks are no data (a failed check stays failed for the next good poll).
                verdict = self.evaluator.observe(snap, weight)
            if errors:
                verdict = self._nodata_verdict("; ".join(errors))
            previous = latest.verdict
            latest.verdict = verdict
            was_error, latest.error = latest.error, "; ".join(errors) or None
        now = self.clock.time()
        if latest.error and not was_error:
            self._failing_since, self._failed_polls = now, 1
            if not (said_now and len(errors) == 1):  # else the same words twice in a row
                self.record("error", f"poll failed: {latest.error}", ok=False)
        elif latest.error:
            self._failed_polls += 1
        elif was_error:
            # How long the screen was stale, for the incident's timeline.
            down = "" if self._failing_since is None else (
                f" after {format_duration(now - self._failing_since)} "
                f"({self._failed_polls} poll{'s' if self._failed_polls != 1 else ''} failed)")
            self._failing_since = None
            self.record("info", f"poll recovered{down}")
        if verdict.result is Result.FAIL and (previous is None or previous.result is not Result.FAIL):
            failing = [c for c in verdict.checks if c.result is Result.FAIL]
            self.record("check", "check failed: " + "; ".join(f"{c.name}: {c.reason}" for c in failing), ok=False)
        self._note_alarm(verdict, snap)
        if not self.read_only:
            has_data = snap is not None and not errors and bool(snap.canary.value("requests_per_second"))
            self.autopilot.on_verdict(verdict, has_data=has_data)

    def _route_gone(self, exc: NoCanaryRoute) -> tuple[str, bool]:
        """The router's object routes nothing to the canary. Before any good read that is the
        config's mistake (its message says so); after one, someone changed it, e.g. the guide's
        hand rollback (`kubectl patch --type merge` on spec.http replaces every route): a change
        made outside, said once, and automation holds rather than write to a route that is not
        there. The screen keeps the weights last read, marked stale, until the route is back.
        Returns the words, and whether they were just said as that change (the first time)."""
        with self._state_lock:
            known, read_at = self._latest.split, self._latest.split_read_at
        if known is None:
            return str(exc), False
        message = (f"{exc.where} no longer routes to the canary {exc.canary} (it did at {hhmmss(read_at)}): "
                   "changed outside this console (kubectl, GitOps or another tool?)")
        if exc.routes_now:
            message += f"; its routes now: {exc.routes_now}"
        if not self._route_gone_noted:
            self._route_gone_noted = True
            # In effect the canary now gets nothing: a weight change to 0 for the report's timeline
            # and stages (the screen keeps the weights last read, marked as such).
            self.record("outside", message, who="unknown", from_canary=known.canary_weight, to_canary=0)
            if not self.read_only:
                self.autopilot.hold("no route to the canary any more: changed outside this console")
            return message, True
        return message, False

    def _note_alarm(self, verdict: Verdict, snap: MetricsSnapshot | None) -> None:
        """An alarm (a routed version serving nothing) goes in the event log, the timeline and the
        webhook once when it begins, and once when that version serves again: not merely when a
        weight change starts the judge afresh, nor when a poll fails."""
        if verdict.alarm and not self._alarm:
            self._alarm, self._alarm_role = verdict.alarm, verdict.silent or "canary"
            self.record("alarm", verdict.alarm, ok=False)
        elif self._alarm and not verdict.alarm and snap is not None:
            role = self._alarm_role
            sample = snap.of(role)
            if (sample.value("requests") or 0) > 0 or (sample.value("requests_per_second") or 0) > 0:
                self._alarm = None
                # An alarm too (ok): the timeline and whoever the webhook paged learn when it ended.
                self.record("alarm", f"{'stable' if role == 'stable' else 'the canary'} serves again")

    def _own_write_landed(self, split: TrafficSplit) -> bool:
        """The weights moved and the note with them is the one this console sent in a write whose
        answer never came (a timeout: "may or may not have been applied"): it went through. Take
        it as this console's own change, not someone else's (which held automation at its own
        rollback), and finish what that write started."""
        change, note = self._uncertain, split.last_change
        if change is None or note is None or note.as_dict() != change.as_dict():
            return False
        self._uncertain = None
        with self._state_lock:
            self._latest.weights_moved_at = change.at
        self.evaluator.reset()
        self.record(change.action, f"canary {change.from_canary}% -> {change.to_canary}% (went through; its "
                    "answer had timed out)", who=change.who, from_canary=change.from_canary,
                    to_canary=change.to_canary, reason=change.reason)
        if change.action == "rollback":
            self._scale_down_after_rollback(change.who, change.reason)
        if change.who == AUTOMATION:
            self.autopilot.on_own_write_landed(change)
        return True

    def _changed_outside(self, before: TrafficSplit, after: TrafficSplit) -> None:
        """The weights moved and this console did not move them: say so, judge the new weights
        afresh, and hold automation there (the console never fights a change it did not make)."""
        was = {r.label: r.canary_weight for r in before.driven_routes}
        moved = [(r.label, was.get(r.label), r.canary_weight) for r in after.driven_routes
                 if was.get(r.label) != r.canary_weight]
        frm, to = (moved[0][1], moved[0][2]) if moved else (before.canary_weight, after.canary_weight)
        if len(after.driven_routes) > 1 and moved and len(moved) < len(after.driven_routes):
            # Some routes only (a write with --route): name them, the first route may not have moved.
            what = "; ".join(f"route {label}: canary {a}% -> {b}%" for label, a, b in moved)
        else:
            what = f"canary {frm}% -> {to}%"
        note = after.last_change
        if note is not None and note != before.last_change and note.to_canary == to:  # the note says this move
            who, why = note.who or "unknown", note.reason
            by = f"by {who} ({note.action})"
        else:
            # Weights without a new change note: kubectl, GitOps, Flagger or any other tool.
            who, why = "unknown", ""
            by = "with no change note (kubectl, GitOps or another tool?)"
        self.evaluator.reset()
        with self._state_lock:
            self._latest.weights_moved_at = utc(self.clock)  # seen now; it happened since the last read
        self.record("outside", f"weights changed outside this console: {what} {by}",
                    who=who, from_canary=frm, to_canary=to, reason=why)
        if not self.read_only and to is not None:
            self.autopilot.on_manual_change(who if who != "unknown" else "someone outside this console", to)

    def _nodata_verdict(self, why: str) -> Verdict:
        previous = self._latest.verdict
        checks = stale_checks(previous.checks if previous else (), why or "no data")
        stale = Verdict.combine(checks, at=utc(self.clock))
        return replace(stale, since=previous.since) if previous else stale

    @property
    def latest_split(self) -> TrafficSplit | None:
        """The split as last read or written (no request)."""
        with self._state_lock:
            return self._latest.split

    def state(self) -> ConsoleState:
        with self._state_lock:
            latest = self._latest
            return ConsoleState(
                name=self.config.name,
                split=latest.split,
                snapshot=latest.snapshot,
                verdict=latest.verdict,
                history=self.history.points(),
                events=tuple(latest.events),
                now=utc(self.clock),
                last_success=latest.last_success,
                split_read_at=latest.split_read_at,
                split_failed=latest.split_failed,
                error=latest.error,
                read_only=self.read_only,
                read_only_reason=self.read_only_reason,
                router=self.router.describe(),
                metrics=self.metrics.describe(),
                interval_s=self.config.interval_s,
                mode=self._mode(),
                automation=self._automation_text(),
                fault=self.fault,
                steps=self.config.rollout.steps,
                promote=self.config.rollout.promote,
                weights_moved_at=latest.weights_moved_at,
                simulated=self._simulated(),
                canary_pods=latest.canary_pods,
            )

    def key_for(self, action: str) -> str:
        """The key bound to `action` in the console, for hints in messages ("set one weight first (w)")."""
        return key_hint(self.config.keys, action)

    def _command_hint(self, command: str) -> str:
        """":scale N" as typed in the console, with the command key as bound."""
        key = self.key_for("command")
        return f"{key}{command}" if len(key) == 1 else f"{key} then {command}"

    def _simulated(self) -> str:
        router, metrics = (bool(getattr(b, "simulated", False)) for b in (self.router, self.metrics))
        return "DEMO" if router and metrics else "SIMULATED METRICS" if metrics else \
            "SIMULATED WEIGHTS" if router else ""

    def set_driver(self, driving: bool, reason: str, holder_known: bool = True) -> None:
        """Called by the driver lease: a console that does not hold the lease only watches.
        `holder_known`: False when the lease could not be read (then nobody may be driving)."""
        if self._forced_read_only:
            return
        took_over = driving and self.read_only and bool(self.read_only_reason)
        self.read_only = not driving
        self.read_only_reason = reason
        self._lease_unreadable = not driving and not holder_known
        if took_over:
            # The driver quit or died: carry on its automation from where it stored it, not from
            # what this console saw when it started watching (that stale step walked 15% back to 10%).
            self.autopilot.resume_from_store()

    def _automation_text(self) -> str:
        text = self.autopilot.describe()
        if text and self.read_only and self.autopilot.progress.enabled:
            if self._lease_unreadable:
                # Not "driver: ... → 10% in 3m": nobody may be driving, and nothing moves until a
                # console holds the lease again (this one takes it back when it can).
                return "automation paused: the lease cannot be read, so no console may drive"
            return f"driver: {text}"  # another console's automation, as it stored it
        return text

    def _mode(self) -> str:
        if self.read_only:
            return "READ-ONLY"
        p = self.autopilot.progress
        if p.enabled:
            return "AUTO HELD" if p.held else "AUTO"
        return "MANUAL"

    # --- actions -------------------------------------------------------

    def toggle_auto(self, who: str | None = None, reason: str = "key a") -> ActionResult:
        """`a`: start automatic progression, stop it, or resume it after a manual hold."""
        with self._action_lock:  # "a a": the second press toggles what the first one did
            p = self.autopilot.progress
            return self.set_automation(not p.enabled or p.held, who, reason)

    def set_automation(self, on: bool, who: str | None = None, reason: str = "command :auto") -> ActionResult:
        """`:auto on|off`: the asked state, whatever the current one (a toggle could go the wrong way)."""
        with self._action_lock:  # two at once: each sees what the other did
            who = who or self.who
            if self.read_only:
                return self._refused("auto", "read-only: automation is disabled", None, None, reason, who)
            p = self.autopilot.progress
            if on and (not p.enabled or p.held):
                # Its first move would send the canary traffic: say why not now, rather than start and halt.
                no_traffic = self.workload.cannot_serve()
                if no_traffic:
                    return self._refused("auto", no_traffic[0], None, None, reason, who)
                if silent := self._canary_silent_now():
                    return self._refused("auto", f"{silent}: its steps would send it more", None, None, reason, who)
                try:
                    split = self.current_split()
                except BackendError as exc:
                    return self._refused("auto", f"cannot read the split: {exc}", None, None, reason, who)
                diverged = split.diverged
                if split.canary_weight == 100:
                    # Promoted: no step is left to walk, and its "last step" would be a weight below 100.
                    return self._refused("auto", "the canary already takes 100% (promoted): nothing to progress"
                                         + ("; :auto off ends automation" if p.enabled else ""),
                                         None, None, reason, who)
                if diverged:
                    # Its steps set every driven route at once: a route behind the others would jump.
                    return self._refused("auto", f"the driven routes differ ({route_weights(diverged)}): set one "
                                         f"weight for all first ({self.key_for('weight')})", None, None, reason, who)
            try:
                if on and p.enabled and p.held:
                    message = self.autopilot.resume(who)
                elif on and not p.enabled:
                    message = self.autopilot.enable(who)
                elif not on and p.enabled:
                    message = self.autopilot.disable(who)
                else:
                    return ActionResult(True, f"automatic progression is already {'on' if on else 'off'}")
            except BackendError as exc:
                return self._refused("auto", str(exc), None, None, reason, who)
            return ActionResult(True, message)

    def resume_automation(self) -> bool:
        """At start: continue a progression a previous console (or run) left enabled; a console
        that only watches shows it (the driver carries it on)."""
        if self.read_only:
            self.autopilot.follow_store()
            return False
        return self.autopilot.resume_from_store()

    def current_split(self) -> TrafficSplit:
        with self._action_lock:  # see _poll
            try:
                split = self.router.read()
            except NoCanaryRoute as exc:
                raise BackendError(self._route_gone(exc)[0]) from None  # a write says the same as the poll
            self._take_split(split)
        return split

    def _take_split(self, split: TrafficSplit) -> None:
        """A split just read (the caller holds the action lock): the latest, and if its weights
        are not the ones this console last saw, a change made outside it."""
        with self._state_lock:
            before = self._latest.split
            self._latest.split = split
            self._latest.split_read_at = utc(self.clock)
            self._latest.split_failed = False
        if before is not None and _driven_weights(split) != _driven_weights(before):
            if not self._own_write_landed(split):
                self._changed_outside(before, split)

    def set_weight(self, canary: int, reason: str, route: str | None = None, force: bool = False,
                   action: str = "set-weight", who: str | None = None,
                   before: TrafficSplit | None = None, confirmed_from: int | None = None,
                   promotion_ok: bool = True) -> ActionResult:
        """Set the canary weight (stable gets the rest) on the driven routes, or on `route`.

        `before`: a split the caller has just read (a step), to save a second read.
        `confirmed_from`: the weight a person saw when confirming this change; moved since, it is
        refused (they agreed to "5% -> 10%", not to "50% -> 55%").
        `promotion_ok`: False refuses a change that would give the canary 100% (a promotion) unless
        it is one (`action` "promote"): a held `+` key repeats ~30 times a second, and the screen's
        weight lags behind the writes, so only the write itself can tell it reaches 100%.
        """
        try:
            validate_weight(canary)
        except WeightError as exc:
            return self._refused(action, str(exc), None, canary, reason, who)
        if self.read_only:
            return self._refused(action, "read-only: writes are disabled", None, canary, reason, who)
        with self._action_lock:
            try:
                before = before or self.current_split()
            except BackendError as exc:
                return self._refused(action, f"cannot read the split: {exc}", None, canary, reason, who,
                                     transient=exc.transient)
            if who == AUTOMATION and action in ("auto-step", "promote") and self.autopilot.progress.held:
                # The read just now found a change made outside: automation holds at it and does
                # not write over it (a rollback still goes: it is the safe direction).
                return ActionResult(False, f"automation held: {self.autopilot.progress.held}", before)
            route_obj = before.route(route) if route else None
            frm = route_obj.canary_weight if route_obj else before.canary_weight
            if confirmed_from is not None and frm != confirmed_from:
                return self._moved_since_confirmed(action, frm, confirmed_from, canary, reason, who)
            if not promotion_ok and action != "promote" and canary == 100 and frm is not None and frm < 100:
                return self._refused(action, f"{frm}% -> 100% sends every request to the canary: that is a "
                                     f"promotion, and {self.key_for('promote')} asks first", frm, canary, reason, who)
            # More traffic to the canary on any route written: less is the safe way, never refused.
            targets = [route_obj] if route_obj else list(before.driven_routes)
            grows = any(canary > r.canary_weight for r in targets) if targets else canary > 0
            no_traffic = self.workload.cannot_serve() if grows and not force else None
            if no_traffic:
                return self._refused(action, no_traffic[0], frm, canary, reason, who, transient=no_traffic[1])
            silent = self._canary_silent_now() if grows and not force else None
            if silent:
                # Its routed share serves nothing: more of it would fail too. Less is the safe way.
                return self._refused(action, f"{silent}: more traffic to it would fail too", frm, canary, reason, who)
            change = WeightChange(who=who or self.who, at=utc(self.clock), from_canary=frm,
                                  to_canary=canary, reason=reason, action=action)
            try:
                after = self.router.set_canary_weight(canary, change, route=route, force=force)
            except BackendError as exc:
                if exc.transient:
                    self._uncertain = change  # it may have landed all the same: a later read tells
                return self._refused(action, str(exc), frm, canary, reason, who, transient=exc.transient)
            self._uncertain = None
            with self._state_lock:
                decided_on = self._latest.verdict
                self._latest.split = after
                self._latest.split_read_at, self._latest.split_failed = utc(self.clock), False
                self._latest.weights_moved_at = change.at
                if self._latest.verdict is not None:
                    # The verdict on screen was reached at the old weight: until the next poll
                    # judges the new one, show none ("canary 10% | verdict PASS" was the 5%'s).
                    fresh = self._nodata_verdict(f"canary now {canary}%: judged afresh from the next poll")
                    self._latest.verdict = replace(fresh, since=change.at)
            self.evaluator.reset()
            if route is None and before.diverged:
                # Each route from its own weight: "10% -> 15%" would hide that another went 5 -> 15.
                message = "canary " + ", ".join(f"{label} {w}% -> {canary}%" for label, w in before.diverged)
            else:
                message = f"canary {frm}% -> {canary}%" + (f" on route {route}" if route else "")
            self.record(action, message, who=change.who, from_canary=frm, to_canary=canary, reason=reason,
                        verdict=decided_on)
            if change.who != AUTOMATION:
                # The console never fights its operator: a person's change holds (or ends) automation.
                if action in ("promote", "rollback"):
                    self.autopilot.ended_by_person(action, change.who)
                else:
                    self.autopilot.on_manual_change(change.who, canary)
            left = getattr(self.router, "left_as_is", None)
            return ActionResult(True, message, after, left(after, route) if left else ())

    def step(self, direction: int, reason: str, route: str | None = None, force: bool = False,
             who: str | None = None, confirmed_from: int | None = None, promotion_ok: bool = True) -> ActionResult:
        """Move the canary weight one stepWeight up (+1) or down (-1), clamped to 0-100.
        `confirmed_from`, `promotion_ok`: as for set_weight."""
        with self._action_lock:  # "+ +": the second steps on from the first (both read 5% and wrote 10%)
            try:
                split = self.current_split()
            except BackendError as exc:
                return self._refused("step", f"cannot read the split: {exc}", None, None, reason, who)
            current = split.canary_weight
            if current is None:
                return self._refused("step", "no driven route carries both stable and canary", None, None, reason, who)
            if route is None and split.diverged:
                return self._refused("step", f"the driven routes differ ({route_weights(split.diverged)}): one step "
                                     "would move them by different amounts; set one weight for all first "
                                     f"({self.key_for('weight')})",
                                     current, None, reason, who)
            delta = direction * self.config.rollout.step_weight
            if confirmed_from is not None and current != confirmed_from:
                return self._moved_since_confirmed("step", current, confirmed_from,
                                                   min(100, max(0, confirmed_from + delta)), reason, who)
            target = min(100, max(0, current + delta))
            if target == current:
                return ActionResult(False, f"canary already at {current}%", split)
            # `before` is the very read checked against `confirmed_from` above: nothing to check twice.
            return self.set_weight(target, reason, route=route, force=force, action="step", who=who, before=split,
                                   promotion_ok=promotion_ok)

    def _moved_since_confirmed(self, action: str, now: int | None, confirmed_from: int, confirmed_to: int,
                               reason: str, who: str | None) -> ActionResult:
        return self._refused(action, f"the canary weight moved to {now}% while you confirmed {confirmed_from}% -> "
                             f"{confirmed_to}%: nothing sent, look again", now, confirmed_to, reason, who)

    def promote(self, reason: str, force: bool = False, who: str | None = None,
                confirmed_from: int | None = None) -> ActionResult:
        return self.set_weight(100, reason, force=force, action="promote", who=who, confirmed_from=confirmed_from)

    def rollback(self, reason: str, force: bool = False, who: str | None = None) -> ActionResult:
        """Canary 0 on every driven route, then the canary scaled to 0 replicas."""
        with self._action_lock:
            result = self.set_weight(0, reason, force=force, action="rollback", who=who)
            if not result.ok:
                return result
            failed = self._scale_down_after_rollback(who or self.who, reason)
            if failed is not None:
                return replace(result, ok=False, message=failed[0], transient=failed[1])
            return result

    def _scale_down_after_rollback(self, who: str, reason: str) -> tuple[str, bool] | None:
        """The rollback's second half: the canary to 0 replicas. None when done, else (what went
        wrong, whether it may pass); traffic is already off the canary, and the message says so."""
        try:
            self.router.scale_canary(0)
        except BackendError as exc:
            msg = f"traffic moved to stable, but scaling the canary to 0 failed: {exc}"
            self.record("error", msg, who=who, reason=reason, ok=False)
            return msg, exc.transient
        self.record("rollback", "canary scaled to 0 replicas", who=who, reason=reason)
        with self._state_lock:
            split = self._latest.split
        if split is not None and split.opt_in_canary_routes:
            self._watch_opt_in_pods(split)  # on screen now, not from the next poll
            # Said as an alarm (the webhook and the report's timeline carry it), not silently kept.
            self.record("alarm", self.workload.opt_in_routes_fail(split.opt_in_canary_routes),
                        who=who, reason=reason, ok=False)
        return None

    def _watch_opt_in_pods(self, split: TrafficSplit) -> None:
        """The canary's pods while only routes this console does not drive reach it, for the screen;
        and the end of the alarm a rollback raised, once one of them is ready again."""
        pods = self.workload.pods_for_opt_in_routes(split)
        with self._state_lock:
            before, self._latest.canary_pods = self._latest.canary_pods, pods
        if before is not None and before[1] == 0 and pods is not None and pods[1] > 0:
            self.record("alarm", self.workload.opt_in_routes_served(split.opt_in_canary_routes, pods))

    def _canary_silent_now(self) -> str | None:
        """The judge's alarm when the latest verdict found the routed canary serving nothing."""
        with self._state_lock:
            verdict = self._latest.verdict
        return verdict.alarm if verdict is not None and verdict.silent == "canary" else None

    def scale_canary(self, replicas: int, reason: str, who: str | None = None) -> ActionResult:
        """Scale the canary workload: back up after a rollback, before it takes traffic again.

        Scaling to 0 is refused while the canary still takes traffic: that is a rollback (`r`).
        """
        who = who or self.who
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= MAX_REPLICAS:
            return self._refused("scale", f"replicas must be a whole number from 0 to {MAX_REPLICAS}, "
                                 f"got {replicas!r}", None, None, reason, who)
        if self.read_only:
            return self._refused("scale", "read-only: writes are disabled", None, None, reason, who)
        read = getattr(self.router, "canary_replicas", None)
        with self._action_lock:
            try:
                split = self.current_split()
                before = read() if read else None
            except BackendError as exc:
                return self._refused("scale", f"cannot read the rollout: {exc}", None, None, reason, who)
            if read is None or before is None:
                return self._refused("scale", "no canary workload to scale (set canary.deployment)",
                                     None, None, reason, who)
            if split.owner:
                # Flagger, Argo Rollouts and GitOps controllers set the canary's replicas themselves.
                return self._refused("scale", f"owned by {split.owner}, which manages the canary's replicas: "
                                     "scale through it", None, None, reason, who)
            weight = split.canary_weight or 0
            if replicas == 0 and weight > 0:
                return self._refused("scale", f"the canary still takes {weight}% of the traffic: a rollback "
                                     "moves it to stable first, then scales the canary to 0", None, None,
                                     reason, who)
            if replicas == before:
                return ActionResult(True, f"the canary is already at {_replicas(replicas)}", split)
            try:
                self.router.scale_canary(replicas)
            except BackendError as exc:
                return self._refused("scale", str(exc), None, None, reason, who)
        message = f"canary scaled from {before} to {_replicas(replicas)}"
        self.record("scale", message, who=who, reason=reason)
        return ActionResult(True, message, split)

    def set_fault(self, fault: str) -> ActionResult:
        """Demo and lab only: switch the simulated canary fault."""
        if self.fault_switch is None:
            return ActionResult(False, "faults can only be switched in the demo")
        if self.read_only:
            return self._refused("fault", "read-only: writes are disabled", None, None, "key f", self.who)
        with self._action_lock:
            self.fault_switch(fault)
            self.fault = fault
            self.record("fault", f"injected fault: {fault}", who=self.who)
        return ActionResult(True, f"injected fault: {fault}")

    def cycle_fault(self) -> ActionResult:
        """`f`: the fault after the current one (none → errors → latency → down → none)."""
        with self._action_lock:  # two presses in a row: the second cycles on from the first
            current = self.fault if self.fault in FAULTS else "none"
            return self.set_fault(FAULTS[(FAULTS.index(current) + 1) % len(FAULTS)])

    def _refused(self, action: str, why: str, frm: int | None, to: int | None, reason: str,
                 who: str | None, transient: bool = False) -> ActionResult:
        self.record(action, f"{action} refused: {why}", who=who or self.who, from_canary=frm, to_canary=to,
                    reason=reason, ok=False)
        return ActionResult(False, why, transient=transient)

    def close(self) -> None:
        for closer in self.closers:
            try:
                closer()
            except Exception:
                pass
        for backend in (self.router, self.metrics):
            try:
                backend.close()
            except Exception:
                pass
