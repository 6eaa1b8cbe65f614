"""Rebindable keys: checked with the config, applied through Textual's keymap, listed in the help as bound."""

import string

import pytest
from textual.keys import _character_to_key

from tests.test_app import _settle, canary
from tui.app.app import CanaryApp
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.help import HelpScreen
from tui.assembly import build_controller
from tui.clock import ManualClock
from tui.config import ConfigError, from_mapping, load
from tui.config.keys import KEY_DEFAULTS, display_keys, effective_keys, normalize_key
from tui.config.schema import SchemaError


def _config(keys):
    return from_mapping({"name": "app", "router": {"kind": "demo"}, "metrics": {"kind": "demo"}, "keys": keys})


def test_every_printable_character_is_named_as_textual_names_it():
    for ch in string.printable.strip():
        assert normalize_key(ch) == _character_to_key(ch), ch


def test_the_apps_bindings_are_the_configs_actions():
    ids = {b.id for b in CanaryApp.BINDINGS if b.id}
    assert ids == set(KEY_DEFAULTS)
    assert {binding for binding, _, _ in CanaryApp.HELP} == set(KEY_DEFAULTS)
    for b in CanaryApp.BINDINGS:
        if b.id:
            assert b.key == KEY_DEFAULTS[b.id]


def test_defaults_and_overrides():
    assert effective_keys({}) == KEY_DEFAULTS
    keys = _config({"rollback": "ctrl+r", "auto": "r", "help": "?,F1"}).keys
    assert keys["rollback"] == "ctrl+r" and keys["auto"] == "r" and keys["help"] == "question_mark,f1"
    assert keys["promote"] == "p"


@pytest.mark.parametrize("keys, message", [
    ({"rollback": "a"}, "keys.rollback: key 'a' is bound to both rollback and auto"),
    ({"promote": "r"}, "key 'r' is bound to both promote and rollback"),
    ({"quit": "?"}, "key 'question_mark' is bound to both help and quit"),
    ({"rollback": "escape"}, "keys.rollback: escape is kept for the dialogs"),
    ({"rollback": "Enter"}, "enter is kept for the dialogs"),
    ({"rollback": "r,,x"}, "expected a key, or keys separated by commas"),
    ({"rollback": "ctrl r"}, "'ctrl r' is not a key name"),
    ({"rollbak": "x"}, "keys.rollbak: unknown key"),
    ({"rollback": 5}, "keys.rollback: expected a non-empty string"),
])
def test_bad_bindings_are_one_config_error(keys, message):
    with pytest.raises(SchemaError, match=message):
        _config(keys)


def test_a_config_file_with_a_clash_names_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: app\nrouter: {kind: demo}\nmetrics: {kind: demo}\nkeys: {rollback: p}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: keys\.rollback: key 'p' is bound to both promote and rollback"):
        load(path)


def test_display():
    assert display_keys("plus,equals_sign") == "+ / ="
    assert display_keys("question_mark,f1") == "? / f1"
    assert display_keys("minus") == "-" and display_keys("ctrl+r") == "ctrl+r" and display_keys("R") == "R"


async def test_a_rebound_rollback_answers_to_its_new_key_only():
    controller = build_controller(_config({"rollback": "ctrl+r", "auto": "r"}), clock=ManualClock(start=1.8e9))
    app = CanaryApp(controller, poll=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")  # now automation, not a rollback
        await _settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert controller.state().mode == "AUTO"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await _settle(pilot)
        assert canary(controller) == 0
        assert controller.state().events[-1].reason == "key ctrl+r (confirmed)"  # the key actually bound
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert ("ctrl+r", "rollback: canary 0%, canary scaled to 0 (asks first)") in app.screen.keys
        assert ("r", "automatic progression on / off; resumes after a manual hold") in app.screen.keys
    controller.close()
