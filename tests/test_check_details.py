"""`d`: every check in full. The checklist cuts its bound and reason to fit; this view never does."""

from __future__ import annotations

from tests.test_app import _app, _settle
from tests.test_app_commands import _command
from tests.test_app_wrapping import _screen_text
from tui.app.screens.checks import CheckDetailScreen
from tui.model import Result


def _failing_app():
    """The demo app with the errors fault, polled until the judge fails the canary (a minute or two)."""
    app, controller = _app(fault="errors")
    for _ in range(40):
        controller.clock.advance(2)
        if controller.poll_once().verdict.result is Result.FAIL:
            break
    return app, controller


async def test_d_shows_every_check_whole_on_a_narrow_screen_and_follows_the_polls():
    app, controller = _failing_app()
    async with app.run_test(size=(60, 30)) as pilot:
        await _settle(pilot)
        app.apply_state(controller.state())
        assert "…" in _screen_text(app, "#checks")  # the table gives way at 60 columns
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CheckDetailScreen)
        text = _screen_text(screen, "#check-blocks")  # all of it, scrolled or not
        assert "…" not in text
        verdict = controller.state().verdict
        failed = next(c for c in verdict.checks if c.result is Result.FAIL)
        words = " ".join(text.replace("│", " ").split())
        assert failed.reason.split(";")[0] in words  # the whole reason, wrapped, not cut
        relative = next(c for c in verdict.checks if c.name == "p95 latency vs stable")
        assert relative.bound in words and "stable's p95 upper bound" in relative.bound
        assert "that the canary breaches the bound" in words
        assert "a pass needs 95%, a fail 99%" in words or "that the canary is within the bound" in words
        # It follows the polls: a new verdict replaces the blocks.
        controller.clock.advance(2)
        app.apply_state(controller.poll_once())
        await pilot.pause()
        assert screen.state is app.state
        await pilot.press("d")  # the same key closes it
        await pilot.pause()
        assert not isinstance(app.screen, CheckDetailScreen)
        await _command(pilot, "details")
        assert isinstance(app.screen, CheckDetailScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CheckDetailScreen)


async def test_promote_and_rollback_confirmations_say_what_the_checks_say_now():
    """A promotion of a failing canary must not be a blind `y`: the dialog shows the verdict."""
    from dataclasses import replace

    from tui.app.screens.confirm import ConfirmScreen

    app, controller = _failing_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        app.apply_state(controller.state())
        for key in ("p", "r"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            checks = str(app.screen.query_one("#checks-now").render())
            assert checks.startswith("Checks now: ✗ FAIL · rollback now: error rate: canary"), checks
            await pilot.press("escape")
            await pilot.pause()
        app.apply_state(replace(app.state, error="prometheus at http://x: timed out after 1.0s"))
        await pilot.press("p")
        await pilot.pause()
        assert str(app.screen.query_one("#checks-now").render()).startswith("Checks now: STALE: prometheus")
        await pilot.press("escape")
    assert controller.current_split().canary_weight == 5  # nothing was confirmed
