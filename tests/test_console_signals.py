"""The console on a terminal quits cleanly on SIGHUP (the terminal closed) and SIGTERM (`kill`),
as `q` does, so whoever started it cleans up (the lease, the lab); by default both end it at once."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest


def _read_until(fd: int, needle: bytes, timeout: float, done=lambda: False) -> bytes:
    """What the terminal shows until `needle` (an empty needle: until `done()`) or the timeout."""
    seen, deadline = b"", time.monotonic() + timeout
    while (not needle or needle not in seen) and not done() and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_the_console_quits_cleanly_on_a_hangup_or_a_kill(sig, tmp_path):
    main, child = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    code = "import sys; from tui.cli import main; sys.exit(main(['--demo']))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=child, stdout=child, stderr=child,
                            cwd=root, env=env, start_new_session=True)
    os.close(child)
    try:
        assert b"x0tta6bl4-app" in _read_until(main, b"x0tta6bl4-app", 30), "the console never drew"
        proc.send_signal(sig)
        # Keep reading while it exits: a terminal nobody reads fills up and blocks its last writes.
        _read_until(main, b"", 20, done=lambda: proc.poll() is not None)
        assert proc.wait(timeout=1) == 0  # an exit of its own, not killed by the signal (-sig)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
