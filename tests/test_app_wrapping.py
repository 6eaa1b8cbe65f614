"""Long reasons wrap on screen instead of being cut: what rolls the canary back must be readable."""

import pytest
from rich.console import Console
from rich.text import Text
from textual.geometry import Region

from tui.app.showcase import showcase_app
from tui.app.widgets.checks import _bound_in, _bound_width
from tui.app.widgets.wrapping import wrap_to_rows

CONSOLE = Console(width=200)


def test_text_that_fits_is_left_as_it_is():
    assert [line.plain for line in wrap_to_rows(Text("all checks passing"), 40, 3, CONSOLE)] == [
        "all checks passing"]


def test_long_text_wraps_with_a_hanging_indent():
    text = Text("05:55:45 check      check failed: error rate: canary 4.94% errors in 162 requests")
    lines = [line.plain for line in wrap_to_rows(text, 50, 5, CONSOLE, indent=20)]
    assert lines == ["05:55:45 check      check failed: error rate:",
                     "                    canary 4.94% errors in 162",
                     "                    requests"]


@pytest.mark.parametrize("width,rows", [(30, 1), (30, 2), (12, 3), (40, 2)])
def test_text_cut_to_its_rows_ends_in_an_ellipsis(width, rows):
    text = Text("rollback now: error rate: canary 8.54% errors in 82 requests vs bound 1.00% (LLR 5.5 >= 4.6)")
    lines = wrap_to_rows(text, width, rows, CONSOLE)
    assert len(lines) == rows
    assert all(line.cell_len <= width for line in lines)
    assert lines[-1].plain.endswith("…")
    assert not any(line.plain.endswith("…") for line in lines[:-1])


def test_styles_survive_the_wrap():
    text = Text("aaaa bbbb ")
    text.append("cccc dddd", style="red")
    lines = wrap_to_rows(text, 10, 3, CONSOLE, indent=2)
    red = [line for line in lines if any(str(span.style) == "red" for span in line.spans)]
    assert [line.plain.strip() for line in red] == ["cccc", "dddd"]


def _screen_text(app, selector: str) -> str:
    widget = app.query_one(selector)
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_a_failing_checks_numbers_are_all_on_screen(size):
    app = showcase_app(fault="errors", canary=20, minutes=3)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        failure = next(e for e in app.state.events if e.kind == "check")
        events = " ".join(_screen_text(app, "#events").replace("│", " ").split())
        # the whole reason, wrapped over as many rows as it needs
        assert " ".join(failure.message.split()) in events
        if size[1] >= 30:  # tall enough for a two-row summary: the numbers behind the rollback fit
            checks = " ".join(_screen_text(app, "#checks").replace("│", " ").split())
            assert "rollback now: error rate: canary" in checks and "(LLR" in checks and ">= 4.6)" in checks


@pytest.mark.parametrize("free,bound,reason,expected", [
    (80, 40, 0, 80),   # every check passing: no reason column, the bound takes the room
    (80, 40, 35, 40),  # both fit: the bound whole, the reason gets the rest
    (60, 20, 50, 20),  # a short bound leaves the rest to the reason
    (60, 50, 20, 40),  # a short reason leaves the rest to the bound
    (60, 50, 50, 24),  # neither fits: 2:3
    (30, 10, 50, 17),  # never narrower than the threshold needs
])
def test_the_checklist_gives_the_bound_and_the_reason_what_they_need(free, bound, reason, expected):
    assert _bound_width(free, bound, reason) == expected


@pytest.mark.parametrize("bound,width,shown", [
    # cut to its column, "<= stable + 0.50% …" lost the threshold itself: its number comes first
    ("<= stable + 0.50% = 1.64% (stable's error rate upper bound 1.14%)", 21, "<= 1.64% (stable + 0.50%)"),
    ("<= 1.10x stable = 349 ms (stable's p95 upper bound 317 ms; interpolated in the 325-350 ms bucket)", 21,
     "<= 349 ms (1.10x stable)"),
    ("<= stable + 0.50% = 1.64% (stable's error rate upper bound 1.14%)", 80,
     "<= stable + 0.50% = 1.64% (stable's error rate upper bound 1.14%)"),  # room: the whole text
    ("<= 500 ms (interpolated in the 450-500 ms bucket)", 21, "<= 500 ms (interpolated in the 450-500 ms bucket)"),
    ("<= stable + 0.50%", 10, "<= stable + 0.50%"),  # nothing derived yet: as it is
])
def test_a_derived_bound_cut_to_its_column_keeps_its_number(bound, width, shown):
    assert _bound_in(bound, width) == shown


