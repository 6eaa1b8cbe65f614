"""Large print for a shared screen: only what a bridge needs at a glance, legible at low resolution.

Weights, the verdict and why, the two p95s, the two error rates and the last decision, in big digits.
The p95s and error rates are the checklist's: the numbers the verdict was reached on.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Digits, Static

from tui.app.widgets.footer import FittingFooter
from tui.app.widgets.status import StatusHeader
from tui.controller import ConsoleState
from tui.formatting import RESULT_MARK, hhmmss, route_weights
from tui.model import Result

# What moved the rollout, whoever did it: a change made outside (kubectl) is a decision too.
DECISIONS = ("promote", "rollback", "set-weight", "step", "auto-step", "auto", "scale", "outside")
SHORT_ROWS = 30  # below this many rows the large print drops its spacing (canary.tcss: BridgeScreen.-short)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _requests(n: float) -> str:
    return f"{n:,.0f} req"  # short: the label must fit a 60-column screen's column


class BridgeScreen(Screen[None]):
    BINDINGS = [Binding("L,escape", "close", "Full console")]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="bridge-status")
        yield Static("", id="verdict")
        yield Static("", id="why")
        with Grid(id="bridge"):
            yield Static("", id="bridge-since")
            yield Static("stable", classes="stable-label")
            yield Static("canary", classes="canary-label")
            for metric in ("weight", "p95", "errors"):
                yield Static({"weight": "weight %", "p95": "p95 ms", "errors": "errors %"}[metric],
                             classes="metric-label", id=f"{metric}-label")
                yield Digits("-", id=f"stable-{metric}", classes="stable")
                yield Digits("-", id=f"canary-{metric}", classes="canary")
        yield Static("", id="decision", markup=False)  # reasons are operators' words, not markup
        yield FittingFooter()

    def on_mount(self) -> None:
        self.set_class(self.app.size.height < SHORT_ROWS, "-short")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_ROWS, "-short")

    def show(self, state: ConsoleState, now: float) -> None:
        if not self.is_mounted:
            return  # pushed, not composed yet: a poll landing now must not crash the app
        self.query_one(StatusHeader).show(state, now)
        verdict = self.query_one("#verdict", Static)
        result = state.verdict.result if state.verdict else Result.NODATA
        stale = " (STALE DATA)" if state.stale else ""
        verdict.update(f"VERDICT {RESULT_MARK[result]}{stale}")
        for r in Result:
            verdict.set_class(r is result, f"-{r.value}")
        # A verdict without its reason starts an argument on a bridge: say what decides it.
        why = state.data_problem or (state.verdict.summary if state.verdict else "waiting for the first poll")
        self.query_one("#why", Static).update(why)
        split = state.split
        # The numbers behind the verdict above them, as the checklist shows them (counted since the
        # last weight change; n/a for a canary without traffic), never a figure the full console
        # contradicts. Stale data shows none.
        checks = {} if state.stale or state.verdict is None else {
            c.metric: c for c in reversed(state.verdict.checks)}  # the first check of a metric: the absolute one
        p95, errors = checks.get("p95_ms"), checks.get("error_rate")
        # Weights that can no longer be read are not shown as today's in large digits either.
        weights = None if state.weights_stale else split
        values = {
            "stable-weight": _num(weights.stable_weight if weights else None, 0),
            "canary-weight": _num(weights.canary_weight if weights else None, 0),
            "stable-p95": _num(p95.stable if p95 else None, 0),
            "canary-p95": _num(p95.canary if p95 else None, 0),
            "stable-errors": _num(errors.stable * 100 if errors and errors.stable is not None else None, 2),
            "canary-errors": _num(errors.canary * 100 if errors and errors.canary is not None else None, 2),
        }
        # Driven routes at different weights: the digits are the first route's; say which, and the rest.
        diverged = split.diverged if split else ()
        label = self.query_one("#weight-label", Static)
        unread = f"weight %\nunread since\n{hhmmss(state.split_read_at)}" if weights is None and split else ""
        label.update(unread or (f"weight %\n{diverged[0][0]}\nroutes differ" if diverged else "weight %"))
        label.set_class(bool(diverged) or bool(unread), "-diverged")
        routes = ("routes differ: " + route_weights(diverged, side="canary") + "\n"
                  if diverged else "")
        since = state.verdict.since if checks and state.verdict else None
        self.query_one("#bridge-since", Static).update(f"since {hhmmss(since)}" if since else "")
        # What the big digits rest on: 1 error in 15 requests reads "6.67" in large print.
        counted = state.verdict.requests if checks and state.verdict else None
        for i, role in enumerate(("stable", "canary")):
            self.query_one(f".{role}-label", Static).update(
                role + (f" · {_requests(counted[i])}" if counted is not None else ""))
        for key, text in values.items():
            self.query_one(f"#{key}", Digits).update(text)
        decisions = [e for e in state.events if e.kind in DECISIONS and e.ok]
        last = decisions[-1] if decisions else None
        decision = "no decision yet"
        if last is not None:
            message = last.message
            if last.kind == "rollback" and last.to_canary is None and len(decisions) > 1 \
                    and decisions[-2].kind == "rollback":
                # The rollback's second half ("canary scaled to 0 replicas") alone hid its weights.
                message = f"{decisions[-2].message}, then {message}"
            decision = f"{hhmmss(last.at)} UTC  {last.kind}: {message}"
            if last.reason:
                decision += f" — {last.reason}"
            if last.who:
                decision += f" ({last.who})"
        self.query_one("#decision", Static).update(f"{routes}last decision: {decision}")

    def action_close(self) -> None:
        self.dismiss(None)
