"""The criteria checklist: why the verdict is what it is, with the numbers."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from tui.app.palette import CANARY, FAIL, NODATA, NOT_JUDGED, PASS, STABLE, WARN
from tui.app.widgets.wrapping import border_title_that_fits, wrap_to_rows
from tui.formatting import RESULT_MARK, check_value, confidence, hhmmss
from tui.model import Result, Verdict

BOUND_MIN = 17  # "<= 1.10x stable =" and the start of the threshold
NAME_MIN = 12  # "error rate v…": enough to tell the checks apart
RESULT_STYLE = {Result.PASS: PASS, Result.FAIL: FAIL, Result.NODATA: NODATA, Result.WARN: WARN,
                Result.NOT_JUDGED: NOT_JUDGED}
# Which checks a panel too short for all of them keeps: the grounds for a rollback first.
SHOWN_FIRST = {Result.FAIL: 0, Result.WARN: 1, Result.NODATA: 2, Result.PASS: 3, Result.NOT_JUDGED: 4}


class ChecksPanel(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.verdict: Verdict | None = None
        self.stale_reason: str | None = None
        self.border_title = "Checks"

    def show(self, verdict: Verdict | None, stale_reason: str | None) -> None:
        self.verdict, self.stale_reason = verdict, stale_reason
        self._title()
        self.refresh()

    def on_resize(self) -> None:
        self._title()

    def rows_shown(self, height: int) -> tuple[bool, list[int]]:
        """(the column headings, the checks) that fit `height` rows with the summary's first row.

        A short pane (a split tmux window) keeps the summary (what rolls the canary back), then
        the failing checks, then the headings, then the rest, in their order on a full panel."""
        checks = self.verdict.checks if self.verdict else ()
        summary = 1 if (self.stale_reason or (self.verdict and self.verdict.summary)) else 0
        room = max(0, height - summary)
        if room >= 1 + len(checks):
            return True, list(range(len(checks)))
        failing = sum(c.result is Result.FAIL for c in checks)
        headings = room >= 2 and room > failing  # after every failing check, before the rest
        keep = room - 1 if headings else room
        first = sorted(range(len(checks)), key=lambda i: (SHOWN_FIRST[checks[i].result], i))
        return headings, sorted(first[:keep])

    def _title(self) -> None:
        verdict = self.verdict
        if verdict is None:
            return
        # The request counts behind the values begin at the last weight change: say when, as
        # long as the verdict stays whole (a narrow pane cut it to "verdict …").
        at = hhmmss(verdict.since) if verdict.since else None
        mark = RESULT_MARK[verdict.result]
        variants = ([f"Checks · requests since {at} · verdict {mark}", f"Checks · since {at} · verdict {mark}"]
                    if at else [])
        self.border_title = border_title_that_fits(self.size.width, (*variants, f"Checks · verdict {mark}"))
        self.styles.border_title_color = RESULT_STYLE[verdict.result]
        hidden = len(verdict.checks) - len(self.rows_shown(self.size.height)[1])
        self.border_subtitle = f"{hidden} more: d shows every check" if hidden and self.size.height else ""

    def render(self) -> Group | Text:
        if self.verdict is None:
            return Text("waiting for the first poll…", style="dim")
        width = self.size.width
        checks = self.verdict.checks
        longest_reason = max((cell_len(c.reason) for c in checks), default=0)
        # Below 90 columns the bound matters more (the reason is also in the summary line); with
        # every check passing there is no reason to show and the bound takes the room.
        why = width >= 90 and longest_reason > 0
        wide = width >= 80
        table = Table.grid(padding=(0, 1), expand=True)
        columns = 5 + wide + why
        name_width = min(max((len(c.name) for c in checks), default=10), 24)
        # On a very narrow panel the names give way (to no less than NAME_MIN), never the mark or
        # the values: a table wider than the panel would have rich squeeze the mark column to nothing.
        short = (1 + name_width + 8 + 8 + (4 if wide else 0)) + (columns - 1) + BOUND_MIN - width
        name_width = max(NAME_MIN, name_width - max(0, short))
        table.add_column(no_wrap=True, width=1)  # result
        table.add_column(no_wrap=True, width=name_width, overflow="ellipsis")  # name
        table.add_column(no_wrap=True, justify="right", width=8)  # canary
        table.add_column(no_wrap=True, justify="right", width=8)  # stable
        fixed = 1 + name_width + 8 + 8 + (4 if wide else 0)
        # One space between columns. Narrower still, the bound gives way too: never the mark.
        free = max(1, width - fixed - (columns - 1))
        bound_width = _bound_width(free, max((cell_len(c.bound) for c in checks), default=0),
                                   longest_reason if why else 0)
        # The bound can be long (which bucket, stable's threshold): what does not fit is cut with an ellipsis.
        table.add_column(no_wrap=True, overflow="ellipsis", width=bound_width)  # bound
        if wide:
            table.add_column(no_wrap=True, justify="right", width=4)  # confidence
        if why:
            table.add_column(no_wrap=True, overflow="ellipsis", width=max(1, free - bound_width))  # why
        headings, shown = self.rows_shown(self.size.height)
        header = [Text("", style="bold"), Text("check", style="bold"), Text("canary", style=f"bold {CANARY}"),
                  Text("stable", style=f"bold {STABLE}"), Text("bound", style="bold")]
        if wide:
            header.append(Text("conf", style="bold"))
        if why:
            header.append(Text("why", style="bold"))
        if headings:
            table.add_row(*header)
        for check in (checks[i] for i in shown):
            mark = RESULT_MARK[check.result]
            row = [
                Text(mark.split()[0], style=f"bold {RESULT_STYLE[check.result]}"),
                Text(check.name),
                Text(check_value(check.canary, check.unit), style=CANARY),
                Text(check_value(check.stable, check.unit), style=STABLE),
                Text(_bound_in(check.bound, bound_width), style="dim"),
            ]
            if wide:
                row.append(Text(confidence(check.confidence)))
            if why:
                row.append(Text(check.reason, style=RESULT_STYLE[check.result] if check.reason else ""))
            table.add_row(*row)
        footer = self.stale_reason or self.verdict.summary
        parts = [table] if headings or shown else []  # an empty table still takes a row
        if not footer:
            return Group(*parts)
        line = Text(footer, style="bold red" if self.stale_reason else "italic")
        # The summary says what would roll the canary back and why: wrap it over the rows the
        # table leaves free rather than cut it; only the last row that fits gets an ellipsis.
        free_rows = max(1, self.size.height - headings - len(shown))
        return Group(*parts, *wrap_to_rows(line, width, free_rows, self.app.console))


def _bound_in(bound: str, width: int) -> str:
    """A derived bound that does not fit, its number first: "<= stable + 0.50% = 1.64% (stable's
    ...)" cut to its width read "<= stable + 0.50% …", the threshold itself gone; "<= 1.64%
    (stable + 0.50%)" keeps it. The whole text is in the check's details (d)."""
    if cell_len(bound) <= width or not bound.startswith("<= ") or " = " not in bound:
        return bound
    rule, _, derived = bound[3:].partition(" = ")
    return f"<= {derived.split(' (', 1)[0]} ({rule})"


def _bound_width(free: int, longest_bound: int, longest_reason: int) -> int:
    """The bound column's share of `free` columns, the reason taking the rest.

    Each gets all it needs when both fit; otherwise 2:3, except that one needing less than
    its share leaves the rest to the other.
    """
    if not longest_reason:
        return free
    if longest_bound + longest_reason <= free:
        return max(BOUND_MIN, longest_bound)
    share = max(BOUND_MIN, free * 2 // 5)
    if longest_bound <= share:
        return max(BOUND_MIN, longest_bound)
    if longest_reason <= free - share:
        return free - longest_reason
    return share
