"""Snapshot tests of the main screen in deterministic states (seeded demo, manual clock, no polling)."""

from tui.app.showcase import showcase_app


def test_main_screen_healthy(snap_compare):
    assert snap_compare(showcase_app(), terminal_size=(120, 36))


def test_main_screen_during_a_canary_error_fault(snap_compare):
    assert snap_compare(showcase_app(fault="errors", canary=20, minutes=3), terminal_size=(120, 36))


def test_main_screen_at_80x24(snap_compare):
    assert snap_compare(showcase_app(), terminal_size=(80, 24))


def test_rollback_confirmation(snap_compare):
    assert snap_compare(showcase_app(), terminal_size=(100, 30), press=["r"])


def test_command_line_refusing_a_bad_weight(snap_compare):
    keys = ["colon", *"weight", "space", "1", "5", "0", "enter"]
    assert snap_compare(showcase_app(), terminal_size=(100, 30), press=keys)


def test_every_event_scrollable_during_a_fault(snap_compare):
    assert snap_compare(showcase_app(fault="errors", canary=20, minutes=3), terminal_size=(100, 30), press=["e"])
