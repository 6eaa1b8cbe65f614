"""`e`: every event this console holds (the last 500), scrollable, newest at the bottom.

The events panel shows only the newest that fit; on a bridge someone asks "what happened ten
minutes ago?". The `/` filter applies here too. The status header stays on top: the data's
age and the mode are never out of sight.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui.app.widgets.events import KIND_WIDTH, event_parts, matches
from tui.app.widgets.footer import FittingFooter
from tui.app.widgets.status import StatusHeader
from tui.controller import ConsoleState
from tui.model import Event


class EventLogScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back"),  # and the events key itself (the app toggles), as bound
        Binding("home", "scroll_home", "Oldest", show=False),
        Binding("end", "scroll_end", "Newest", show=False),
    ]

    def __init__(self, state: ConsoleState, filter_text: str = "") -> None:
        super().__init__()
        self.state, self.events, self.filter_text = state, state.events, filter_text

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="events-status")
        with VerticalScroll(id="event-log"):
            yield Static(id="event-lines")
        yield FittingFooter()

    def on_mount(self) -> None:
        self._render_lines(follow=True)
        self.query_one("#event-log").focus()

    def show(self, state: ConsoleState, filter_text: str) -> None:
        """A new state (or filter): keep following the newest unless the reader scrolled up."""
        self.state, self.events, self.filter_text = state, state.events, filter_text
        if not self.is_mounted:
            return  # pushed but not composed yet: on_mount draws what is stored
        scroll = self.query_one("#event-log", VerticalScroll)
        self._render_lines(follow=scroll.scroll_y >= scroll.max_scroll_y - 1)

    def shown(self) -> list[Event]:
        return [e for e in self.events if matches(e, self.filter_text)]

    def _render_lines(self, follow: bool) -> None:
        self.query_one(StatusHeader).show(self.state, self.state.now.timestamp())
        shown = self.shown()
        scroll = self.query_one("#event-log", VerticalScroll)
        title = f"All events (UTC): {len(shown)}"
        if self.filter_text:
            title += f" of {len(self.events)} containing {self.filter_text!r}"
        scroll.border_title = Text(title + " · ↑ ↓ PgUp PgDn Home End · Esc back")
        lines = self.query_one("#event-lines", Static)
        if not shown:
            lines.update(Text("no events yet" if not self.events else "no event contains that text", style="dim"))
        else:
            # One grid: a long message wraps in its own column, under itself, as in the panel.
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column(no_wrap=True, width=KIND_WIDTH - 1)
            grid.add_column(ratio=1)
            for e in shown:
                grid.add_row(*event_parts(e))
            lines.update(grid)
        if follow:
            self.call_after_refresh(scroll.scroll_end, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_home(self) -> None:
        self.query_one("#event-log", VerticalScroll).scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.query_one("#event-log", VerticalScroll).scroll_end(animate=False)
