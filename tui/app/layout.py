"""The main screen's rows and columns from what there is to show: pure arithmetic, no widgets.

The grid (canary.tcss): the checks on top, then the traffic split beside the two charts, then
the events. Every check stays on screen; the charts take the rest, or, when that is too little
for them to draw their axes (a split tmux pane), they are hidden and a short pane gives its
rows by what matters most.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDE_LAYOUT_COLUMNS = 160  # checks beside the traffic split from here; below, checks span the screen
TRAFFIC_COLUMNS = 50  # the traffic panel's width in the wide layout (canary.tcss: grid-columns)
NARROW_TRAFFIC_COLUMNS = 36  # ... in the narrow layout
CHART_MIN_COLUMNS, CHART_MIN_ROWS = 20, 6  # a chart smaller than this cannot show its axes and lines
PANEL_CHROME = 4  # a panel's border and padding, left and right
LONG_SUMMARY = 150  # characters of a typical "rollback now: <check>: <numbers>" summary


@dataclass(frozen=True)
class BodyRows:
    narrow: bool  # the checks span the screen, the split beside the charts
    compact: bool  # the charts are hidden: too small to draw
    top: int  # the checks' row (with the split beside them in the wide layout); 0: hidden
    events: int  # the events' row; 0: hidden


def body_rows(width: int, height: int, banner: int, checks: int | None, routes: int | None,
              weights: int) -> BodyRows:
    """`checks`: how many checks (None before the first verdict); `routes`: the traffic panel's
    route lines at the wide layout's width (None before the first read); `weights`: the driven
    routes' lines at the screen's width, what a short pane keeps above all."""
    # Side by side only when the checklist still gets its confidence and why columns: the
    # decision and its numbers matter more than chart width on a shared screen.
    narrow = width < WIDE_LAYOUT_COLUMNS
    route_rows = routes + 2 if routes is not None else 6
    # header row + one row per check + the summary rows + the border
    check_rows = (checks if checks is not None else 6) + summary_rows(narrow, width, height) + 3
    top = check_rows if narrow else max(check_rows, route_rows)
    event_rows = max(4, min(9, height // 5))
    # Charts squeezed below what they can draw are noise (axis labels run into each other).
    body = height - 2 - banner  # less the header and the footer
    chart_rows = body - top - event_rows
    chart_columns = (width - NARROW_TRAFFIC_COLUMNS) // 2 if narrow else width
    compact = chart_rows < CHART_MIN_ROWS or chart_columns < CHART_MIN_COLUMNS
    if compact:
        top, event_rows = short_rows(body, check_rows, weights + 2, event_rows)
    return BodyRows(narrow, compact, top, event_rows)


def short_rows(rows: int, checks: int, weights: int, events: int) -> tuple[int, int]:
    """Rows for the checks and the events on a screen without charts; the split takes the rest.

    First what a short pane (a split tmux window) must show: the driven routes' weights, the
    checks' border with the summary (the verdict is in its title), one event; then every
    check, then the events wanted; the split gets what is left, and at least its weights."""
    left = max(0, rows - min(weights, rows))
    top = 3 if left >= 3 else 0  # a panel of fewer rows would be its border alone
    left -= top
    event_rows = 3 if left >= 3 else 0
    left -= event_rows
    more = min(left, max(0, checks - top)) if top else 0
    top, left = top + more, left - more
    event_rows += min(left, max(0, events - event_rows)) if event_rows else 0
    return top, event_rows


def summary_rows(narrow: bool, width: int, height: int) -> int:
    """Rows for the checks summary (what would roll back, and why), from the screen, not the text.

    A failing check's reason runs to ~150 characters; sized by the text, the charts would jump
    with every poll. Tall screens give it up to three rows; 24-row screens one.
    """
    free = width - (0 if narrow else TRAFFIC_COLUMNS) - PANEL_CHROME
    wanted = -(-LONG_SUMMARY // max(20, free))
    fits = 1 if height < 30 else 2 if height < 44 else 3
    return max(1, min(wanted, fits))
