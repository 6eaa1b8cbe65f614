"""One driver at a time: a lease per rollout, renewed while driving.

A console or `run` that cannot take the lease watches read-only, showing who
drives, and takes over when the lease is released or expires. Losing the lease
turns the console read-only at once, so two drivers never write together.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from tui.backends.base import Lease, LeaseStatus

if TYPE_CHECKING:
    from tui.controller.controller import RolloutController


class InProcessLease:
    """A lease for backends with nothing shared to lock (the demo): one holder per object."""

    def __init__(self, now=time.time) -> None:
        self._now = now
        self._holder: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def try_acquire(self, holder: str, duration_s: int) -> LeaseStatus:
        now = self._now()
        with self._lock:
            if self._holder in (None, holder) or now >= self._expires:
                self._holder, self._expires = holder, now + duration_s
                return LeaseStatus(True, holder, self._expires)
            return LeaseStatus(False, self._holder, self._expires)

    def release(self, holder: str) -> None:
        with self._lock:
            if self._holder == holder:
                self._holder, self._expires = None, 0.0

    def describe(self) -> str:
        return "in-process lease"


def holder_identity(who: str) -> str:
    """user@host plus the process, so two consoles of one person are still two drivers."""
    return f"{who} pid {os.getpid()}"


class DriverGuard:
    """Keeps (or waits for) the lease in a background thread and sets the controller's read-only state."""

    def __init__(self, controller: "RolloutController", lease: Lease, duration_s: int = 15,
                 holder: str | None = None) -> None:
        self.controller = controller
        self.lease = lease
        self.duration_s = duration_s
        self.holder = holder or holder_identity(controller.who)
        self.driving = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> LeaseStatus:
        """One acquire-or-renew round; updates the controller when the role changes."""
        unreadable = False
        try:
            status = self.lease.try_acquire(self.holder, self.duration_s)
        except Exception as exc:  # cannot tell who drives: do not write
            status = LeaseStatus(False, None)
            reason = f"lease unavailable: {exc}"
            unreadable = True
        else:
            reason = f"{status.holder} drives this rollout" if not status.ours else ""
        if status.ours and not self.driving:
            self.driving = True
            self.controller.record("info", f"this console drives the rollout ({self.lease.describe()})")
            self.controller.set_driver(True, "")  # then, on a takeover, "resumed automatic progression"
        elif not status.ours and (self.driving or self.controller.read_only_reason != reason):
            was = self.driving
            self.driving = False
            self.controller.set_driver(False, reason, holder_known=not unreadable)
            self.controller.record("info" if not was else "error",
                                   ("lost the lease: " if was else "watching read-only: ") + reason, ok=not was)
        return status

    def start(self) -> LeaseStatus:
        status = self.check()
        self._thread = threading.Thread(target=self._loop, name="driver-lease", daemon=True)
        self._thread.start()
        return status

    def _loop(self) -> None:
        # Renew at a third of the duration: two missed renewals still leave the lease ours.
        while not self._stop.wait(max(1.0, self.duration_s / 3)):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.driving:
            try:
                self.lease.release(self.holder)
            except Exception:
                pass  # it expires by itself
            self.driving = False
