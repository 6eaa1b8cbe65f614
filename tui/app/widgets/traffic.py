"""Traffic split: every route, its match, and its weights as a bar with numbers.

Under the driven routes: the canary's share of the requests as the metrics measure it (the
weights are what was asked; this is what the versions served, so a route that did not take
effect shows); then the routes not driven (a header route), a line each when short of room;
then, when there is room, the last weight change as the router stores it (who,
when, from, to, why), so every console on the rollout, read-only ones too, shows who moved
the weights last and why; then the plan (rollout.steps, the current weight marked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from rich.text import Text
from textual.widget import Widget

from tui.app.palette import CANARY, STABLE, WARN
from tui.durations import format_duration
from tui.formatting import hhmmss
from tui.model import MetricsSnapshot, Route, TrafficSplit, WeightChange


@dataclass(frozen=True)
class MeasuredShare:
    """What the versions served over the metrics window: the canary's share and the total rate."""

    canary_share: float
    total_rps: float

    @staticmethod
    def of(snapshot: MetricsSnapshot | None) -> "MeasuredShare | None":
        if snapshot is None:
            return None
        c = snapshot.canary.value("requests_per_second")
        s = snapshot.stable.value("requests_per_second")
        counted_c, counted_s = snapshot.canary.value("requests"), snapshot.stable.value("requests")
        # A version without series (or whose counter series are gone while the other's are there:
        # crashed, or its scrape fails, its rate over the window replaying the traffic from
        # before) served nothing, as long as the other version serves.
        if c is None or (counted_c is None and counted_s is not None):
            c = 0.0 if s else None
        if s is None or (counted_s is None and counted_c is not None):
            s = 0.0 if c else None
        if c is None or s is None or c + s <= 0:
            return None
        return MeasuredShare(c / (c + s), c + s)


NOT_DRIVEN = "  (not driven)"
FAILS = " ✗ fails: 0 ready"  # a route to a canary without a ready pod: short, to fit "→ canary 100%" at 80 columns
FAILS_STYLE = "bold red"


def _destinations(route: Route) -> list[tuple[str, str]]:
    """A route's destinations as shown: ("canary 100%", its colour)."""
    return [(f"{d.role or d.host} {d.weight}%", {"stable": STABLE, "canary": CANARY}.get(d.role or "", ""))
            for d in route.destinations]


def _cut(text: Text, width: int) -> list[Text]:
    """One line per fact: long lines cut rather than wrapped into the next fact."""
    text.rstrip()
    lines = list(text.split("\n"))
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return lines


