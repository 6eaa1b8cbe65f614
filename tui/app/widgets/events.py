"""The event log: the newest entries that fit, times in UTC; `/` narrows it to the entries containing a text."""

from __future__ import annotations

from rich.text import Text
from textual.markup import escape
from textual.widget import Widget

from tui.app.widgets.wrapping import wrap_to_rows
from tui.formatting import event_who, hhmmss
from tui.model import Event

KIND_STYLE = {"rollback": "bold #ff5555", "promote": "bold #3fb950", "error": "#ff5555", "check": "#ff5555",
              "fault": "#d29922", "auto": "bold", "outside": "bold #d29922"}

KIND_WIDTH = 11
MESSAGE_COLUMN = len("00:00:00 ") + KIND_WIDTH  # where messages start: continuation rows align there


class EventPanel(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: tuple[Event, ...] = ()
        self.filter_text = ""
        self._shown: list[Event] = []
        self.more_hint = ""  # how to see every event ("e: all"), set by the app from its keys
        self.border_title = "Events (UTC)"

    def show(self, events: tuple[Event, ...]) -> None:
        self.events = events
        self._apply_filter()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._apply_filter()

    def shown(self) -> list[Event]:
        """The events that pass the filter (case-insensitive, anywhere in the entry's text)."""
        return self._shown

    def _apply_filter(self) -> None:
        # Once per change of events or filter: the title and every render use the result.
        self._shown = [e for e in self.events if matches(e, self.filter_text)]
        title = "Events (UTC)"
        if self.filter_text:
            # the title is markup: the typed text is escaped
            title += f" · /{escape(self.filter_text)}: {len(self._shown)} of {len(self.events)} · Esc shows all"
        if self.more_hint:
            title += f" · {escape(self.more_hint)}"
        self.border_title = title
        self.refresh()

    def render(self) -> Text:
        if not self.events:
            return Text("no events yet: nothing has changed", style="dim")
        events = self.shown()
        if not events:
            return Text(f"no event contains {self.filter_text!r} (of {len(self.events)}); Esc shows all",
                        style="dim")
        rows, width = max(1, self.size.height), max(20, self.size.width)
        # Newest at the bottom; an entry too long for one row wraps under its message (a reason
        # cut off is a reason not told), and older entries give way to it.
        blocks: list[list[Text]] = []
        free = rows
        for e in reversed(events):
            lines = wrap_to_rows(event_entry(e), width, free, self.app.console, indent=MESSAGE_COLUMN)
            blocks.append(lines)
            free -= len(lines)
            if free <= 0:
                break
        return Text("\n").join(line for block in reversed(blocks) for line in block)


def event_parts(e: Event) -> tuple[Text, Text, Text]:
    """One event's time, kind and message — reason (who)."""
    message = Text(e.message)
    if e.reason:
        message.append(f" — {e.reason}", style="italic")
    who = event_who(e)
    if who:
        message.append(f" ({who})", style="dim")
    return (Text(hhmmss(e.at), style="dim"),
            Text(e.kind, style=KIND_STYLE.get(e.kind, "") if e.ok else "#ff5555"), message)


def event_entry(e: Event) -> Text:
    """One event as one line of text (the panel wraps it under its message)."""
    when, kind, message = event_parts(e)
    kind.pad_right(KIND_WIDTH - len(kind.plain))
    return Text.assemble(when, " ", kind, message)


def matches(e: Event, needle: str) -> bool:
    """The `/` filter: the text anywhere in the entry as shown, case-insensitive."""
    return not needle or needle.lower() in event_entry(e).plain.lower()
