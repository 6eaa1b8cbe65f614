"""The `:` command line and the `/` event filter: parsed in plain Python, carried out through the controller."""

from dataclasses import replace
from datetime import timedelta

import pytest
from textual.widgets import Input

from tests.test_app import _app, _settle, canary
from tui.app.app import CanaryApp
from tui.app.commands import Command, CommandError, parse, suggestions
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.prompt import PromptScreen
from tui.app.widgets.events import EventPanel
from tui.app.widgets.traffic import TrafficPanel
from tui.model import with_weights as _weights

# --- parsing -------------------------------------------------------------------


@pytest.mark.parametrize("line, expected", [
    ("weight 20", Command("weight", 20, "")),
    (":weight 20% p95 fine at 10%", Command("weight", 20, "p95 fine at 10%")),
    ("w 0", Command("weight", 0, "")),
    ("set-weight 100 go", Command("weight", 100, "go")),
    ("  up   second step  ", Command("up", None, "second step")),
    ("+", Command("up", None, "")),
    ("- latency creeping", Command("down", None, "latency creeping")),
    ("ROLLBACK 5xx on /pay", Command("rollback", None, "5xx on /pay")),
    ("promote", Command("promote", None, "")),
    ("auto", Command("auto", None)),
    ("auto OFF", Command("auto", "off")),
    ("fault errors", Command("fault", "errors")),
    ("filter rollback", Command("filter", "rollback")),
    ("/ key r", Command("filter", "key r")),
    ("filter", Command("filter", "")),
    ("q", Command("quit")),
    ("report", Command("report")),
    ("scale 2 image v1.2.1 fixes the 5xx", Command("scale", 2, "image v1.2.1 fixes the 5xx")),
])
def test_parse(line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("line, message", [
    ("", "type a command"),
    ("roll back", "unknown command 'roll'; did you mean 'rollback'?"),
    ("weigth 20", "unknown command 'weigth'; did you mean 'weight'?"),
    ("xyzzy", "unknown command 'xyzzy'; try: weight, up"),
    ("weight", "weight needs a number"),
    ("weight 101", "out of range"),
    ("weight -5", "out of range"),
    ("weight 2.5", "not a whole number"),
    ("auto maybe", "auto takes on, off or nothing"),
    ("fault slow", "fault takes one of none, errors, latency"),
    ("quit now", "quit takes no arguments"),
    ("scale", "scale needs the canary's replicas"),
    ("scale -1", "not '-1'"),
    ("scale two", "not 'two'"),
])
def test_parse_refuses_with_a_reason(line, message):
    with pytest.raises(CommandError, match=message):
        parse(line)


def test_the_reason_is_the_operators_words_else_how_it_was_asked():
    assert parse("rollback 5xx").reason("command :rollback") == "5xx"
    assert parse("rollback").reason("command :rollback") == "command :rollback"
    assert parse("weight 5").writes and parse("rollback").writes and not parse("filter x").writes


def test_every_suggestion_parses_or_only_lacks_its_argument():
    for s in suggestions():
        try:
            parse(s)
        except CommandError as exc:
            assert "needs a number" in str(exc) or "fault takes" in str(exc) or "scale needs" in str(exc), s


# --- the command line in the console --------------------------------------------


async def _type(pilot, text):
    for ch in text:
        await pilot.press({" ": "space", ":": "colon", "/": "slash", "%": "percent_sign", "[": "left_square_bracket",
                           "]": "right_square_bracket"}.get(ch, ch))


async def _command(pilot, line):
    """`:` + the line + Enter, then let any write finish."""
    await pilot.press("colon")
    await _type(pilot, line)
    await pilot.press("enter")
    await _settle(pilot)


def _last(controller, message):
    return [e for e in controller.state().events if e.message == message][-1]


async def test_colon_weight_sets_the_weight_and_records_the_reason():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        assert isinstance(app.screen, PromptScreen)
        await _type(pilot, "weight 20 p95 fine at 5%")
        await pilot.press("enter")
        await _settle(pilot)
        assert not isinstance(app.screen, PromptScreen)
        assert canary(controller) == 20
        assert _last(controller, "canary 5% -> 20%").reason == "p95 fine at 5%"


async def test_the_traffic_panel_shows_the_last_change_and_the_plan():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(TrafficPanel)
        assert "Last change" not in str(panel.render())  # nothing changed yet
        await _command(pilot, "weight 10 first step looks clean")
        text = str(panel.render())
        assert "Last change" in text and "5% → 10% by" in text and "first step looks clean" in text
        assert "Steps (then a person promotes)" in text and "5 10 15 20 25 30 35 40 45 50" in text
        await pilot.press("r", "y")
        await _settle(pilot)
        text = str(panel.render())
        assert "10% → 0% rollback by" in text and "key r (confirmed)" in text


async def test_a_bad_command_keeps_the_prompt_open_and_sends_nothing():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _command(pilot, "weight 150")
        assert isinstance(app.screen, PromptScreen)
        assert "out of range" in str(app.screen.query_one("#error").render())
        assert canary(controller) == 5
        await pilot.press("escape")
        await _settle(pilot)
        assert not isinstance(app.screen, PromptScreen)
        assert canary(controller) == 5


async def test_colon_rollback_asks_first_and_records_the_operators_reason():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        await _type(pilot, "ro")
        await pilot.press("tab")  # completes "rollback "
        await _type(pilot, "5xx on [checkout]")
        await pilot.press("enter")
        await _settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Reason recorded: 5xx on [checkout]" in str(app.screen.query_one("#reason").render())
        assert canary(controller) == 5  # nothing before the answer
        await pilot.press("y")
        await _settle(pilot)
        assert canary(controller) == 0
        assert controller.router.table.canary_replicas == 0
        assert _last(controller, "canary 5% -> 0%").reason == "5xx on [checkout]"  # literal, not markup


async def test_read_only_refuses_write_commands_in_the_prompt():
    app, controller = _app(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _command(pilot, "weight 20")
        assert isinstance(app.screen, PromptScreen)
        assert "read-only" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        await _settle(pilot)
        assert canary(controller) == 5
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = {usage.split()[0] for usage, _ in app.screen.commands}
        assert not listed & {":weight", ":up", ":down", ":promote", ":rollback", ":auto", ":fault"}
        assert ":filter" in listed


async def test_colon_auto_on_and_off_never_toggle_the_wrong_way():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        for line, mode in (("auto off", "MANUAL"), ("auto on", "AUTO"), ("auto on", "AUTO"), ("auto off", "MANUAL")):
            await _command(pilot, line)
            assert controller.state().mode == mode, line


@pytest.mark.parametrize("line, mode", [("auto off", "MANUAL"), ("auto on", "AUTO")])
async def test_colon_auto_on_a_held_automation_does_what_it_says(line, mode):
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await _settle(pilot)
        await pilot.press("plus")  # a person's change holds automation
        await _settle(pilot)
        assert controller.state().mode == "AUTO HELD"
        await _command(pilot, line)
        assert controller.state().mode == mode


# --- the / filter ------------------------------------------------------------------


async def test_slash_filters_the_events_live_and_escape_shows_all():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("plus", "plus", "minus"):
            await pilot.press(key)
            await _settle(pilot)
        panel = app.query_one(EventPanel)
        total = len(panel.events)
        assert total >= 3
        await pilot.press("slash")
        await _type(pilot, "canary 5%")
        await pilot.pause()
        assert [e.message for e in panel.shown()] == ["canary 5% -> 10%"]  # applied while typing
        assert f"1 of {total}" in panel.border_title
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)
        assert len(panel.shown()) == 1  # Enter keeps it
        assert "canary 5% -> 10%" in str(panel.render())
        assert "canary 10% -> 15%" not in str(panel.render())
        await pilot.press("escape")
        await pilot.pause()
        assert len(panel.shown()) == total and panel.border_title == "Events (UTC) · e: all"


async def test_escape_in_the_filter_prompt_restores_the_previous_filter():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("plus")
        await _settle(pilot)
        panel = app.query_one(EventPanel)
        await pilot.press("slash")
        await _type(pilot, "no such [text")
        await pilot.pause()
        assert panel.shown() == []
        assert "no event contains" in str(panel.render())
        await pilot.press("escape")
        await pilot.pause()
        assert panel.filter_text == "" and len(panel.shown()) == len(panel.events)


async def test_e_shows_every_event_held_and_follows_the_filter():
    from tui.app.screens.events import EventLogScreen

    app, controller = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        for i in range(40):  # far more than the panel shows
            controller.record("info", f"event number {i}")
        controller.poll_once()
        app.apply_state(controller.state())
        await pilot.pause()
        assert len(app.query_one(EventPanel).render().plain.splitlines()) < 10
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventLogScreen)
        assert {f"event number {i}" for i in range(40)} <= {e.message for e in screen.shown()}
        log = screen.query_one("#event-log")
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y  # opens on the newest
        await pilot.press("home")
        await pilot.pause()
        assert log.scroll_y == 0
        await pilot.press("slash")
        await _type(pilot, "number 3")
        await pilot.press("enter")
        await pilot.pause()
        assert [e.message for e in app.screen.shown()] == ["event number 3"] + [f"event number 3{i}" for i in range(10)]
        assert "containing 'number 3'" in str(app.screen.query_one("#event-log").border_title)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EventLogScreen)
        await _command(pilot, "events")
        assert isinstance(app.screen, EventLogScreen)
        await pilot.press("e")  # the events key, as bound, closes it again
        await pilot.pause()
        assert not isinstance(app.screen, EventLogScreen)