class TrafficPanel(Widget):
    def __init__(self, window_s: float = 60.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.window_s = window_s  # metrics.window: the span of the rates the served share comes from
        self.split: TrafficSplit | None = None
        self.steps: tuple[int, ...] = ()
        self.promote = "manual"
        self.now: datetime | None = None
        self.measured: MeasuredShare | None = None
        self.moved_at: datetime | None = None  # when the console saw the weights move
        self.silent: str | None = None  # the judge's word: a routed version serving nothing ("canary", "stable")
        self.read_at: datetime | None = None  # set when the weights shown are old: reading them fails
        self.route_fails: Callable[[Route], str | None] = lambda route: None  # ConsoleState.route_fails
        self.border_title = "Traffic split"

    def show(self, split: TrafficSplit | None, steps: tuple[int, ...] = (), promote: str = "manual",
             now: datetime | None = None, measured: MeasuredShare | None = None,
             moved_at: datetime | None = None, silent: str | None = None,
             read_at: datetime | None = None, route_fails: Callable[[Route], str | None] | None = None) -> None:
        self.split, self.steps, self.promote, self.now = split, steps, promote, now
        self.measured, self.moved_at, self.silent, self.read_at = measured, moved_at, silent, read_at
        self.route_fails = route_fails or (lambda route: None)
        self.refresh()

    def render(self) -> Text:
        if self.split is None:
            return Text("reading the traffic split…", style="dim")
        width, height = self.size.width, self.size.height
        # The driven routes' weights first, always; then what they served (right under the routes
        # it checks); then the routes this console does not drive, whole or a line each; then the
        # last change and the plan, in the room left. Only the routes size the row: on an 80x24
        # screen the header route's three lines used to push "Served" off the panel.
        lines = self.driven_lines(width)
        others = self.other_routes(width)
        # A route whose every request fails (to a canary without a pod) keeps a line, as the weights do.
        failing = [self.route_fails(r) is not None for r in self._other_routes()]
        served = self.measured_lines(width)
        if served and height - len(lines) - sum(failing) >= 1:
            lines += served
        for i, forms in enumerate(others):
            room = height - len(lines) - sum(failing[i + 1:])
            fallback = forms[-1] if failing[i] else []
            lines += next((form for form in forms if len(form) <= room), fallback)
        for section, gap in ((self.change_lines(width), 1), (self.plan_lines(width), 1)):
            room = height - len(lines) - gap
            if not section or room < min(2, len(section)):
                continue
            shown = section[:room]
            if len(shown) < len(section):  # cut: say so on the last line that fits
                last = shown[-1].copy()
                last.truncate(max(1, width - 1))
                last.append("…")
                shown[-1] = last
            lines += [Text("")] * gap + shown
        return Text("\n").join(lines)

    def lines(self, width: int) -> list[Text]:
        """Every route's lines, whole, at `width` (the app sizes its row from their count)."""
        return self.driven_lines(width) + [line for forms in self.other_routes(width) for line in forms[0]]

    def kept_lines(self, width: int) -> int:
        """The lines a short pane must keep: the driven routes' weights, and a line for each route
        whose every request fails."""
        return len(self.driven_lines(width)) + sum(self.route_fails(r) is not None for r in self._other_routes())

    def _other_routes(self) -> list[Route]:
        return [r for r in self.split.routes if not r.driven] if self.split is not None else []

    def driven_lines(self, width: int) -> list[Text]:
        """The driven routes with their weights as bars, and under them, when reading them fails,
        since when they are as last read: never given up for room."""
        if self.split is None:
            return [Text("reading the traffic split…", style="dim")]
        width = max(20, width)
        text = Text()
        driven = [r for r in self.split.routes if r.driven]
        for route in driven:
            self._driven(text, route, width)
        if not driven:
            text.append("no route carries both stable and canary\n", style="bold red")
        lines = _cut(text, width)
        if self.read_at is not None:
            # Under the weights it is about, never dropped for room: these may no longer be true.
            ago = f", {format_duration((self.now - self.read_at).total_seconds())} ago" if self.now else ""
            note = Text(f"as read at {hhmmss(self.read_at)}{ago}: reading the weights fails (see events)",
                        style="bold red")
            lines += list(note.wrap(self.app.console, width, overflow="fold"))
        return lines

    def other_routes(self, width: int) -> list[list[list[Text]]]:
        """Each route this console does not drive (a header route to the canary), in the forms it
        can take, longest first: whole; its match cut to the name's line; one line
        ("canary-header → canary 100%") for a short panel."""
        if self.split is None:
            return []
        width = max(20, width)
        routes = []
        for route in self._other_routes():
            whole = Text()
            self._other(whole, route, width)
            forms = [_cut(whole, width)]
            if len(forms[0]) > 2:
                two = Text()
                self._other(two, route, width, match_on_one_line=True)
                forms.append(_cut(two, width))
            short = Text(route.label, style="bold")
            short.append(" →", style="dim")
            for i, (label, colour) in enumerate(_destinations(route)):
                short.append("," if i else "")
                short.append(f" {label}", style=colour)
            if self.route_fails(route):
                short.append(FAILS, style=FAILS_STYLE)
            elif short.cell_len + len(NOT_DRIVEN) <= width:
                short.append(NOT_DRIVEN, style="dim")
            short.truncate(width, overflow="ellipsis")
            routes.append([*forms, [short]])
        return routes

    @staticmethod
    def _heading(text: Text, label: str, route: Route, width: int, one_line: bool = False) -> None:
        """The route's name and its match; the match on a line of its own when both do not fit
        (unless `one_line`: then cut)."""
        match = " · ".join(route.match) or "(all other traffic)"
        text.append(label, style="bold")
        joint = "  " if one_line or len(label) + 2 + len(match) <= width else "\n  "
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

    def _other(self, text: Text, route: Route, width: int, match_on_one_line: bool = False) -> None:
        self._heading(text, route.label, route, width, one_line=match_on_one_line)
        text.append("  → ", style="dim")
        for i, (label, colour) in enumerate(_destinations(route)):
            if i:
                text.append(", ")
            text.append(label, style=colour)
        unserved = self.route_fails(route)
        if unserved is None:
            text.append(f"{NOT_DRIVEN}\n", style="dim")
        elif match_on_one_line:  # the two-line form: the warning in the room of "(not driven)"
            text.append(f"{FAILS}\n", style=FAILS_STYLE)
        else:
            text.append(f"{NOT_DRIVEN}\n", style="dim")
            text.append(f"  ✗ fails: {unserved}\n", style=FAILS_STYLE)

    def plan_lines(self, width: int) -> list[Text]:
        """rollout.steps with the steps reached in bold and the current weight marked."""
        if not self.steps or self.split is None:
            return []
        weight = self.split.canary_weight
        after = "then promote automatically" if self.promote == "auto" else "then a person promotes"
        head = Text("Steps ", style="bold")
        head.append(f"({after})", style="dim")
        row = Text(" ")
        for w in self.steps:
            style = "dim" if weight is None or w > weight else "bold"
            if w == weight:
                style = f"bold reverse {CANARY}"
            row.append(f"{w}", style=style)
            row.append(" ")
        rows = row.wrap(self.app.console, max(20, width), overflow="fold")
        head.truncate(width, overflow="ellipsis")
        return [head, *rows]

    def measured_lines(self, width: int) -> list[Text]:
        """The canary's share of the requests served, over the metrics window, or nothing without fresh data."""
        m = self.measured
        if m is None:
            return []
        # One line, like every rate on screen over metrics.window: the plan below keeps its room.
        row = Text("Served ", style="bold")
        change = self.split.last_change if self.split else None
        # The later of the stored note (any console's write) and the move this console saw (a
        # change without a note, from kubectl or GitOps, leaves the old note in place).
        moves = [t for t in (change.at if change else None, self.moved_at) if t is not None]
        clean_at = max(moves) + timedelta(seconds=self.window_s) if moves else None
        routed = self.split.canary_weight if self.split else None
        settling = clean_at is not None and self.now is not None and self.now < clean_at
        # A routed version serving none: down (its share failing) or unmeasured, never a quiet 0.0%.
        # The judge's word (its series gone, its requests due) stands even while settling; else the
        # window's own share of 0 or 100% says it once settled.
        silent = self.silent
        if silent is None and not settling and routed is not None:
            silent = "canary" if m.canary_share == 0 and routed > 0 else \
                "stable" if m.canary_share == 1 and routed < 100 else None
        if silent and routed is not None:
            row.append(f"{silent} ", style=f"bold {CANARY if silent == 'canary' else STABLE}")
            row.append(f"none · routed {routed if silent == 'canary' else 100 - routed}%", style="bold red")
        elif settling:
            # The window still holds traffic from before the change: no share until it does not.
            row.append(f"settling until {hhmmss(clean_at)}", style="dim")
        else:
            row.append("canary ", style=f"bold {CANARY}")
            row.append(f"{m.canary_share * 100:.1f}%", style="bold")
            row.append(f" of {m.total_rps:.1f}/s")
        row.truncate(width, overflow="ellipsis")
        return [row]

    def change_lines(self, width: int) -> list[Text]:
        """The last weight change: when (and how long ago), from -> to, by whom, why."""
        change: WeightChange | None = self.split.last_change if self.split else None
        if change is None:
            return []
        current = self.split.note_is_current if self.split else True
        head = Text("Last change " if current else "Last note ", style="bold")
        head.append(hhmmss(change.at), style="bold")
        lines = [head]
        if self.now is not None:
            age = f"{format_duration((self.now - change.at).total_seconds())} ago"
            if head.cell_len + 3 + len(age) <= width:
                head.append(f" · {age}", style="dim")
            else:  # a narrow panel: the age on its own line, never cut to "24m55s a…"
                lines.append(Text(f"  {age}", style="dim"))
        if not current:
            # Someone moved the weights without leaving a note: this one is history, not the present.
            lines.append(Text("  moved since with no note", style=f"bold {WARN}"))
        frm = "?" if change.from_canary is None else f"{change.from_canary}%"
        what = Text()
        what.append(f"{frm} → {change.to_canary}%", style=f"bold {CANARY}")
        if change.action not in ("set-weight", ""):
            what.append(f" {change.action}")
        what.append(f" by {change.who or 'unknown'}")
        # Who and why wrap rather than cut: "by automa…" names no one.
        for text in (what, Text(change.reason, style="italic") if change.reason else None):
            if text is not None:
                lines += [Text("  ") + row for row in text.wrap(self.app.console, max(10, width - 2))]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return lines
