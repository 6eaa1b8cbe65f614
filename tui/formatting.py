"""Numbers as people read them, shared by the screen, the CLI and the report."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from tui.model import Event, Result

RESULT_MARK = {
    Result.PASS: "✓ PASS",
    Result.FAIL: "✗ FAIL",
    Result.NODATA: "? UNDECIDED",
    Result.WARN: "! HOLD",
    Result.NOT_JUDGED: "– NOT JUDGED",
}


def ms(value: float | None) -> str:
    return "n/a" if value is None or math.isinf(value) else f"{value:.0f} ms"


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}/s"


def cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"


def hhmmss(at: datetime | float | None) -> str:
    if at is None:
        return "--:--:--"
    if isinstance(at, (int, float)):
        at = datetime.fromtimestamp(at, tz=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%H:%M:%S")


def event_who(e: Event) -> str:
    """Who made a change, or "" when nobody knows (a change seen made outside says so in its words)."""
    return e.who if e.who and e.who != "unknown" else ""


def event_line(e: Event) -> str:
    """One event as plain text, as the event log shows it: "10:42:07Z rollback: canary 5% -> 0% —
    auto-rollback: error rate: ... (automation)"."""
    who = event_who(e)
    return (f"{hhmmss(e.at)}Z {e.kind}: {e.message}" + (f" — {e.reason}" if e.reason else "")
            + (f" ({who})" if who else ""))


def check_value(value: float | None, unit: str) -> str:
    if unit == "%":
        return pct(value)
    if unit == "ms":
        return ms(value)
    if unit == " B":
        return mib(value)
    if unit == " cores":
        return cores(value)
    return "n/a" if value is None else f"{value:.3g}"


def route_weights(routes: tuple[tuple[str, int], ...], side: str = "") -> str:
    """Driven routes' canary weights, each named: "us-east 10%, default 5%" (`side` "canary":
    "us-east canary 10%, ...")."""
    word = f"{side} " if side else ""
    return ", ".join(f"{label} {word}{weight}%" for label, weight in routes)


def confidence(value: float | None) -> str:
    """A confidence as a whole percent that never rounds up to certainty: 0.996 is ">99%", not "100%"."""
    if value is None:
        return ""
    if value >= 0.995:
        return ">99%"
    return f"{value * 100:.0f}%"