@pytest.mark.parametrize("poll", [False, True])
async def test_the_cursor_blinks_only_on_a_live_console(poll):
    """A frozen console (snapshots, screenshots) must draw the same cursor whenever it is captured."""
    _, controller = _app()
    app = CanaryApp(controller, poll=poll)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        await pilot.pause()
        assert app.screen.query_one("#line", Input).cursor_blink is poll
        await pilot.press("escape", "w")
        await pilot.pause()
        assert app.screen.query_one("#weight", Input).cursor_blink is poll


async def test_the_traffic_panel_shows_what_the_versions_served():
    """The weights are what was asked; the served share is what the metrics saw, over the window."""
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        panel = app.query_one(TrafficPanel)
        snap = app.state.snapshot
        c, s = snap.canary.requests_per_second, snap.stable.requests_per_second
        text = str(panel.render())
        assert f"Served canary {c / (c + s) * 100:.1f}% of {c + s:.1f}/s" in text
        assert 0.02 < c / (c + s) < 0.08  # the demo honours the 5% weight
        # For one window after a change the rates mix the traffic before it: no share until then.
        await _command(pilot, "weight 10 next step")
        change = controller.current_split().last_change.at
        text = str(panel.render())
        assert f"Served settling until {(change + timedelta(seconds=60)).strftime('%H:%M:%S')}" in text
        # A change made outside (kubectl: no change note) settles the same way, from when it was seen.
        controller.clock.advance(5)
        controller.router.table.write_routes(
            tuple(r if not r.driven else _weights(r, 30) for r in controller.current_split().routes), None)
        controller.poll_once()
        app.apply_state(controller.state())
        seen = controller.state().weights_moved_at
        assert seen > change
        text = str(panel.render())
        assert f"Served settling until {(seen + timedelta(seconds=60)).strftime('%H:%M:%S')}" in text
        # The note stays the last console's (10%): it is history now, and the panel says so.
        assert "Last note " in text and "moved since with no note" in text
        stale = replace(app.state, error="prometheus at http://x: timed out after 1.0s")
        app.apply_state(stale)
        assert "Served" not in str(panel.render())  # no fresh numbers, no served share
