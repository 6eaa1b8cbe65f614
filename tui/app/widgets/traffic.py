"""Traffic split: every route, its match, and its weights as a bar with numbers."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.app.palette import CANARY, STABLE
from tui.model import Route, TrafficSplit


class TrafficPanel(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.split: TrafficSplit | None = None
        self.border_title = "Traffic split"

    def show(self, split: TrafficSplit | None) -> None:
        self.split = split
        self.refresh()

    def render(self) -> Text:
        if self.split is None:
            return Text("reading the traffic split…", style="dim")
        return Text("\n").join(self.lines(self.size.width))

    def lines(self, width: int) -> list[Text]:
        """The panel's lines at `width` (the app sizes its row from their count)."""
        if self.split is None:
            return [Text("reading the traffic split…", style="dim")]
        width = max(20, width)
        text = Text()
        driven = [r for r in self.split.routes if r.driven]
        others = [r for r in self.split.routes if not r.driven]
        for route in driven:
            self._driven(text, route, width)
        if not driven:
            text.append("no route carries both stable and canary\n", style="bold red")
        for route in others:
            self._other(text, route, width)
        # One line per fact: cut long lines rather than wrap them into the next fact.
        text.rstrip()
        lines = text.split("\n")
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return list(lines)

    @staticmethod
    def _heading(text: Text, label: str, route: Route, width: int) -> None:
        """The route's name and its match; the match on a line of its own when both do not fit."""
        match = " · ".join(route.match) or "(all other traffic)"
        text.append(label, style="bold")
        joint = "  " if len(label) + 2 + len(match) <= width else "\n  "
        text.append(f"{joint}{match}\n", style="dim")

    def _driven(self, text: Text, route: Route, width: int) -> None:
        s, c = route.stable_weight, route.canary_weight
        self._heading(text, f"▶ {route.label}", route, width)
        bar = max(10, width - 14)
        c_cells = round(bar * c / 100)
        if 0 < c < 100:
            c_cells = min(bar - 1, max(1, c_cells))
        s_cells = bar - c_cells
        text.append("stable ", style=f"bold {STABLE}")
        text.append(f"{s:>3}% ", style="bold")
        text.append("█" * s_cells, style=STABLE)
        text.append("░" * c_cells, style="dim")
        text.append("\n")
        text.append("canary ", style=f"bold {CANARY}")
        text.append(f"{c:>3}% ", style="bold")
        text.append("░" * s_cells, style="dim")
        text.append("█" * c_cells, style=CANARY)
        text.append("\n")

    def _other(self, text: Text, route: Route, width: int) -> None:
        parts = []
        for d in route.destinations:
            colour = {"stable": STABLE, "canary": CANARY}.get(d.role or "", "")
            parts.append((f"{d.role or d.host} {d.weight}%", colour))
        self._heading(text, route.label, route, width)
        text.append("  → ", style="dim")
        for i, (label, colour) in enumerate(parts):
            if i:
                text.append(", ")
            text.append(label, style=colour)
        text.append("  (not driven)\n", style="dim")
