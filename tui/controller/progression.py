"""Automatic progression: walk rollout.steps with a bake time, advance only on a passing verdict.

The autopilot acts only through the controller's own actions (one rollback path),
never fights its operator (a manual change holds it), and keeps its state where a
restarted console can resume it (the router's progress store).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from tui.config import RolloutPolicy
from tui.durations import format_duration
from tui.model import Result, Verdict

if TYPE_CHECKING:
    from tui.controller.controller import RolloutController

AUTOMATION = "automation"
RETRY_EVERY_S = 10.0  # automation's retries of a write that failed in a way that may pass


@dataclass(frozen=True)
class Progress:
    """What a restarted console needs to resume; stored as JSON by the router."""

    enabled: bool = False
    step: int = 0  # index into rollout.steps of the weight now baking
    since: float = 0.0  # epoch seconds the current step started baking
    held: str = ""  # why automation is held (a manual change), empty when not
    finished: str = ""  # promoted | rolled back | halted: ... | waiting for promotion
    no_data_since: float | None = None
    retrying_since: float | None = None  # its last write failed in a way that may pass: trying again

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Progress":
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except TypeError:
            return cls()


def step_index_for(steps: tuple[int, ...], weight: int | None) -> int:
    """The last step at or below `weight` (0 when below the first)."""
    index = 0
    for i, w in enumerate(steps):
        if weight is not None and w <= weight:
            index = i
    return index


class Autopilot:
    def __init__(self, controller: "RolloutController", policy: RolloutPolicy) -> None:
        self.controller = controller
        self.policy = policy
        self.progress = Progress()
        self._last_attempt = float("-inf")  # clock time of automation's last write attempt
        self._rollback_outcome = "rolled back"  # what a rollback being retried ends as

    # --- state ---------------------------------------------------------

    def _save(self, progress: Progress) -> None:
        self.progress = progress
        store = getattr(self.controller.router, "save_progress", None)
        if store is not None:
            try:
                store(progress.as_dict())
            except Exception as exc:  # losing the resume point must be visible, not fatal
                self.controller.record("error", f"could not store progression state: {exc}", ok=False)

    def follow_store(self) -> None:
        """A watching console mirrors the driver's stored state (no request: the router keeps the
        object it last read), so its header shows the driver's automation, and a takeover starts
        from the present, not from when this console began watching. Never acts, never records."""
        load = getattr(self.controller.router, "load_progress", None)
        if load is None:
            return
        try:
            self.progress = self._within_steps(Progress.from_dict(load()))
        except Exception:  # unreadable: the driver's own console says so; keep what was seen
            pass

    def resume_from_store(self) -> bool:
        """Pick up where a previous console left off; True if automation was on."""
        load = getattr(self.controller.router, "load_progress", None)
        if load is None:
            return False
        try:
            progress = self._within_steps(Progress.from_dict(load()))
        except Exception as exc:
            self.controller.record("error", f"could not read progression state: {exc}", ok=False)
            return False
        self.progress = progress
        if progress.enabled:
            progress = self._reconciled(progress)
            self.controller.record("auto", f"resumed automatic progression at step {progress.step + 1}"
                                   f"/{len(self.policy.steps)} ({self.policy.steps[progress.step]}%)",
                                   who=AUTOMATION)
        return progress.enabled

    def _within_steps(self, progress: Progress) -> Progress:
        """A state stored under a config with more steps names a step that is no longer there."""
        last = len(self.policy.steps) - 1
        return replace(progress, step=last) if not 0 <= progress.step <= last else progress

    def _reconciled(self, progress: Progress) -> Progress:
        """The stored step, checked against the weights: a store that failed (its PATCH timed out)
        or a config whose steps changed leaves a step the weights are not at, and walking on from
        it would move them backwards (stored 5% at 15%: the next "step" is 10%). Resume at the
        step the weights are at, baking afresh."""
        steps = self.policy.steps
        split = self.controller.latest_split
        if split is None:
            try:
                split = self.controller.current_split()
            except Exception:  # unreadable now: the next poll says so; nothing to check against
                split = None
        weight = split.canary_weight if split is not None else None
        if progress.held or weight is None or steps[progress.step] == weight:
            return progress
        step = step_index_for(steps, weight)
        was = f"step {progress.step + 1} ({steps[progress.step]}%)"
        self._save(replace(progress, step=step, since=self.controller.clock.time(), retrying_since=None))
        self.controller.record("auto", f"the stored {was} is not where the weights are ({weight}%): "
                               f"resuming at step {step + 1} ({steps[step]}%), baking afresh", who=AUTOMATION)
        return self.progress

    # --- operator controls ---------------------------------------------

    def enable(self, who: str) -> str:
        now = self.controller.clock.time()
        weight = self.controller.current_split().canary_weight
        step = step_index_for(self.policy.steps, weight)
        self._save(Progress(enabled=True, step=step, since=now))
        message = f"automatic progression on from {weight}% (step {step + 1}/{len(self.policy.steps)})"
        self.controller.record("auto", message, who=who)
        if weight is None or weight < self.policy.steps[0]:
            self._advance_to(0, "automation started below the first step")
        return message

    def disable(self, who: str, why: str = "turned off") -> str:
        self._save(replace(self.progress, enabled=False, held="", retrying_since=None))
        message = f"automatic progression off ({why})"
        self.controller.record("auto", message, who=who)
        return message

    def ended_by_person(self, action: str, who: str) -> None:
        """A person promoted or rolled back: automation's run ends with what they did. The header's
        "last run" must not go on saying "waiting for promotion" over a promoted canary."""
        p = self.progress
        if not p.enabled and p.finished != "waiting for promotion":
            return  # off, and its last words are still true (a rollback, a halt)
        outcome = f"{'promoted' if action == 'promote' else 'rolled back'} by {who}"
        self._save(replace(p, enabled=False, held="", retrying_since=None, finished=outcome))
        self.controller.record("auto", f"automatic progression ended: {outcome}", who=who)

    def resume(self, who: str) -> str:
        weight = self.controller.current_split().canary_weight
        step = step_index_for(self.policy.steps, weight)
        self._save(replace(self.progress, held="", step=step, since=self.controller.clock.time(),
                           no_data_since=None, retrying_since=None))
        message = f"automatic progression resumed at {weight}%"
        self.controller.record("auto", message, who=who)
        return message

    def on_manual_change(self, who: str, to: int) -> None:
        """A person moved the weight: hold at that weight until a person resumes."""
        self.hold(f"manual change to {to}% by {who}", f"automation held at {to}%: manual change by {who}")

    def hold(self, why: str, said: str = "") -> None:
        """Hold where the rollout is until a person resumes: the console never fights a change it
        did not make. `why` goes in the header ("HELD: ..."), `said` (or why) in the event log."""
        if self.progress.enabled and not self.progress.held:
            self._save(replace(self.progress, held=why))
            resume = f"press {self.controller.key_for('auto')} to resume"
            self.controller.record("auto", f"{said or 'automation held: ' + why} ({resume})", who=AUTOMATION)

    # --- the decision, once per poll ---------------------------------------

    def on_verdict(self, verdict: Verdict, has_data: bool) -> None:
        """`has_data`: the poll worked and the canary served traffic. A judge still gathering
        evidence is not "no data": only a dead source or a canary without traffic starts the
        no-data timer."""
        p = self.progress
        if not p.enabled or p.held:
            return
        now = self.controller.clock.time()
        if verdict.result is Result.FAIL:
            if self.policy.auto_rollback:
                failing = [c for c in verdict.checks if c.result is Result.FAIL]
                self._roll_back("; ".join(f"{c.name}: {c.reason}" for c in failing),
                                f"rolled back ({failing[0].name if failing else 'check failed'})")
            else:
                self._finish("halted: a check failed (autoRollback is off)")
            return
        if verdict.silent == "canary" and self.policy.auto_rollback:
            # Routed traffic and serving none while stable serves: its share of the requests is
            # failing, or it cannot be measured; either way it cannot pass, and stable can take it.
            self._roll_back(verdict.alarm or "the canary served nothing", "rolled back (the canary served nothing)")
            return
        if not has_data:
            since = p.no_data_since if p.no_data_since is not None else now
            if p.no_data_since is None:
                self._save(replace(p, no_data_since=now))
            if now - since > self.policy.no_data_timeout_s:
                why = f"no data for {format_duration(now - since)}"
                undecided = verdict.undecided_reason
                if undecided:  # which: a dead source, a canary without traffic, a crashed one
                    why += f" ({undecided})"
                if self.policy.rollback_on_no_data:
                    self.controller.rollback(reason=f"auto-rollback: {why}", who=AUTOMATION)
                self._finish(f"halted: {why}")
            return
        if p.no_data_since is not None:
            p = replace(p, no_data_since=None)
            self._save(p)
        if verdict.result is not Result.PASS:  # NODATA: still gathering evidence; WARN: stable breaches too
            return  # WARN: stable is unhealthy too; hold here, neither advance nor roll back
        if now - p.since < self.policy.bake_s:
            return
        last = len(self.policy.steps) - 1
        if p.step < last:
            self._advance_to(p.step + 1, f"step {p.step + 1} baked {format_duration(now - p.since)} "
                                         "with every check passing")
        elif self.policy.promote == "auto":
            if not self._may_write_now():
                return
            result = self.controller.promote(reason="auto-promote: last step baked with every check passing",
                                             who=AUTOMATION)
            if not result.ok and self._retrying("promotion", result):
                return
            if result.ok or not self.progress.held:
                self._finish("promoted" if result.ok else f"halted: promotion failed: {result.message}")
        elif p.finished != "waiting for promotion":
            self._save(replace(p, finished="waiting for promotion"))
            self.controller.record("auto", "last step baked, every check passing: waiting for a person "
                                   f"to promote ({self.controller.key_for('promote')})", who=AUTOMATION)

    def _roll_back(self, why: str, outcome: str) -> None:
        """Automation's one rollback path: as long as it takes (a blip never ends the attempts)."""
        if not self._may_write_now():
            return
        self._rollback_outcome = outcome
        result = self.controller.rollback(reason=f"auto-rollback: {why}", who=AUTOMATION)
        if not result.ok and self._retrying("rollback", result, forever=True):
            return
        self._finish(self._rollback_outcome if result.ok else f"halted: rollback failed: {result.message}")

    def _advance_to(self, step: int, why: str) -> None:
        target = self.policy.steps[step]
        if not self._may_write_now():
            return
        result = self.controller.set_weight(target, reason=f"auto: {why}", action="auto-step", who=AUTOMATION)
        if result.ok:
            self._save(replace(self.progress, step=step, since=self.controller.clock.time(), finished="",
                               retrying_since=None))
        elif self._retrying(f"the step to {target}%", result):
            return
        elif not self.progress.held:  # held: someone changed the weights just before; wait for a person
            self._finish(f"halted: could not set {target}%: {result.message}")

    def on_own_write_landed(self, change) -> None:
        """Automation's write whose answer timed out went through (the controller read it back):
        carry on from it as from any write that succeeded."""
        p = self.progress
        if not p.enabled:
            return
        if change.action == "auto-step":
            self._save(replace(p, step=step_index_for(self.policy.steps, change.to_canary),
                               since=change.at.timestamp(), retrying_since=None, finished=""))
        elif change.action == "promote":
            self._finish("promoted")
        elif change.action == "rollback":
            self._finish(self._rollback_outcome)

    def _may_write_now(self) -> bool:
        """While retrying a failed write, one attempt every RETRY_EVERY_S (each attempt that fails
        is an event and an audit line); otherwise at once."""
        now = self.controller.clock.time()
        if self.progress.retrying_since is not None and now - self._last_attempt < RETRY_EVERY_S:
            return False
        self._last_attempt = now
        return True

    def _retrying(self, what: str, result, forever: bool = False) -> bool:
        """A write that failed in a way that may pass (the API timed out, a 5xx, a concurrent edit):
        True while automation tries again, for up to rollout.noDataTimeout (`forever`: for as long
        as it takes). Before, one blip at a step halted automation, and `run` then rolled back a
        healthy canary."""
        if not getattr(result, "transient", False) or self.progress.held:
            return False
        now = self.controller.clock.time()
        p = self.progress
        limit = None if forever else self.policy.no_data_timeout_s
        since = p.retrying_since if p.retrying_since is not None else now
        if limit is not None and now - since > limit:
            return False
        if p.retrying_since is None:
            self._save(replace(p, retrying_since=now))
            how_long = f"for up to {format_duration(limit)}" if limit is not None else "until it goes through"
            self.controller.record("auto", f"{what} failed: {result.message}; trying again every "
                                   f"{RETRY_EVERY_S:g} s {how_long}", who=AUTOMATION, ok=False)
        return True

    def _finish(self, outcome: str) -> None:
        self._save(replace(self.progress, enabled=False, finished=outcome, retrying_since=None))
        self.controller.record("auto", f"automatic progression ended: {outcome}", who=AUTOMATION,
                               ok=not outcome.startswith(("halted", "rolled back")))

    # --- what the header says ----------------------------------------------

    def describe(self) -> str:
        p = self.progress
        steps = self.policy.steps
        if p.held:
            return f"HELD: {p.held} ({self.controller.key_for('auto')}: resume)"
        if not p.enabled:
            return p.finished and f"last run: {p.finished}"
        now = self.controller.clock.time()
        # The weight as read: above the last step (a person set 60% over steps ending at 50%) the
        # step's own weight would be untrue.
        split = self.controller.latest_split
        weight = split.canary_weight if split is not None and split.canary_weight is not None else steps[p.step]
        current = f"step {p.step + 1}/{len(steps)} at {weight}%"
        if p.retrying_since is not None:
            return f"{current}: a write failed, retrying for {format_duration(now - p.retrying_since)} (see events)"
        left = max(0.0, self.policy.bake_s - (now - p.since))
        # Baked: what is left is the checks, not the clock ("in 0s" would promise a move).
        when = f"in {format_duration(left)} if checks pass" if left > 0 else "once every check passes (baked)"
        if p.step < len(steps) - 1:
            return f"{current} → {steps[p.step + 1]}% {when}"
        ending = "promote" if self.policy.promote == "auto" else "wait for a person"
        return f"{current} (last) → {ending} {when}"
