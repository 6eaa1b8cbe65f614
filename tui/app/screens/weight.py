"""Set an exact canary weight: an integer 0-100, checked before anything is sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Static


class WeightScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Canary weight (now {self.current if self.current is not None else '?'}%): "
                         "an integer 0-100; stable gets the rest.", id="question")
            weight = Input(placeholder="0-100", id="weight", restrict=r"[0-9]*", max_length=3,
                           validators=[Integer(minimum=0, maximum=100)])
            weight.cursor_blink = self.app.poll_enabled  # steady in a frozen console, as the prompt's
            yield weight
            yield Static("", id="error")
            yield Static("Enter: apply    Esc: cancel", id="keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        result = event.validation_result
        if not event.value or (result is not None and not result.is_valid):
            self.query_one("#error", Static).update("[b red]enter a whole number from 0 to 100[/]")
            return
        self.dismiss(int(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)
