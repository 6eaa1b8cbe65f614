"""Pilot tests: press the keys, then ask the router what it now holds."""

import pytest

from tests.conftest import make_demo_controller
from tui.app.app import CanaryApp
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.weight import WeightScreen


def _app(read_only=False, **demo):
    controller, clock = make_demo_controller(read_only=read_only, **demo)
    controller.backfill()
    clock.advance(2)
    controller.poll_once()
    return CanaryApp(controller, poll=False), controller


async def _settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def canary(controller):
    return controller.router.read().canary_weight


async def test_plus_and_minus_step_the_canary():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("plus")
        await _settle(pilot)
        assert canary(controller) == 10
        await pilot.press("plus", "equals_sign")
        await _settle(pilot)
        assert canary(controller) == 20
        await pilot.press("minus")
        await _settle(pilot)
        assert canary(controller) == 15
        # the screen shows what the router holds
        assert "15%" in str(app.query_one("#traffic").render())


async def test_w_sets_an_exact_validated_weight():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        assert isinstance(app.screen, WeightScreen)
        await pilot.press("1", "5", "0", "enter")  # 150: refused by the dialog, nothing sent
        await pilot.pause()
        assert isinstance(app.screen, WeightScreen)
        assert canary(controller) == 5
        await pilot.press("backspace", "backspace", "backspace", "3", "5", "enter")
        await _settle(pilot)
        assert not isinstance(app.screen, WeightScreen)
        assert canary(controller) == 35


async def test_w_escape_cancels():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w", "5", "0", "escape")
        await _settle(pilot)
        assert canary(controller) == 5


@pytest.mark.parametrize("cancel", ["n", "escape"])
async def test_rollback_cancelled_changes_nothing(cancel):
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(cancel)
        await _settle(pilot)
        assert canary(controller) == 5
        assert controller.router.table.canary_replicas > 0


@pytest.mark.parametrize("confirm", ["y", "enter"])
async def test_rollback_confirmed_moves_all_traffic_and_scales_down(confirm):
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r", confirm)
        await _settle(pilot)
        assert canary(controller) == 0
        assert controller.router.table.canary_replicas == 0
        assert any(e.kind == "rollback" and e.reason == "key r (confirmed)" for e in controller.state().events)


async def test_promote_needs_confirmation():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p", "n")
        await _settle(pilot)
        assert canary(controller) == 5
        await pilot.press("p", "y")
        await _settle(pilot)
        assert canary(controller) == 100


async def test_f_cycles_the_demo_fault():
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f")
        await _settle(pilot)
        assert controller.metrics.world.fault == "errors"
        await pilot.press("f")
        await _settle(pilot)
        assert controller.metrics.world.fault == "latency"
        await pilot.press("f")
        await _settle(pilot)
        assert controller.metrics.world.fault == "down"
        await pilot.press("f")
        await _settle(pilot)
        assert controller.metrics.world.fault == "none"


async def test_f_pressed_three_times_at_once_cycles_three_faults_on():
    # The next fault was read on the UI thread before the previous press's worker ran: "f f f"
    # injected "errors" three times.
    import time

    app, controller = _app()
    switch = controller.fault_switch

    def slow_switch(fault):  # a worker still busy when the next press comes, as on a loaded machine
        time.sleep(0.2)
        switch(fault)

    controller.fault_switch = slow_switch
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f", "f", "f")
        for _ in range(10):
            await pilot.pause(0.1)
        await _settle(pilot)
        assert controller.metrics.world.fault == "down"
        injected = [e.message for e in app.controller.state().events if e.kind == "fault"]
        assert injected == ["injected fault: errors", "injected fault: latency", "injected fault: down"]


