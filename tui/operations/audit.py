"""The audit trail: one JSON line per action, appended to a file (``audit.file`` in the config).

Each line: who (user@host), when (UTC ISO), rollout, action, from, to, reason,
result (``ok``, ``refused: <why>`` for an action the controller refused, ``failed:
<what>`` for one that went wrong on the way, e.g. the canary scale-down after a
rollback), and message (the controller's own words).

Actions: set-weight, step, auto-step, promote, rollback, scale (the canary's replicas, in
the message), auto, fault; and errors that an action caused (an ``error`` event that names
who acted). Poll errors and info are not actions and are not written.

Every line is written with ONE ``write`` on a file opened with O_APPEND, under a
lock: lines from threads (and from other processes on a local file system) never
interleave. The file is opened per write, so it can be rotated or removed at any time.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from tui.identity import whoami
from tui.model import Event, utc_iso
from tui.operations.secrets import redact

ACTIONS: tuple[str, ...] = ("set-weight", "step", "auto-step", "promote", "rollback", "scale", "auto", "fault")

FIELDS: tuple[str, ...] = ("who", "when", "rollout", "action", "from", "to", "reason", "result", "message")


class AuditError(OSError):
    """The audit file could not be written (the controller records it as a failed event sink)."""


def _result(event: Event) -> str:
    if event.ok:
        return "ok"
    marker = f"{event.kind} refused: "
    if event.message.startswith(marker):
        return "refused: " + event.message[len(marker):]
    if " refused: " in event.message:
        return "refused: " + event.message.split(" refused: ", 1)[1]
    return "failed: " + event.message


class AuditLog:
    def __init__(self, path: str | os.PathLike[str], rollout: str, who: str | None = None,
                 secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.rollout = rollout
        self.who = who  # the default when an event names nobody
        self.secrets = [s for s in secrets if s]
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Any, who: str | None = None, secrets: Iterable[str] = ()) -> "AuditLog | None":
        """The audit log the config asks for (``audit.file``), or None when it asks for none."""
        path = (getattr(config, "audit", None) or {}).get("file")
        return cls(path, config.name, who=who, secrets=secrets) if path else None

    def entry(self, event: Event) -> dict[str, Any] | None:
        """The line an event becomes, or None if it is not an action."""
        if event.kind not in ACTIONS and not (event.kind == "error" and event.who):
            return None
        return {
            "who": event.who or self.who or whoami(),
            "when": utc_iso(event.at),
            "rollout": self.rollout,
            "action": event.kind,
            "from": event.from_canary,
            "to": event.to_canary,
            "reason": redact(event.reason, self.secrets) if self.secrets else event.reason,
            "result": redact(_result(event), self.secrets) if self.secrets else _result(event),
            "message": redact(event.message, self.secrets) if self.secrets else event.message,
        }

    def on_event(self, event: Event) -> None:
        entry = self.entry(event)
        if entry is not None:
            self.append(entry)

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry as one line (one write call, O_APPEND)."""
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = _open_append(self.path)
                try:
                    written = os.write(fd, line)
                    while written < len(line):  # a short write (a full disk, a signal): finish the line
                        written += os.write(fd, line[written:])
                finally:
                    os.close(fd)
            except OSError as exc:
                raise AuditError(f"audit log {self.path}: cannot write: {exc.strerror or exc}") from None

    def check_writable(self) -> None:
        """Open the file for appending as a write would (creating it), writing nothing: a path
        that cannot take a line is said at start, not at the first change it fails to record."""
        with self._lock:
            try:
                os.close(_open_append(self.path))
            except OSError as exc:
                raise AuditError(f"audit log {self.path}: cannot write: {exc.strerror or exc}") from None

    def tail(self, n: int = 50) -> list[dict[str, Any]]:
        return read_tail(self.path, n)


def _open_append(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a file where its directory should be: the open says so ("Not a directory")
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)


def read_tail(path: str | os.PathLike[str], n: int = 50, block: int = 64 * 1024) -> list[dict[str, Any]]:
    """The last ``n`` entries of an audit file, oldest first (reads only the end of the file).

    A missing file gives []; a line that is not JSON (a torn last line) is skipped.
    """
    if n <= 0:
        return []
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return []
    with f:
        f.seek(0, os.SEEK_END)
        pos = f.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= n:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.splitlines()
    if pos > 0:
        lines = lines[1:]  # the first line read may be cut
    entries: list[dict[str, Any]] = []
    for raw in reversed(lines):
        if len(entries) >= n:
            break
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            entries.append(value)
    entries.reverse()
    return entries
