"""The header line: rollout, mode, data age (red when stale), owner, automation, time in UTC, backends."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.controller import ConsoleState
from tui.durations import format_duration
from tui.formatting import hhmmss


class StatusHeader(Widget):
    DEFAULT_CSS = "StatusHeader { height: 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state: ConsoleState | None = None
        self.now: float | None = None  # the controller clock, ticked every second by the app

    def show(self, state: ConsoleState, now: float) -> None:
        self.state, self.now = state, now
        self.refresh()

    def tick(self, now: float) -> None:
        self.now = now
        self.refresh()

    def render(self) -> Text:
        s = self.state
        text = Text(no_wrap=True, overflow="ellipsis")
        if s is None:
            return Text(" canary-console · starting…", style="bold")
        mode_style = {"MANUAL": "bold black on #8b949e", "READ-ONLY": "bold white on #8250df",
                      "AUTO HELD": "bold black on #d29922"}.get(s.mode, "bold black on #3fb950")
        text.append(" ")
        if s.simulated:
            # Never dropped for room: on an 80-column shared screen the backends' names at the end
            # were, and a demo (or a rehearsal's made-up traffic) read as the real rollout.
            text.append(f" {s.simulated} ", style="bold black on #79c0ff")
            text.append(" ")
        text.append(f" {s.mode} ", style=mode_style)
        at = s.data_at
        age = None if at is None or self.now is None else max(0.0, self.now - at.timestamp())
        stale = s.error is not None or age is None or age > 2 * s.interval_s
        if age is None:
            data = " no data yet " if s.error is None else " NO DATA "
        else:
            # How old the numbers are: since the scrape when the source tells it (Prometheus: up
            # to a scrape interval before the poll), else since the poll. STALE is about the polls.
            scraped = s.scrape_age_at(self.now)
            if scraped is not None:
                age = max(age, scraped)
            data = f" data {format_duration(age)} old " + ("STALE " if stale else "")
        text.append("  ")
        text.append(data, style="bold white on #b62324" if stale else "black on #3fb950")
        silent = s.verdict.silent if s.verdict is not None and not stale else None
        if silent:
            # A routed version serving nothing: the header is what a shared screen reads first.
            text.append("  ")
            text.append(f" {silent.upper()} SERVES NOTHING ", style="bold white on #b62324")
        # What a narrow shared screen keeps: who else owns the object, then automation's next move
        # (cut at its end if need be); the demo's fault, the clock and the backends only whole,
        # when they fit: a segment cut to "injected" says nothing.
        if s.split and s.split.owner:
            text.append("  ")
            text.append(f" owned by {s.split.owner} ", style="bold white on #b62324")
        room = self.size.width or None
        # A long rollout name ("payments-gateway-frontend-europe-west4-...") pushed the data's age,
        # STALE and the badges past the edge at 80 columns: the name, put in front now, gives way to
        # them and to the start of automation's next move (cut to 12 cells at least).
        name = s.name
        wanted = text.cell_len + min(30, len(s.automation) + 2 if s.automation else 0)
        if room is not None and len(name) + 2 + wanted > room:
            name = name[:max(12, room - wanted - 2) - 1] + "…"
        text = Text.assemble((f" {name} ", "bold reverse"), text, no_wrap=True, overflow="ellipsis")
        if s.automation:
            text.append(f"  {_fit_words(s.automation, room - text.cell_len - 2 if room else None)}", style="bold")
        optional = []
        if s.fault and s.fault != "none":
            optional.append(Text.assemble("  ", (f" injected fault: {s.fault} ", "bold black on #d29922")))
        optional.append(Text(f"  {hhmmss(self.now)} UTC", style="bold"))
        optional.append(Text(f"  {s.router} · {s.metrics}", style="dim"))
        for segment in optional:
            if room is not None and text.cell_len + segment.cell_len > room:
                break
            text.append_text(segment)
        return text


# Words a cut line must not end on: "→ 10% in 5m00s if…" read as if the step were certain.
_DANGLING = {"if", "at", "in", "to", "→", "and", "or", "of", "the", "a", "by", "for", "once", "from", "when", "until"}


def _fit_words(line: str, room: int | None) -> str:
    """`line` cut at a word with "…" when longer than `room`: "→ 10% in 5m00s if" read as if the
    step were unconditional; "→ 10% in 5m00s…" says there is more."""
    if room is None or len(line) <= room:
        return line
    cut = line[:max(1, room - 1)]
    words = cut.split(" ")
    if len(words) > 1 and not line[len(cut)].isspace():
        words.pop()  # cut inside a word: whole words only
    while len(words) > 1 and words[-1].rstrip(",;:") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:") + "…"