async def test_help_lists_the_keys():
    app, _ = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert ("r", "rollback: canary 0%, canary scaled to 0 (asks first)") in app.screen.keys
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_read_only_disables_and_hides_every_mutating_key():
    app, controller = _app(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("plus", "minus", "w", "p", "r"):
            await pilot.press(key)
            await _settle(pilot)
            assert not isinstance(app.screen, (ConfirmScreen, WeightScreen)), key
        assert canary(controller) == 5
        footer_keys = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert not footer_keys & {"step_up", "step_down", "set_weight", "promote", "rollback"}
        await pilot.press("question_mark")
        await pilot.pause()
        listed = {k for k, _ in app.screen.keys}
        assert not listed & {"+ / =", "-", "w", "p", "r"}


async def test_screenshot_key_writes_an_svg(tmp_path):
    app, _ = _app()
    app.screenshot_dir = tmp_path
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await pilot.pause()
    svgs = list(tmp_path.glob("*.svg"))
    assert len(svgs) == 1 and "x0tta6bl4-app" in svgs[0].read_text()


@pytest.mark.parametrize("key", ["s", "R"])
async def test_a_screenshot_or_report_that_cannot_be_written_is_said_and_the_console_goes_on(tmp_path, key):
    """Before: `s` in a read-only directory ended the console with a traceback (and exit status 0);
    `R` failed in its worker without a word."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    app, controller = _app()
    app.screenshot_dir = blocker / "shots"  # a file where the directory should be
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(key)
        await _settle(pilot)
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("not saved" in m or "not written" in m for m in said), said
        assert app.is_running
        await pilot.press("plus")
        await _settle(pilot)
        assert canary(controller) == 10  # still steering


@pytest.mark.parametrize("size", [(80, 24), (200, 50), (60, 20)])
async def test_every_panel_is_on_screen_at_any_size(size):
    app, _ = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        charts = ("#latency", "#errors") if size != (60, 20) else ()  # too small for charts: hidden
        assert app.query_one("#body").has_class("-compact") is (not charts)
        for panel in ("#checks", "#traffic", *charts, "#events"):
            region = app.query_one(panel).region
            assert region.width > 0 and region.height >= 3, (panel, region)
            assert region.right <= size[0] and region.bottom <= size[1], (panel, region)


async def test_a_toggles_automatic_progression_and_the_header_says_so():
    app, controller = _app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("a")
        await _settle(pilot)
        assert controller.autopilot.progress.enabled
        assert app.state.mode == "AUTO"
        assert "→ 10% in" in str(app.query_one("#status").render())
        await pilot.press("a")
        await _settle(pilot)
        assert not controller.autopilot.progress.enabled


async def test_large_print_shows_weights_verdict_and_last_decision():
    from textual.widgets import Digits

    from tui.app.screens.bridge import BridgeScreen

    app, controller = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("plus")
        await _settle(pilot)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, BridgeScreen)
        assert app.screen.query_one("#canary-weight", Digits).value == "10"
        assert app.screen.query_one("#stable-weight", Digits).value == "90"
        assert "canary 5% -> 10%" in str(app.screen.query_one("#decision").render())
        assert "VERDICT" in str(app.screen.query_one("#verdict").render())
        await pilot.press("L")
        await pilot.pause()
        assert not isinstance(app.screen, BridgeScreen)
        # A rollback: its weights, not only its second half ("canary scaled to 0 replicas")
        await pilot.press("r", "y")
        await _settle(pilot)
        await pilot.press("L")
        await pilot.pause()
        decision = str(app.screen.query_one("#decision").render())
        assert "rollback: canary 10% -> 0%, then canary scaled to 0 replicas — key r (confirmed)" in decision, decision


async def test_large_print_shows_the_checklists_numbers_and_none_for_an_idle_canary():
    from textual.widgets import Digits

    from tui.app.screens.bridge import BridgeScreen

    def digits(screen, key):
        return screen.query_one(f"#{key}", Digits).value

    app, controller = _app(fault="errors")
    for _ in range(15):  # 30 s of a canary at 5% errors: the rate window and the checks disagree
        controller.clock.advance(2)
        controller.poll_once()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("L")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BridgeScreen)
        state = controller.state()
        screen.show(state, controller.clock.time())
        errors = next(c for c in state.verdict.checks if c.name == "error rate")
        p95 = next(c for c in state.verdict.checks if c.name == "p95 latency")
        assert digits(screen, "canary-errors") == f"{errors.canary * 100:.2f}"
        assert digits(screen, "stable-errors") == f"{errors.stable * 100:.2f}"
        assert digits(screen, "canary-p95") == f"{p95.canary:.0f}"
        assert str(screen.query_one("#bridge-since").render()).startswith("since ")
        # ... and what they rest on: "6.67" in big digits may be 1 error in 15 requests
        stable_n, canary_n = state.verdict.requests
        assert 0 < canary_n < stable_n
        assert str(screen.query_one(".canary-label").render()) == f"canary · {canary_n:,.0f} req"
        assert str(screen.query_one(".stable-label").render()) == f"stable · {stable_n:,.0f} req"
        # Rolled back: the canary's rate window still holds its errors; the checklist says n/a.
        controller.rollback("test")
        for _ in range(10):
            controller.clock.advance(2)
            controller.poll_once()
        state = controller.state()
        assert state.snapshot.canary.error_rate is not None  # what the large print used to show
        screen.show(state, controller.clock.time())
        assert digits(screen, "canary-errors") == "-" and digits(screen, "canary-p95") == "-"
        assert digits(screen, "stable-errors") != "-"
        assert str(screen.query_one(".canary-label").render()) == "canary · 0 req"


async def test_large_print_says_why_the_verdict_is_what_it_is():
    from tui.app.showcase import showcase_app

    app = showcase_app(fault="errors", canary=20, minutes=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("L")
        await pilot.pause()
        assert "FAIL" in str(app.screen.query_one("#verdict").render())
        why = str(app.screen.query_one("#why").render())
        assert why.startswith("rollback now: error rate: canary") and "(LLR" in why, why


async def test_read_only_shows_a_banner_and_refuses_the_fault_key():
    app, controller = _app(read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f", "a")
        await _settle(pilot)
        assert controller.metrics.world.fault == "none"
        assert not controller.autopilot.progress.enabled
        banner = app.query_one("#banner")
        assert banner.display and "READ-ONLY" in str(banner.render())


async def test_losing_the_lease_hides_the_write_keys_at_once():
    app, controller = _app()
    async with app.run_test(size=(160, 40)) as pilot:
        def write_keys():
            return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled} & {
                "step_up", "rollback", "promote"}

        assert write_keys() == {"step_up", "rollback", "promote"}
        controller.set_driver(False, "alice@a pid 1 drives this rollout")
        app.apply_state(controller.state())
        await pilot.pause()
        assert write_keys() == set()
        assert "alice@a pid 1 drives this rollout" in str(app.query_one("#banner").render())
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        controller.set_driver(True, "")
        app.apply_state(controller.state())
        await pilot.pause()
        assert write_keys() == {"step_up", "rollback", "promote"}


@pytest.mark.parametrize("action", ["action_large_print", "action_event_log"])
async def test_a_poll_landing_while_a_screen_opens_does_not_crash(action):
    """A state or a clock tick between pushing a screen and its compose used to raise NoMatches."""
    app, controller = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        getattr(app, action)()  # pushes the screen; its compose runs on a later turn of the loop
        app.apply_state(controller.state())
        app._tick()
        await pilot.pause()
        assert type(app.screen).__name__ in ("BridgeScreen", "EventLogScreen")
        assert "VERDICT" in str(app.screen.query_one("#verdict").render()) if action == "action_large_print" \
            else app.screen.shown() == list(controller.state().events)


def test_the_header_ages_the_data_from_the_scrape_when_the_source_knows_it():
    from dataclasses import replace
    from datetime import timedelta

    from tui.app.widgets.status import StatusHeader

    controller, clock = make_demo_controller()
    clock.advance(2)
    state = controller.poll_once()
    header = StatusHeader()
    header.show(state, clock.time())
    assert " data 0s old " in str(header.render())  # the demo says nothing of scrapes
    # Prometheus scraped these numbers 14 s before the poll, which was 3 s ago: they are 17 s old.
    scraped = replace(state.snapshot, scraped_at=state.now - timedelta(seconds=14))
    header.show(replace(state, snapshot=scraped), clock.time() + 3)
    assert " data 17s old " in str(header.render())
    header.tick(clock.time() + 5)
    assert " data 19s old " in str(header.render())  # ticking between polls
    controller.close()


@pytest.mark.parametrize("width", [80, 100, 140, 200])
async def test_a_narrow_header_keeps_the_countdown_and_drops_whole_segments(width):
    from tui.app.widgets.status import StatusHeader

    app, controller = _app()
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.press("a", "f")
        await _settle(pilot)
        await pilot.pause()
        header = app.query_one(StatusHeader)
        line = str(header.render())
        # What the screen shows: a line too long is cut with an ellipsis in the last cell.
        visible = line if len(line) <= width else line[:width - 1]
        assert visible.startswith(f" {controller.state().name} ")
        assert " AUTO " in visible and " data " in visible
        assert "→ 10% in " in visible  # automation's countdown comes before the demo's extras
        # Cut at a word with "…", never on a stump: "→ 10% in 5m00s if" read as a certain step.
        automation = controller.state().automation
        if automation not in visible:
            tail = visible.split(" → 10% in ", 1)[1]
            assert tail.endswith("…") and tail.split()[-1] not in ("if…", "in…", "at…"), visible
        # The fault, clock and backends show whole or not at all: never a stump like "injected".
        assert ("injected fault: errors" in visible) == ("injected" in visible)
        assert ("UTC" in visible) <= ("injected fault: errors" in visible)
        assert ("demo router" in visible) <= ("UTC" in visible)
        if width >= 140:
            assert "injected fault: errors" in visible and "UTC" in visible


@pytest.mark.parametrize("width", [60, 80, 120])
async def test_a_long_rollout_name_gives_way_to_the_datas_age_and_automation(width):
    """Before: a 60-character rollout name at 80 columns left the header "<name>   AUTO    data 2s":
    STALE, the badges and the countdown were past the edge."""
    from dataclasses import replace

    from tui.app.widgets.status import StatusHeader

    app, controller = _app()
    long_name = "payments-gateway-frontend-europe-west4-production-canary-v2"
    controller.config = replace(controller.config, name=long_name)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.press("a")
        await _settle(pilot)
        await pilot.pause()
        line = str(app.query_one(StatusHeader).render())
        visible = line if len(line) <= width else line[:width - 1]
        assert " AUTO " in visible and " data " in visible and " old " in visible, visible
        assert " DEMO " in visible, visible  # made-up numbers never pass for the real rollout
        assert "step 1/10" in visible, visible
        assert visible.startswith(" payments-ga")  # cut, never below 12 cells ("payments-ga…")
        if width >= 120:
            assert visible.startswith(f" {long_name} ")  # whole when there is room


@pytest.mark.parametrize(("size", "compact"), [((40, 14), True), ((50, 14), True), ((60, 20), True),
                                               ((120, 21), True), ((80, 24), False), ((200, 50), False)])
async def test_a_terminal_too_small_for_charts_hides_them_and_says_so(size, compact):
    app, controller = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.resize_terminal(*size)  # a resize alone, no poll, relays it out
        await pilot.pause()
        body = app.query_one("#body")
        assert body.has_class("-compact") is compact
        for chart in ("#latency", "#errors"):
            assert app.query_one(chart).display is not compact
            if not compact:  # a chart shown can draw its axes and lines
                region = app.query_one(chart).region
                assert region.width >= 20 and region.height >= 6, region
        subtitle = app.query_one("#traffic").border_subtitle
        assert (f"charts hidden: {size[0]}x{size[1]} is too small" == subtitle) is compact
        # The checklist's mark column survives any width: every check row starts with its mark.
        checks = app.query_one("#checks")
        lines = [line.text.strip("│ ") for line in checks.render_lines(checks.region.reset_offset)]
        headings, shown = checks.rows_shown(checks.size.height)  # a short pane shows fewer
        assert lines[1].startswith("check") is headings
        rows = lines[1 + headings:1 + headings + len(shown)]
        assert rows and all(row[:1] in "?✓✗!–" and row[1] == " " for row in rows), lines
        # ...and its title keeps the verdict whole (at 50 columns it read "verdict …").
        title = str(checks.border_title)
        assert title.endswith("verdict ? UNDECIDED") and len(title) <= checks.size.width - 4, title


@pytest.mark.parametrize("key,answer", [("r", "n / Esc: cancel"), ("p", "n / Esc: cancel"),
                                        ("w", "Esc: cancel")])
async def test_a_dialog_on_a_short_pane_still_says_how_to_answer(key, answer):
    # At 50x14 the rollback dialog's text ran off the screen and took "y / Enter: confirm" with it.
    app, _ = _app()
    async with app.run_test(size=(50, 14)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        keys = app.screen.query_one("#keys")
        assert answer in str(keys.render())
        assert keys.region.height >= 1 and keys.region.bottom <= 14, keys.region


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_large_print_keeps_every_number_on_a_short_screen(size):
    from tui.app.screens.bridge import BridgeScreen

    app, _ = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("L")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BridgeScreen)
        footer_top = size[1] - 1
        for key in ("weight", "p95", "errors"):
            for side in ("stable", "canary"):
                region = screen.query_one(f"#{side}-{key}").region
                assert region.height == 3 and region.bottom <= footer_top, (key, side, region)
        assert screen.query_one("#decision").region.y < footer_top  # the last decision starts on screen


@pytest.mark.parametrize("width", [80, 120])
async def test_a_crashed_canary_is_red_in_the_header(width):
    from tui.app.showcase import showcase_app

    app = showcase_app(fault="down", minutes=1)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        header = str(app.query_one("#status").render())
        assert "CANARY SERVES NOTHING" in header, header
    app = showcase_app(minutes=1)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        assert "SERVES NOTHING" not in str(app.query_one("#status").render())


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_weights_that_can_no_longer_be_read_are_marked_as_the_last_read(size):
    """Before: with the router's reads failing, the traffic panel went on showing the last weights
    read as if current (only the served share vanished), and the header said "data 2s old" from the
    metrics after two minutes without weights."""
    from tests.conftest import UnreadableRouter
    from tui.app.widgets.traffic import TrafficPanel

    app, controller = _app()
    clock = controller.clock
    router = controller.router

    async with app.run_test(size=size) as pilot:
        read_at = controller.state().split_read_at
        controller.router = UnreadableRouter(router)
        for _ in range(60):
            clock.advance(2)
            controller.poll_once()
        app.apply_state(controller.state())
        await pilot.pause()
        panel = app.query_one(TrafficPanel)
        text = " ".join(str(panel.render()).split())
        assert f"as read at {read_at:%H:%M:%S}, 2m00s ago: reading the weights fails (see events)" in text
        assert panel.has_class("-stale")
        assert " data 2m00s old STALE " in str(app.query_one("#status").render())
        controller.router = router  # reads work again: the note and the red go
        clock.advance(2)
        controller.poll_once()
        app.apply_state(controller.state())
        await pilot.pause()
        assert "reading the weights fails" not in str(panel.render()) and not panel.has_class("-stale")


async def test_large_print_shows_no_weights_it_cannot_read():
    """Before: large print went on showing the last weights read in large digits, 95 and 5, with the
    reads failing and the VirtualService perhaps at 100 and 0 by now."""
    from textual.widgets import Digits

    from tests.conftest import UnreadableRouter
    from tui.app.screens.bridge import BridgeScreen

    app, controller = _app()
    router = controller.router

    async with app.run_test(size=(100, 30)) as pilot:
        read_at = controller.state().split_read_at
        await pilot.press("L")
        await pilot.pause()
        controller.router = UnreadableRouter(router)
        for _ in range(3):
            controller.clock.advance(2)
            controller.poll_once()
        app.apply_state(controller.state())
        await pilot.pause()
        assert isinstance(app.screen, BridgeScreen)
        assert app.screen.query_one("#canary-weight", Digits).value == "-"
        assert f"unread since\n{read_at:%H:%M:%S}" in str(app.screen.query_one("#weight-label").render())
        assert "read timed out" in str(app.screen.query_one("#why").render())


@pytest.mark.parametrize("width", [60, 80, 100, 120])
async def test_the_footer_shows_whole_keys_and_always_help(width):
    """Before: at 80 columns the footer ended "L Lar", at 100 ": Comman", and `? Help` (which lists
    every key) was past the edge at both."""
    from tui.app.widgets.footer import FittingFooter, key_width

    app, _ = _app()
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(FittingFooter)
        keys = list(footer.query("FooterKey"))
        shown = [k.description for k in keys]
        assert {"Help", "Rollback", "Promote", "Auto"} <= set(shown), shown
        assert sum(key_width(k) for k in keys) <= width
        assert all(k.region.right <= width for k in keys)  # none cut at the edge
        if width >= 120:
            assert len(shown) == 12  # room for all
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        await pilot.pause()
        assert len(list(app.screen.query_one(FittingFooter).query("FooterKey"))) == 12


async def test_more_traffic_to_a_failing_canary_asks_first_and_less_does_not():
    """Under stress "+" is one key from "-", and a weight change makes the judge start afresh:
    more traffic to a canary its checks fail is confirmed, as a promotion is."""
    from tui.app.showcase import showcase_app
    from tui.model import Result

    def question(app):
        return str(app.screen.query_one("#question").render())

    app = showcase_app(fault="errors", canary=20, minutes=3)
    controller = app.controller
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.state.verdict.result is Result.FAIL
        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "canary its checks fail: 20% -> 25%?" in question(app)
        assert "rollback now: error rate" in str(app.screen.query_one("#checks-now").render())
        await pilot.press("n")
        await _settle(pilot)
        assert canary(controller) == 20
        await pilot.press("w", "1", "0", "enter")  # less traffic: at once
        await _settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert canary(controller) == 10

    app = showcase_app(fault="errors", canary=20, minutes=3)
    controller = app.controller
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("colon", *"weight 30 the 5xx are a known stub", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "20% -> 30%?" in question(app)
        await pilot.press("y")
        await _settle(pilot)
        assert canary(controller) == 30
        change = controller.state().events[-1]
        assert change.to_canary == 30
        assert change.reason == "the 5xx are a known stub (confirmed over failing checks)", change.reason

    # Confirmed "20% -> 25%", but the weights moved meanwhile (another console, kubectl): nothing sent.
    app = showcase_app(fault="errors", canary=20, minutes=3)
    controller = app.controller
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("plus")
        await pilot.pause()
        assert "20% -> 25%?" in question(app)
        assert controller.set_weight(50, reason="bob's test", who="bob").ok
        await pilot.press("y")
        await _settle(pilot)
        assert canary(controller) == 50
        refused = controller.state().events[-1]
        assert not refused.ok and "moved to 50% while you confirmed 20% -> 25%: nothing sent" in refused.message, \
            refused


def _panel_text(app, selector):
    panel = app.query_one(selector)
    if panel.region.height == 0:
        return ""
    return "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))


@pytest.mark.parametrize("size", [(80, 24), (80, 16), (100, 18), (70, 14), (80, 12), (80, 10), (80, 9)])
async def test_a_short_pane_keeps_the_weights_whole_and_no_panel_is_a_bare_border(size):
    """A horizontal tmux split is short: the checks used to take every row and leave the traffic
    split a border without its weights (80x16: no split at all)."""
    app, _ = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        traffic = _panel_text(app, "#traffic")
        assert "stable  95% █" in traffic and "canary   5% ░" in traffic, traffic
        for panel in ("#checks", "#events"):
            height = app.query_one(panel).region.height
            assert height == 0 or height >= 3, (panel, height)  # a border alone says nothing
        checks = app.query_one("#checks")
        if checks.region.height:
            hidden = len(checks.verdict.checks) - len(checks.rows_shown(checks.size.height)[1])
            assert (checks.border_subtitle == f"{hidden} more: d shows every check") if hidden else \
                not checks.border_subtitle
        if size == (80, 24):  # what was served, under the weights, and the header route whole
            assert "Served canary" in traffic and "→ canary 100%  (not driven)" in traffic, traffic


async def test_a_short_pane_keeps_the_failing_checks_and_what_rolls_back():
    from tui.app.showcase import showcase_app

    app = showcase_app(fault="errors", canary=20, minutes=3)
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        checks = _panel_text(app, "#checks")
        lines = checks.splitlines()
        assert "verdict ✗ FAIL" in lines[0]
        assert lines[1].strip("│ ").startswith("✗ error rate "), lines  # the failing ones first
        assert "rollback now: error rate" in checks, checks
        assert "more: d shows every check" in lines[-1], lines
        traffic = _panel_text(app, "#traffic")
        assert "stable  80%" in traffic and "canary  20%" in traffic, traffic


@pytest.mark.parametrize("width", [60, 80])
async def test_a_demo_or_a_rehearsal_says_so_on_any_width(width):
    """At 80 columns the header dropped "demo router (simulated) · demo metrics (simulated)" for
    room: a demo read as the real x0tta6bl4-app, and a rehearsal (real weights, made-up traffic)
    showed its made-up numbers unmarked."""
    from tui.app.widgets.status import StatusHeader
    from tui.backends.demo.router import DemoRouter

    app, controller = _app()
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        assert str(app.query_one(StatusHeader).render()).startswith(" x0tta6bl4-app   DEMO   MANUAL ")
    app, controller = _app()
    controller.router = DemoRouter(controller.router.table, description="istio (stand-in)", simulated=False)
    async with app.run_test(size=(width, 24)) as pilot:
        app.apply_state(controller.state())
        await pilot.pause()
        line = str(app.query_one(StatusHeader).render())
        assert line.startswith(" x0tta6bl4-app   SIMULATED METRICS   MANUAL "), line
    controller.metrics.simulated = False  # both real: no badge
    assert controller.state().simulated == ""


def test_a_short_checklist_keeps_every_failing_check_before_its_headings():
    from tui.app.widgets.checks import ChecksPanel
    from tui.model import Check, Result, Verdict

    def check(name, result):
        return Check(name=name, metric="error_rate", result=result, canary=None, stable=None, bound="", unit="%")

    panel = ChecksPanel()
    checks = (check("a", Result.PASS), check("b", Result.FAIL), check("c", Result.NODATA), check("d", Result.FAIL))
    panel.verdict = Verdict(Result.FAIL, checks, "rollback now: b")
    assert panel.rows_shown(3) == (False, [1, 3])  # the summary and both failing checks, no headings
    assert panel.rows_shown(4) == (True, [1, 3])  # then the headings
    assert panel.rows_shown(5) == (True, [1, 2, 3])  # then the undecided, then the passing
    assert panel.rows_shown(6) == (True, [0, 1, 2, 3])  # all, in their order
    assert panel.rows_shown(1) == (False, [])  # the summary alone


@pytest.mark.parametrize("size", [(100, 30), (80, 24), (80, 16)])
async def test_after_a_rollback_the_header_route_says_its_requests_fail(size):
    """A rollback leaves the x-canary route (not driven) and scales the canary to 0: each of its
    requests fails. The question says so before, the panel after (whole, or on one line when short)."""
    app, controller = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("r")
        detail = str(app.screen.query_one("#detail").render())
        assert "Left as is: canary-header (not driven) still sends requests to the canary" in detail, detail
        await pilot.press("y")
        await _settle(pilot)
        traffic = _panel_text(app, "#traffic")
        assert "canary   0%" in traffic, traffic
        if size == (100, 30):
            assert "→ canary 100%  (not driven)" in traffic and "✗ fails: canary at 0 pods" in traffic, traffic
        else:
            assert "→ canary 100% ✗ fails: 0 ready" in traffic, traffic  # whole, not "no ca…"
        assert controller.scale_canary(2, "fixed build").ok
        controller.clock.advance(21)
        app.apply_state(controller.poll_once())
        await pilot.pause()
        traffic = _panel_text(app, "#traffic")
        assert "✗ fails" not in traffic, traffic
        assert ("(not driven)" in traffic) == (size != (80, 16)), traffic  # a short pane keeps it only failing


async def test_100_percent_is_a_promotion_however_it_is_typed():
    """`w 100`, or `+` held at 95% (a key repeats ~30 times a second), sent every request to the
    canary without the question `p` asks: a promotion one stray key away."""
    app, controller = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w", "1", "0", "0", "enter")
        await _settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and canary(controller) == 5
        assert "5% -> 100%" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        await _settle(pilot)
        assert canary(controller) == 5
        # Twenty-five presses faster than the screen follows (each sees 5% on screen, so none asks):
        # the write that would reach 100% is refused, and so is every one after it.
        for _ in range(25):
            app.action_step_up()
        await _settle(pilot)
        assert canary(controller) == 95 and not isinstance(app.screen, ConfirmScreen)
        refused = [e for e in controller.state().events if not e.ok and e.kind == "step"]
        assert len(refused) == 7 and all(  # 5% + 18 steps = 95%: the other 7 presses
            "95% -> 100% sends every request to the canary: that is a promotion, and p asks first" in e.message
            for e in refused), refused
        toasts = [n.message for n in app._notifications]
        assert sum("that is a promotion" in t for t in toasts) == 1, toasts  # said once, logged seven times
        await pilot.press("plus")  # the screen shows 95%: `+` asks as `p` does
        await _settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await _settle(pilot)
        assert canary(controller) == 100
        last = [e for e in controller.state().events if e.kind == "promote"][-1]
        assert (last.from_canary, last.to_canary, last.reason) == (95, 100, "key + (confirmed)")


async def test_an_open_question_shows_the_checks_as_they_are_now():
    """A promotion's question left open said "Checks now: ? UNDECIDED" over a canary that had failed
    since: `y` promoted a failing canary on the dialog's word."""
    app, controller = _app(fault="errors")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        asked = str(app.screen.query_one("#checks-now").render())
        assert "UNDECIDED" in asked and "Changed since asked" not in asked, asked
        for _ in range(60):  # two minutes of a canary at 10x errors, the question still open
            controller.clock.advance(2)
            app.apply_state(controller.poll_once())
        await pilot.pause()
        now = str(app.screen.query_one("#checks-now").render())
        assert now.startswith("Changed since asked: Checks now: ✗ FAIL"), now
        # A `y` typed as it changed was meant for the old verdict: it asks again, on the new one.
        await pilot.press("y")
        await _settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and canary(controller) == 5
        assert str(app.screen.query_one("#checks-now").render()).startswith("Checks now: ✗ FAIL")
        assert "The checks changed while you were asked" in str(app.screen.query_one("#keys").render())
        await pilot.press("y")  # on what they say now: the person's call
        await _settle(pilot)
        assert canary(controller) == 100


async def test_a_rollback_question_shows_live_checks_and_never_asks_twice():
    app, controller = _app(fault="errors")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        for _ in range(60):
            controller.clock.advance(2)
            app.apply_state(controller.poll_once())
        await pilot.pause()
        assert str(app.screen.query_one("#checks-now").render()).startswith("Changed since asked: Checks now: ✗ FAIL")
        await pilot.press("y")  # the safe direction is not held up by a second question
        await _settle(pilot)
        assert canary(controller) == 0


@pytest.mark.parametrize("room", range(5, 60))  # from the first word and its "…"
def test_automation_cut_to_any_room_fits_and_never_ends_on_a_stump(room):
    from tui.app.widgets.status import _DANGLING, _fit_words

    line = "step 1/10 at 5% → 10% in 5m00s if checks pass"
    shown = _fit_words(line, room)
    assert len(shown) <= room
    if shown != line:
        assert shown.endswith("…") and line.startswith(shown[:-1])
        last = shown[:-1].split(" ")[-1]
        assert last not in _DANGLING and line[len(shown) - 1] in " ", shown  # whole words only