async def test_the_checklist_shows_the_relative_bounds_numbers_at_100_columns():
    app = showcase_app(fault="errors", canary=20, minutes=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        rows = _screen_text(app, "#checks").splitlines()
        rel = next(r for r in rows if "error rate vs stable" in r)
        lat = next(r for r in rows if "p95 latency vs stable" in r)
        assert "<= 1." in rel and "% (stable" in rel, rel
        assert " ms (1.10x " in lat, lat


async def test_the_last_change_wraps_who_and_when_in_a_narrow_traffic_panel():
    # At 120 columns the panel is 32 wide: it read "Last change 21:38:46 · 24m55s a…" and
    # "45% → 50% auto-step by automa…".
    from datetime import timedelta

    from tui.app.widgets.traffic import TrafficPanel

    app = showcase_app(canary=45, minutes=1, who="automation")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        panel = app.query_one(TrafficPanel)
        change = panel.split.last_change
        panel.now = change.at + timedelta(minutes=24, seconds=55)
        lines = [line.plain for line in panel.change_lines(32)]
        assert not any(line.endswith("…") for line in lines), lines
        assert all(len(line) <= 32 for line in lines)
        assert lines[0].startswith("Last change ") and lines[1].strip() == "24m55s ago"
        assert "by automation" in " ".join(" ".join(lines).split())
        wide = [line.plain for line in panel.change_lines(60)]
        assert wide[0].endswith("· 24m55s ago")


async def test_a_routed_canary_that_serves_nothing_is_red_in_the_traffic_panel():
    # The demo's "down": a crashed canary. The panel said nothing (no canary rate, no share line)
    # and the checks "no canary counts in the latest sample".
    from tui.app.widgets.traffic import TrafficPanel

    app = showcase_app(fault="down", canary=20, minutes=1)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        served = app.query_one(TrafficPanel).measured_lines(32)
        assert [line.plain for line in served] == ["Served canary none · routed 20%"]
        assert any("red" in str(span.style) for span in served[0].spans)
        summary = " ".join(_screen_text(app, "#checks").replace("│", " ").split())
        assert "the canary served nothing for" in summary and "while routed 20% (" in summary


async def test_a_routed_stable_that_serves_nothing_is_red_in_the_traffic_panel():
    from datetime import datetime, timezone

    from tui.app.widgets.traffic import MeasuredShare, TrafficPanel
    from tui.model import MetricsSnapshot, VersionSample

    app = showcase_app(minutes=2)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        panel = app.query_one(TrafficPanel)
        crashed = MetricsSnapshot(datetime.now(timezone.utc), stable=VersionSample(),
                                  canary=VersionSample(requests_per_second=5.0))
        panel.measured = MeasuredShare.of(crashed)
        served = panel.measured_lines(32)
        assert [line.plain for line in served] == ["Served stable none · routed 95%"]
        assert any("red" in str(span.style) for span in served[0].spans)


async def test_a_crashed_canarys_stale_rate_is_not_served_share():
    # On the lab, 20 s after the canary crashed: its counter series gone, its rate over the 30 s
    # window still replaying the traffic from before: "Served canary 1.8% of 67.3/s".
    from datetime import datetime, timezone

    from tui.app.widgets.traffic import MeasuredShare, TrafficPanel
    from tui.model import MetricsSnapshot, VersionSample

    app = showcase_app(minutes=2)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        panel = app.query_one(TrafficPanel)
        crashed = MetricsSnapshot(datetime.now(timezone.utc),
                                  stable=VersionSample(requests=190.0, requests_per_second=95.0),
                                  canary=VersionSample(requests_per_second=1.7))
        panel.measured = MeasuredShare.of(crashed)
        assert [line.plain for line in panel.measured_lines(32)] == ["Served canary none · routed 5%"]
        first_poll = MetricsSnapshot(datetime.now(timezone.utc), stable=VersionSample(requests_per_second=95.0),
                                     canary=VersionSample(requests_per_second=5.0))  # no counts yet: rates rule
        panel.measured = MeasuredShare.of(first_poll)
        assert [line.plain for line in panel.measured_lines(32)] == ["Served canary 5.0% of 100.0/s"]


async def test_a_silent_canary_is_red_even_while_the_served_share_settles():
    # 30 s after a change to 20%, the window still holds traffic from before: the line said
    # "settling until ..." while the judge had found the canary silent.
    from tui.app.widgets.traffic import TrafficPanel

    app = showcase_app(fault="down", canary=20, minutes=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.state.verdict.silent == "canary"
        served = app.query_one(TrafficPanel).measured_lines(32)
        assert [line.plain for line in served] == ["Served canary none · routed 20%"]


def test_an_event_names_who_acted_but_not_an_unknown_one():
    """Before: a change made outside read "... (kubectl, GitOps or another tool?) (unknown)"."""
    from datetime import datetime, timezone

    from tui.app.widgets.events import event_parts
    from tui.model import Event

    at = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
    outside = Event(at=at, kind="outside", message="weights changed outside this console: canary 5% -> 20% "
                    "with no change note (kubectl, GitOps or another tool?)", who="unknown")
    assert str(event_parts(outside)[2]).endswith("another tool?)")
    noted = Event(at=at, kind="outside", message="weights changed outside this console: canary 5% -> 20% by "
                  "alice@laptop (set-weight)", who="alice@laptop")
    assert str(event_parts(noted)[2]).endswith("(alice@laptop)")
