"""The key footer, whole keys only: on a narrow pane Textual's footer cut the row mid-word
("L Lar", ": Comman") and never reached `? Help`. This one leaves out whole keys, the least
needed first, so what it shows reads whole and `?` (which lists every key) always shows."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer

# Left out first when the row is too narrow, in this order (a pair goes together); keys not named
# here always show (help, rollback, promote, auto, the screen's own way back).
DROP_ORDER = (("large_print",), ("report",), ("command",), ("cycle_fault",), ("quit",), ("set_weight",),
              ("step_up", "step_down"))


def is_key(widget: Widget) -> bool:
    """One of the footer's keys (Textual's FooterKey, read by its attributes: the class is private)."""
    return hasattr(widget, "action") and hasattr(widget, "key_display") and hasattr(widget, "description")


def key_width(key: Widget) -> int:
    """Cells a key takes in the footer: " k " then "Description "."""
    return len(key.key_display) + len(key.description) + 3  # type: ignore[attr-defined]


class FittingFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        room = self.app.size.width
        self._fitted_width = room
        total = sum(key_width(k) for k in keys if is_key(k))
        dropped: set[str] = set()
        for actions in DROP_ORDER:
            if total <= room:
                break
            for k in keys:
                if is_key(k) and k.action in actions:
                    total -= key_width(k)
            dropped.update(actions)
        yield from (k for k in keys if not (is_key(k) and k.action in dropped))

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
