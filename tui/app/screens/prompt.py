"""A one-line prompt at the bottom of the screen, as in k9s: `:` for commands, `/` for the event filter.

Tab or → completes from the suggestions. Enter submits when `check` finds nothing wrong;
otherwise its message shows and the prompt stays. Esc cancels. `on_change` sees every
keystroke: the filter applies as it is typed.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("tab", "complete", "Complete", show=False)]

    def __init__(self, prefix: str, hint: str, value: str = "", suggestions: list[str] | None = None,
                 check: Callable[[str], str | None] | None = None,
                 on_change: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.prefix, self.hint, self.value = prefix, hint, value
        self.suggestions = suggestions
        self.check = check
        self.on_change = on_change

    def compose(self) -> ComposeResult:
        suggester = SuggestFromList(self.suggestions, case_sensitive=False) if self.suggestions else None
        with Vertical(id="prompt"):
            yield Static("", id="error")
            yield Static(self.hint, id="hint")
            with Horizontal(id="prompt-row"):
                yield Static(self.prefix, id="prefix")
                line = Input(value=self.value, suggester=suggester, id="line")
                # A frozen console (screenshots, snapshot tests) draws a steady cursor: a blinking
                # one would make each capture depend on the instant it is taken.
                line.cursor_blink = self.app.poll_enabled
                yield line

    def on_mount(self) -> None:
        self.query_one("#line", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#error", Static)
        error.update("")
        error.display = False
        if self.on_change is not None:
            self.on_change(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        problem = self.check(event.value) if self.check is not None else None
        if problem:
            error = self.query_one("#error", Static)
            error.update(Text(problem, style="bold red"))  # typed text: no markup
            error.display = True
            return
        self.dismiss(event.value)

    def action_complete(self) -> None:
        """Tab takes the first suggestion the typed text starts (as the grey hint shows; so does →)."""
        line = self.query_one("#line", Input)
        typed = line.value.lower()
        for option in self.suggestions or ():
            if typed and option.lower().startswith(typed) and len(option) > len(typed):
                line.value = option
                line.cursor_position = len(option)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
