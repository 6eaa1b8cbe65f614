"""A console whose terminal is gone ends, and lets go of what it holds.

On SIGHUP (a dropped SSH session, a killed tmux pane) or SIGTERM the app quits as `q` does, and
the caller then releases the driver lease and closes the backends. But Textual's shutdown writes to
the terminal, and when the terminal closed while the console was still starting, that write can
block for ever (its bounded writer queue full, nothing draining it): the process lived on with its
lease-renewal thread renewing, so no other console could drive, while nothing polled. The watchdog
gives the clean exit a grace period, then does the caller's cleanup itself and ends the process.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

GRACE_S = 5.0  # a clean exit (lease released, lab stopped) takes well under a second


class HangupWatchdog:
    def __init__(self, cleanup: Callable[[], None], grace_s: float = GRACE_S,
                 end: Callable[[int], None] = os._exit) -> None:
        self.cleanup = cleanup
        self.grace_s = grace_s
        self.end = end  # os._exit: the main thread is stuck, so no exception could unwind it
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._settled = False  # the clean exit came back (cancel), or the watchdog fired

    def start(self, signum: int) -> None:
        """The console was told to quit by `signum`: from now on it has `grace_s` to do so."""
        with self._lock:
            if self._timer is not None or self._settled:
                return
            self._timer = threading.Timer(self.grace_s, self._fire, args=(signum,))
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """The app returned: the caller cleans up as usual."""
        with self._lock:
            self._settled = True
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self, signum: int) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        try:
            self.cleanup()
        except Exception:  # noqa: BLE001 - ending the process matters more than a failed close
            pass
        finally:
            self.end(128 + signum)
