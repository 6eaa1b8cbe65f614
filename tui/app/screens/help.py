"""`?`: every key the console answers to right now (mutating keys are absent when read-only)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]], about: str) -> None:
        super().__init__()
        self.keys, self.about = keys, about

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in self.keys:
            table.add_row(key, what)
        with Vertical(id="dialog"):
            yield Static("[b]Keys[/b]", id="question")
            yield Static(table)
            yield Static(self.about, id="detail")
            yield Static("Esc or ?: close", id="keys")

    def action_close(self) -> None:
        self.dismiss(None)
