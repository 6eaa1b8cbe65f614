"""The criteria checklist: why the verdict is what it is, with the numbers."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from tui.app.palette import CANARY, FAIL, NODATA, PASS, STABLE, WARN
from tui.app.widgets.wrapping import wrap_to_rows
from tui.formatting import RESULT_MARK, check_value, confidence
from tui.model import Result, Verdict

RESULT_STYLE = {Result.PASS: PASS, Result.FAIL: FAIL, Result.NODATA: NODATA, Result.WARN: WARN}


class ChecksPanel(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.verdict: Verdict | None = None
        self.stale_reason: str | None = None
        self.border_title = "Checks"

    def show(self, verdict: Verdict | None, stale_reason: str | None) -> None:
        self.verdict, self.stale_reason = verdict, stale_reason
        if verdict is not None:
            self.border_title = f"Checks · verdict {RESULT_MARK[verdict.result]}"
            self.styles.border_title_color = RESULT_STYLE[verdict.result]
        self.refresh()

    def render(self) -> Group | Text:
        if self.verdict is None:
            return Text("waiting for the first poll…", style="dim")
        width = self.size.width
        why = width >= 90  # below that the bound matters more; the reason is also in the summary line
        wide = width >= 80
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True, width=1)  # result
        longest = max((len(c.name) for c in self.verdict.checks), default=10)
        table.add_column(no_wrap=True, width=min(longest, 24), overflow="ellipsis")  # name
        table.add_column(no_wrap=True, justify="right", width=8)  # canary
        table.add_column(no_wrap=True, justify="right", width=8)  # stable
        # The bound can be long (which bucket, stable's threshold): it gets what is left, cut with an ellipsis.
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=2, min_width=17)  # bound
        if wide:
            table.add_column(no_wrap=True, justify="right", width=4)  # confidence
        if why:
            table.add_column(no_wrap=True, ratio=3, overflow="ellipsis")  # why
        header = [Text("", style="bold"), Text("check", style="bold"), Text("canary", style=f"bold {CANARY}"),
                  Text("stable", style=f"bold {STABLE}"), Text("bound", style="bold")]
        if wide:
            header.append(Text("conf", style="bold"))
        if why:
            header.append(Text("why", style="bold"))
        table.add_row(*header)
        for check in self.verdict.checks:
            mark = RESULT_MARK[check.result]
            row = [
                Text(mark.split()[0], style=f"bold {RESULT_STYLE[check.result]}"),
                Text(check.name),
                Text(check_value(check.canary, check.unit), style=CANARY),
                Text(check_value(check.stable, check.unit), style=STABLE),
                Text(check.bound, style="dim"),
            ]
            if wide:
                row.append(Text(confidence(check.confidence)))
            if why:
                row.append(Text(check.reason, style=RESULT_STYLE[check.result] if check.reason else ""))
            table.add_row(*row)
        footer = self.stale_reason or self.verdict.summary
        if not footer:
            return Group(table)
        line = Text(footer, style="bold red" if self.stale_reason else "italic")
        # The summary says what would roll the canary back and why: wrap it over the rows the
        # table leaves free rather than cut it; only the last row that fits gets an ellipsis.
        free_rows = max(1, self.size.height - 1 - len(self.verdict.checks))
        return Group(table, *wrap_to_rows(line, width, free_rows, self.app.console))
