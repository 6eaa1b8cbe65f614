"""A confirmation in front of every destructive key: y or Enter confirms, n or Esc cancels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("enter", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str, detail: str = "", reason: str = "", checks: Text | None = None,
                 verdict: object = None, ask_again_on_change: bool = False) -> None:
        super().__init__()
        # More traffic to the canary: a "y" typed as the verdict changed asks again. Never for the
        # rollback: the safe direction is not delayed by a second question.
        self.ask_again_on_change = ask_again_on_change
        self.question, self.detail, self.reason = question, detail, reason
        self.checks = checks  # what the checks say now: a promotion of a failing canary must not be a blind "y"
        self.asked_on = verdict  # the verdict's result when asked, to say when it changes under the question
        self.verdict_now = verdict

    def update_checks(self, checks: Text | None, verdict: object = None) -> None:
        """A poll landed while the question is open: what the checks say now, and in red when the
        verdict is no longer the one the question was asked on (a question left open for a minute
        said "UNDECIDED" over a canary that had failed since)."""
        if self.checks is None or checks is None or not self.is_mounted:
            return
        self.checks, self.verdict_now = checks, verdict
        self._show_checks()

    def _show_checks(self) -> None:
        shown = self.checks
        if self.verdict_now != self.asked_on:
            shown = Text("Changed since asked: ", style="bold white on #b62324") + shown
        self.query_one("#checks-now", Static).update(shown)

    def action_answer(self, yes: bool) -> None:
        if yes and self.ask_again_on_change and self.verdict_now != self.asked_on:
            # A "y" typed as the verdict changed was meant for the old one: it confirms nothing, and
            # the question is asked again on what the checks say now.
            self.asked_on = self.verdict_now
            self._show_checks()
            self.query_one("#keys", Static).update(
                "[b]The checks changed while you were asked.[/b] [b]y[/b] / Enter: confirm on what they say "
                "now    [b]n[/b] / Esc: cancel")
            return
        self.dismiss(yes)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            if self.detail:
                yield Static(self.detail, id="detail")
            if self.checks is not None:
                yield Static(self.checks, id="checks-now")
            if self.reason:  # the operator's words: plain text, never markup
                yield Static(Text.assemble(("Reason recorded: ", "bold"), self.reason), id="reason")
            yield Static("[b]y[/b] / Enter: confirm    [b]n[/b] / Esc: cancel", id="keys")
