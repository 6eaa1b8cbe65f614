"""The `:` command line: the keys' actions by name, with the operator's reason.

A key records a fixed reason ("key r (confirmed)"); a command can say why, and the
audit log and report keep it: `:rollback 5xx on checkout after the 10% step`.

    weight N [why]     set the canary weight (0-100)        aliases: w, set-weight
    up [why]           step the canary up by stepWeight     alias: +
    down [why]         step the canary down                 alias: -
    promote [why]      canary 100% (asks first)
    rollback [why]     canary 0%, scaled to 0 (asks first)
    scale N [why]      scale the canary to N replicas (back up after a rollback)
    auto [on|off]      automatic progression (no argument: toggle, as `a`)
    fault NAME         demo only: none, errors or latency
    filter [TEXT]      show only events containing TEXT (no text: all)   alias: /
    report | screenshot | large | events | details | help | quit

Plain Python (no Textual): parsed and checked here, carried out by the app.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tui.model import FAULTS

FAULT_NAMES = FAULTS


@dataclass(frozen=True)
class Verb:
    name: str
    usage: str
    what: str
    aliases: tuple[str, ...] = ()
    writes: bool = False  # refused when the console is read-only


VERBS: tuple[Verb, ...] = (
    Verb("weight", "weight N [why]", "set the canary weight to N (0-100)", ("w", "set-weight"), writes=True),
    Verb("up", "up [why]", "step the canary weight up by rollout.stepWeight", ("+",), writes=True),
    Verb("down", "down [why]", "step the canary weight down by rollout.stepWeight", ("-",), writes=True),
    Verb("promote", "promote [why]", "canary 100% on every driven route (asks first)", writes=True),
    Verb("rollback", "rollback [why]", "canary 0%, canary scaled to 0 (asks first)", writes=True),
    Verb("scale", "scale N [why]", "scale the canary to N replicas: back up after a rollback, before it takes "
         "traffic again", writes=True),
    Verb("auto", "auto [on|off]", "automatic progression: on, off, or toggle as `a`", writes=True),
    Verb("fault", "fault " + "|".join(FAULTS), "demo and lab only: set the canary's fault", writes=True),
    Verb("filter", "filter [TEXT]", "show only the events containing TEXT; no TEXT shows all", ("/",)),
    Verb("report", "report", "write the Canary Deployment Report (Markdown)"),
    Verb("screenshot", "screenshot", "save an SVG screenshot"),
    Verb("large", "large", "large print for a shared screen"),
    Verb("events", "events", "every event held, scrollable (the filter applies)"),
    Verb("details", "details", "every check in full: the whole bound and the whole reason"),
    Verb("help", "help", "the keys and the commands"),
    Verb("quit", "quit", "quit (the rollout stays where it is)", ("q",)),
)

_BY_NAME = {name: v for v in VERBS for name in (v.name, *v.aliases)}


def verb_named(name: str) -> Verb:
    """The verb a name or alias stands for (KeyError if none)."""
    return _BY_NAME[name]


class CommandError(ValueError):
    """A line that is not a command; the message says what would be."""


@dataclass(frozen=True)
class Command:
    verb: str  # a Verb.name
    # weight: the percent; scale: replicas; auto: "on"/"off"/None; fault: its name; filter: text
    value: int | str | None = None
    why: str = ""  # the operator's reason, as typed

    @property
    def writes(self) -> bool:
        return verb_named(self.verb).writes

    def reason(self, fallback: str) -> str:
        """What the change records as its reason: the operator's words, else how it was asked."""
        return self.why or fallback


def parse(line: str) -> Command:
    """One command line (with or without the leading ':') -> Command, or CommandError saying why not."""
    text = line.strip().removeprefix(":").strip()
    if not text:
        raise CommandError("type a command: weight N, up, down, promote, rollback, scale N, auto, fault, "
                           "filter, report, help, quit")
    head, _, rest = text.partition(" ")
    rest = rest.strip()
    verb = _BY_NAME.get(head.lower())
    if verb is None:
        # A typo under stress ("weigth 20") gets the command it was meant to be first.
        close = difflib.get_close_matches(head.lower(), [v.name for v in VERBS], n=1, cutoff=0.6)
        meant = f"did you mean {close[0]!r}? " if close else ""
        raise CommandError(f"unknown command {head!r}; {meant}try: {', '.join(v.name for v in VERBS)}")
    name = verb.name
    if name == "weight":
        number, _, why = rest.partition(" ")
        if not number:
            raise CommandError("weight needs a number: weight N [why], N from 0 to 100")
        try:
            value = int(number.rstrip("%"))
        except ValueError:
            raise CommandError(f"weight {number!r} is not a whole number from 0 to 100") from None
        if not 0 <= value <= 100:
            raise CommandError(f"weight {value} is out of range: 0 to 100")
        return Command(name, value, why.strip())
    if name == "scale":
        number, _, why = rest.partition(" ")
        if not number.isdigit():
            raise CommandError("scale needs the canary's replicas: scale N [why], N a whole number >= 0"
                               + (f", not {number!r}" if number else ""))
        return Command(name, int(number), why.strip())
    if name in ("up", "down", "promote", "rollback"):
        return Command(name, None, rest)
    if name == "auto":
        if rest and rest.lower() not in ("on", "off"):
            raise CommandError(f"auto takes on, off or nothing, not {rest!r}")
        return Command(name, rest.lower() or None)
    if name == "fault":
        if rest.lower() not in FAULT_NAMES:
            raise CommandError(f"fault takes one of {', '.join(FAULT_NAMES)}")
        return Command(name, rest.lower())
    if name == "filter":
        return Command(name, rest)
    if rest:
        raise CommandError(f"{name} takes no arguments")
    return Command(name)


def suggestions() -> list[str]:
    """Completions offered while typing (the first word of each command)."""
    out = []
    for v in VERBS:
        out.append(v.name + (" " if v.usage != v.name else ""))
    out += ["auto on", "auto off", *(f"fault {f}" for f in FAULT_NAMES)]
    return out
