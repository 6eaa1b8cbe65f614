"""The charts' axes and borders: round ticks, and titles that fit the chart's width whole."""

import pytest
from rich.text import Text

from tui.app.showcase import showcase_app
from tui.app.widgets.charts import MetricChart, nice_ticks, tick_label


@pytest.mark.parametrize("low,high,most,ticks", [
    (-20.6, 0, 6, [-20, -15, -10, -5, 0]),
    (-10.1, 0, 4, [-10, -5, 0]),
    (-170, 0, 4, [-150, -100, -50, 0]),  # seconds, while the history is short
    (0, 575, 7, [0, 100, 200, 300, 400, 500]),  # the p95 chart: the 500 ms bound gets its label
    (0, 575, 3, [0, 200, 400]),
    (0, 2.17, 6, [0, 0.5, 1, 1.5, 2]),
    (0, 10.0, 6, [0, 2, 4, 6, 8, 10]),
])
def test_ticks_are_round_and_as_many_as_fit(low, high, most, ticks):
    assert nice_ticks(low, high, most) == pytest.approx(ticks)


def test_ticks_of_nothing_are_none():
    assert nice_ticks(0, 0, 5) == [] and nice_ticks(0, 1, 1) == []


def test_tick_labels_carry_the_decimals_of_their_step():
    assert [tick_label(v, 0.5) for v in (0, 0.5, 1.0)] == ["0", "0.5", "1.0"]
    assert [tick_label(v, 100) for v in (0, 100, 500)] == ["0", "100", "500"]
    assert tick_label(2.5, 2.5) == "2.5" and tick_label(-0.0, 5) == "0"


def _plain(markup) -> str:
    return Text.from_markup(str(markup)).plain


@pytest.mark.parametrize("size", [(200, 50), (120, 36), (100, 30), (80, 24)])
async def test_chart_titles_are_whole_at_every_width(size):
    # At 80 columns they read "p95 ms · stable…" and "red: bound 500 …".
    app = showcase_app(minutes=5)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for chart in app.query(MetricChart):
            room = chart.size.width - 4
            title, subtitle = _plain(chart.border_title), _plain(chart.border_subtitle)
            assert len(title) <= room and len(subtitle) <= room, (size, title, subtitle)
            assert title.startswith(("p95 ms", "errors %"))
            assert "ago" in subtitle  # the x axis's unit is always said
            if size[0] >= 120:
                assert title.endswith("stable vs canary") and subtitle.startswith("red: bound ")
