"""The console's keys, rebindable in the config's `keys:` section (action -> "key" or "key1,key2").

Key names are Textual's: a character ("r", "R", "?") or a name ("ctrl+r", "f5",
"question_mark"). Checked here, before any screen opens: an unknown action, a key
given to two actions (counting the defaults of the actions not rebound), or a key
the dialogs need (Esc, Enter, Tab) is one config error line.
"""

from __future__ import annotations

import re
import unicodedata

from tui.config.schema import SchemaError

# action id (as in the config) -> default keys, comma-separated. The app's bindings carry these ids.
KEY_DEFAULTS: dict[str, str] = {
    "stepUp": "plus,equals_sign",
    "stepDown": "minus",
    "weight": "w",
    "promote": "p",
    "rollback": "r",
    "auto": "a",
    "fault": "f",
    "screenshot": "s",
    "report": "R",
    "largePrint": "L",
    "help": "question_mark",
    "command": "colon",
    "filter": "slash",
    "events": "e",
    "details": "d",
    "quit": "q",
}

# Esc backs out of every dialog and clears the filter; Enter and Tab belong to the prompts.
RESERVED = {"escape", "enter", "tab"}

_NAME = re.compile(r"^(?:(?:ctrl|shift|alt|meta|super|hyper)\+)*[a-z0-9_]+$")
# Textual's short names for some characters (textual.keys.KEY_NAME_REPLACEMENTS); a test keeps them in step.
_SHORT = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at", "hyphen_minus": "minus",
          "plus_sign": "plus", "low_line": "underscore"}
_UNICODE_NAME = {v: k for k, v in _SHORT.items()}


def normalize_key(key: str) -> str:
    """One key as Textual names it: "?" -> "question_mark", "+" -> "plus", "ctrl+R" -> "ctrl+r", "R" stays."""
    key = key.strip()
    if len(key) == 1:
        if key.isalnum():
            return key
        try:
            name = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
        return _SHORT.get(name, name)
    return key.lower()


def _keys(text: str, path: str) -> list[str]:
    keys = [normalize_key(k) for k in text.split(",")]
    if any(not k for k in keys):
        raise SchemaError(path, f"expected a key, or keys separated by commas (',' itself is comma), got {text!r}")
    for k in keys:
        if len(k) > 1 and not _NAME.match(k):
            raise SchemaError(path, f"{k!r} is not a key name (examples: r, R, ctrl+r, f5, question_mark)")
        if k in RESERVED:
            raise SchemaError(path, f"{k} is kept for the dialogs (back, confirm, complete)")
    return keys


def effective_keys(overrides: dict[str, str | None], path: str = "keys") -> dict[str, str]:
    """Every action's keys, normalized and comma-joined: the defaults with `overrides` over them."""
    taken: dict[str, str] = {}
    out: dict[str, str] = {}
    for action, default in KEY_DEFAULTS.items():
        given = overrides.get(action)
        where = f"{path}.{action}"
        keys = _keys(given, where) if given is not None else default.split(",")
        for k in keys:
            if k in taken:
                other = taken[k]
                raise SchemaError(where if given is not None else f"{path}.{other}",
                                  f"key {k!r} is bound to both {other} and {action}")
            taken[k] = action
        out[action] = ",".join(keys)
    return out


def key_hint(keys: dict[str, str], action: str) -> str:
    """The first key an action is bound to, as a person types it ("r", or "ctrl+r" when rebound):
    for the hints in messages ("roll back (r)"), which must name the key that does it."""
    return display_keys(keys.get(action) or KEY_DEFAULTS[action]).split(" / ")[0]


def display_keys(keys: str) -> str:
    """"plus,equals_sign" -> "+ / =": how a person types them."""
    shown = []
    for k in keys.split(","):
        if k == "minus":  # its Unicode name is HYPHEN-MINUS, which the underscores cannot give back
            k = "-"
        elif len(k) > 1 and "+" not in k:
            try:
                k = unicodedata.lookup(_UNICODE_NAME.get(k, k).replace("_", " "))
            except KeyError:
                pass  # a named key: f5, home
        shown.append(k)
    return " / ".join(shown)
