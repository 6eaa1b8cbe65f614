"""The event log: the newest entries that fit, times in UTC."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.formatting import hhmmss
from tui.model import Event

KIND_STYLE = {"rollback": "bold #ff5555", "promote": "bold #3fb950", "error": "#ff5555", "check": "#ff5555",
              "fault": "#d29922", "auto": "bold"}


class EventPanel(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: tuple[Event, ...] = ()
        self.border_title = "Events (UTC)"

    def show(self, events: tuple[Event, ...]) -> None:
        self.events = events
        self.refresh()

    def render(self) -> Text:
        if not self.events:
            return Text("no events yet: nothing has changed", style="dim")
        rows, width = max(1, self.size.height), max(20, self.size.width)
        lines = []
        for e in self.events[-rows:]:
            text = Text()
            lines.append(text)
            text.append(f"{hhmmss(e.at)} ", style="dim")
            text.append(f"{e.kind:<11}", style=KIND_STYLE.get(e.kind, "") if e.ok else "#ff5555")
            text.append(e.message)
            if e.reason:
                text.append(f" — {e.reason}", style="italic")
            if e.who:
                text.append(f" ({e.who})", style="dim")
            text.truncate(width, overflow="ellipsis")
        return Text("\n").join(lines)
