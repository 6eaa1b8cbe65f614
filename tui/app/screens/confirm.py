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

    def __init__(self, question: str, detail: str = "", reason: str = "", checks: Text | None = None) -> None:
        super().__init__()
        self.question, self.detail, self.reason = question, detail, reason
        self.checks = checks  # what the checks say now: a promotion of a failing canary must not be a blind "y"

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

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
