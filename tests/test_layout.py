"""The main screen's rows, as numbers: what a short pane keeps, and that nothing is a bare border."""

from hypothesis import given
from hypothesis import strategies as st

from tui.app.layout import body_rows, short_rows


@given(rows=st.integers(0, 60), checks=st.integers(4, 14), weights=st.integers(3, 12), events=st.integers(4, 9))
def test_a_short_pane_keeps_the_weights_first_and_gives_no_panel_a_border_alone(rows, checks, weights, events):
    top, event_rows = short_rows(rows, checks, weights, events)
    assert rows - top - event_rows >= min(weights, rows)  # the split keeps its weights
    assert top == 0 or 3 <= top <= max(3, checks)
    assert event_rows == 0 or 3 <= event_rows <= max(3, events)
    if rows >= weights + 3:
        assert top >= 3  # the summary (what rolls back) before anything else
    if event_rows:
        assert top >= 3  # an event only once the summary is there


def test_rows_at_the_sizes_people_use():
    # 80x24: every check and the charts; the events' 4 rows
    standard = body_rows(80, 24, banner=0, checks=6, routes=7, weights=3)
    assert (standard.narrow, standard.compact, standard.top, standard.events) == (True, False, 10, 4)
    # 80x16 (a horizontal split): no charts; the weights (5 rows), the headings, two checks and the
    # summary (6), one event (3)
    short = body_rows(80, 16, banner=0, checks=6, routes=7, weights=3)
    assert (short.compact, short.top, short.events) == (True, 6, 3)
    # 200x50: side by side, the top row as tall as the taller of the checks and the routes
    wide = body_rows(200, 50, banner=0, checks=6, routes=12, weights=3)
    assert (wide.narrow, wide.compact, wide.top) == (False, False, 14)
