"""Wrapping a line of text into a few rows: a shared screen must not cut a reason off mid-sentence."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def wrap_to_rows(text: Text, width: int, rows: int, console: Console, indent: int = 0) -> list[Text]:
    """`text` wrapped at `width` into at most `rows` lines; the last line says "…" when some was left out.

    Lines after the first start with `indent` spaces: a hanging indent under a prefix column
    (the time and kind of an event).
    """
    width, rows = max(2, width), max(1, rows)
    indent = min(indent, width // 2)
    head = text.wrap(console, width)[0]
    lines = [head]
    rest = text[len(head.plain):]
    skip = len(rest.plain) - len(rest.plain.lstrip())
    rest = rest[skip:]
    if rest.plain:
        lines += [Text(" " * indent) + line for line in rest.wrap(console, width - indent)]
    for line in lines:
        line.rstrip()
    if len(lines) <= rows:
        return lines
    kept = lines[:rows]
    last = kept[-1].copy()
    if last.cell_len <= width - 2:
        last.append(" …")
    else:
        last.truncate(width - 1)
        last.append("…")
    kept[-1] = last
    return kept


def border_title_that_fits(width: int, variants: tuple[str, ...]) -> str:
    """The first of `variants` (console markup), longest first, whose text fits a border `width`
    wide (less its corners and the spaces around a title), else the last: a title cut to
    "verdict …" or "stable…" says less than a shorter one said whole."""
    room = (width or 200) - 4
    for variant in variants:
        if Text.from_markup(variant).cell_len <= room:
            return variant
    return variants[-1]
