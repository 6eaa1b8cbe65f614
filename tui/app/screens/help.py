"""`?`: every key and command the console answers to right now (writes are absent when read-only)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.widgets.checks import RESULT_STYLE
from tui.formatting import RESULT_MARK
from tui.model import Result


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]], about: str, commands: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.keys, self.about = keys, about
        self.commands = commands or []

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in self.keys:
            table.add_row(Text(key), Text(what))  # plain text: "[why]" is not markup
        with VerticalScroll(id="dialog"):
            yield Static("[b]Keys[/b]", id="question")
            yield Static(table)
            if self.commands:
                commands = Table.grid(padding=(0, 2))
                commands.add_column(style="bold", no_wrap=True)
                commands.add_column()
                for usage, what in self.commands:
                    commands.add_row(Text(usage), Text(what))
                yield Static("[b]Commands[/b] (after `:`; what follows a command is recorded as your reason)",
                             classes="section")
                yield Static(commands)
            yield Static("[b]Checks[/b]", classes="section")
            yield Static(_legend())
            yield Static(self.about, id="detail")
            yield Static("↑ ↓ PgUp PgDn: scroll    Esc or ?: close", id="keys")

    def action_close(self) -> None:
        self.dismiss(None)


def _legend() -> Table:
    """What each mark in the checklist means for the verdict and for automation."""
    meaning = {
        Result.PASS: "within the bound (errors and latency: with the confidence in the conf column)",
        Result.FAIL: "the canary is worse: grounds for rollback (automatic with rollout.autoRollback)",
        Result.NODATA: "not decided yet: not enough data, or none; never a pass; automation waits",
        Result.WARN: "stable breaches the bound too: rolling back would not help; automation waits",
        Result.NOT_JUDGED: "the data cannot tell this way round (unequal load per instance): "
                           "left out of the verdict",
    }
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    for result, what in meaning.items():
        table.add_row(Text(RESULT_MARK[result], style=f"bold {RESULT_STYLE[result]}"), Text(what))
    return table
