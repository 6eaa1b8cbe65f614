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


def _console_on_a_pty(*args: str) -> tuple[int, subprocess.Popen]:
    """`canary-console --demo ARGS` on a terminal of its own, drawn: (the terminal's fd, the process)."""
    main, child = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    code = f"import sys; from tui.cli import main; sys.exit(main(['--demo', *{list(args)!r}]))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=child, stdout=child, stderr=child,
                            cwd=root, env=env, start_new_session=True)
    os.close(child)
    if b"x0tta6bl4-app" not in _read_until(main, b"x0tta6bl4-app", 30):
        proc.kill()
        os.close(main)
        pytest.fail("the console never drew")
    return main, proc


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_the_console_quits_cleanly_on_a_hangup_or_a_kill(sig, tmp_path):
    main, proc = _console_on_a_pty()
    try:
        proc.send_signal(sig)
        # Keep reading while it exits: a terminal nobody reads fills up and blocks its last writes.
        _read_until(main, b"", 20, done=lambda: proc.poll() is not None)
        assert proc.wait(timeout=1) == 0  # an exit of its own, not killed by the signal (-sig)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)


def test_a_console_on_a_terminal_nobody_reads_still_ends_on_a_hangup():
    """A terminal that stops reading (a stalled SSH session; a tmux server killed as the console
    started) fills Textual's bounded writer queue, and the event loop blocks on it: the loop's own
    signal handler never ran, the console lived on, and its lease thread kept renewing, so no other
    console could drive. Now a plain handler starts a watchdog that releases what the console holds
    and ends it (tui/hangup.py): exit 128 + SIGHUP after the grace period."""
    from tui.hangup import GRACE_S

    main, proc = _console_on_a_pty("--speed", "20")  # at 20x it redraws ten times a second
    try:
        time.sleep(15)  # nobody reads: the terminal's buffer and then the writer queue fill up
        proc.send_signal(signal.SIGHUP)
        start = time.monotonic()
        assert proc.wait(timeout=GRACE_S + 10) == 128 + signal.SIGHUP
        assert time.monotonic() - start >= GRACE_S - 0.5  # the clean exit had its chance first
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)


def test_the_watchdog_cleans_up_and_ends_the_process_only_when_the_exit_hangs():
    from tui.hangup import HangupWatchdog

    ended, cleaned = [], []
    stuck = HangupWatchdog(lambda: cleaned.append(1), grace_s=0.05, end=ended.append)
    stuck.start(signal.SIGHUP)
    stuck.start(signal.SIGTERM)  # a second signal does not restart the clock
    time.sleep(0.3)
    assert (cleaned, ended) == ([1], [128 + signal.SIGHUP])

    ended, cleaned = [], []
    clean = HangupWatchdog(lambda: cleaned.append(1), grace_s=0.05, end=ended.append)
    clean.start(signal.SIGTERM)
    clean.cancel()  # the app returned in time: its caller cleans up as usual
    time.sleep(0.3)
    assert (cleaned, ended) == ([], [])

    ended = []
    failing = HangupWatchdog(lambda: 1 / 0, grace_s=0.05, end=ended.append)
    failing.start(signal.SIGTERM)
    time.sleep(0.3)
    assert ended == [128 + signal.SIGTERM]  # a failed close never keeps the process alive
