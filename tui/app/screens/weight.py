"""Set an exact canary weight: an integer 0-100, checked before anything is sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Static

from tui.formatting import route_weights


class WeightScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int | None, diverged: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__()
        self.current = current
        self.diverged = diverged  # driven routes at different weights: each is named, all get the new one

    def compose(self) -> ComposeResult:
        if self.diverged:
            now = route_weights(self.diverged)
            question = f"Canary weight for every driven route (now {now}): an integer 0-100; stable gets the rest."
        else:
            shown = self.current if self.current is not None else "?"
            question = f"Canary weight (now {shown}%): an integer 0-100; stable gets the rest."
        with Vertical(id="dialog"):
            yield Static(question, id="question", markup=False)
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
