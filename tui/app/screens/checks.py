"""`d`: every check in full, nothing cut: the bound with how it was derived, the whole reason.

The checklist is a table that gives way on a shared screen: "<= 1.10x stable = 346 ms (stable's
p95 …" is cut at any width, and so is a long reason. Here each check is a block that wraps. It
follows the polls like the event log, under the status header, so the data's age stays in sight.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui.app.palette import CANARY, STABLE
from tui.app.widgets.checks import RESULT_STYLE
from tui.app.widgets.footer import FittingFooter
from tui.app.widgets.status import StatusHeader
from tui.controller import ConsoleState
from tui.formatting import RESULT_MARK, check_value, confidence, hhmmss
from tui.config import JudgeSettings
from tui.model import Check, Result


class CheckDetailScreen(Screen[None]):
    BINDINGS = [Binding("escape", "close", "Back")]  # and the details key itself (the app toggles)

    def __init__(self, state: ConsoleState, judge: JudgeSettings | None = None) -> None:
        super().__init__()
        self.state = state
        self.judge = judge or JudgeSettings()  # the levels a decision needs, to explain a confidence

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="details-status")
        with VerticalScroll(id="check-details"):
            yield Static(id="check-blocks")
        yield FittingFooter()

    def on_mount(self) -> None:
        self._render_blocks()
        self.query_one("#check-details").focus()

    def show(self, state: ConsoleState) -> None:
        self.state = state
        if self.is_mounted:  # pushed but not composed yet: on_mount draws what is stored
            self._render_blocks()

    def _render_blocks(self) -> None:
        state = self.state
        self.query_one(StatusHeader).show(state, state.now.timestamp())
        scroll = self.query_one("#check-details", VerticalScroll)
        verdict = state.verdict
        title = "Checks in full"
        if verdict is not None:
            since = f" · requests since {hhmmss(verdict.since)}" if verdict.since else ""
            title += f"{since} · verdict {RESULT_MARK[verdict.result]}"
        scroll.border_title = Text(title + " · ↑ ↓ PgUp PgDn · Esc back")
        blocks = self.query_one("#check-blocks", Static)
        if verdict is None:
            blocks.update(Text("waiting for the first poll…", style="dim"))
            return
        parts: list = []
        problem = state.data_problem
        if problem:
            parts += [Text(problem, style="bold red"), Text("")]
        if verdict.summary:
            parts += [Text(verdict.summary, style="italic"), Text("")]
        for check in verdict.checks:
            parts += [_block(check, self.judge), Text("")]
        blocks.update(Group(*parts))

    def action_close(self) -> None:
        self.dismiss(None)


def _confidence_text(check: Check, judge: JudgeSettings) -> str:
    """What the confidence is the confidence of, and what a decision needs."""
    shown = confidence(check.confidence)
    if check.result is Result.PASS:
        return f"{shown} that the canary is within the bound"
    if check.result is Result.FAIL:
        return f"{shown} that the canary breaches the bound"
    alpha = (judge.latency_alpha or judge.alpha) if check.metric == "p95_ms" else judge.alpha
    return (f"{shown} so far, for whichever decision the evidence leans to "
            f"(a pass needs {confidence(1 - judge.pass_alpha)}, a fail {confidence(1 - alpha)})")


def _block(check: Check, judge: JudgeSettings) -> Group:
    """One check: its mark and name, then every field on its own wrapped line."""
    style = RESULT_STYLE[check.result]
    head = Text(f"{RESULT_MARK[check.result]}  ", style=f"bold {style}")
    head.append(check.name, style="bold")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=12, style="bold")
    grid.add_column(ratio=1)
    values = Text("canary ", style="dim")
    values.append(check_value(check.canary, check.unit), style=f"bold {CANARY}")
    values.append("   stable ", style="dim")
    values.append(check_value(check.stable, check.unit), style=f"bold {STABLE}")
    grid.add_row("  values", values)
    grid.add_row("  bound", Text(check.bound))
    if check.confidence is not None:
        grid.add_row("  confidence", Text(_confidence_text(check, judge)))
    if check.reason:
        grid.add_row("  why", Text(check.reason, style=style))
    return Group(head, grid)
