"""`canary-console run`, the CI gate, against the demo at the fast clock."""

import re

from tui.cli import main


def _run(capsys, *args):
    code = main(["run", "--demo", "--speed", "max", *args])
    return code, capsys.readouterr().err


def _minutes(text):
    """Minutes in 'after 24s', 'after 4m05s' or 'after 1h23m'."""
    m = re.search(r"after (?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert m and any(m.groups()), text
    h, mi, s = (int(g or 0) for g in m.groups())
    return h * 60 + mi + s / 60


def test_healthy_canary_is_promoted(capsys):
    code, err = _run(capsys)
    assert code == 0, err
    assert "run: promoted after" in err
    assert err.startswith("run: x0tta6bl4-app: DEMO: judged on simulated traffic, not real\n"), err[:200]
    # the screen's words: undecided while gathering evidence ("NODATA" read as a failed poll)
    assert "| verdict ? UNDECIDED |" in err and "| verdict ✓ PASS |" in err and "NO DATA" not in err
    # ten steps of at least 5 minutes' bake (longer while the judge still gathers evidence), then the promotion
    assert 50 <= _minutes(err.splitlines()[-1]) <= 100
    assert "canary 50%" in err


def test_error_fault_is_rolled_back_fast(capsys):
    code, err = _run(capsys, "--fault", "errors")
    assert code == 1, err
    last = err.splitlines()[-1]
    assert "rolled back (error rate" in last
    assert _minutes(last) <= 1.5  # at 5% canary: a 10x error rate is caught within about a minute


def test_the_log_says_every_change_with_the_numbers_behind_a_rollback(capsys):
    """A CI job's log is all anyone reads of a run: the progress line after a rollback is judged
    afresh at 0%, so the numbers that failed must be said when they do."""
    code, err = _run(capsys, "--fault", "latency")
    assert code == 1, err
    failed = [line for line in err.splitlines() if "check failed: p95 latency vs stable" in line]
    assert len(failed) == 1, err
    assert re.search(r"canary [\d.]+% of \d+ requests slower than \d+ ms vs bound 5% \(LLR", failed[0]), failed
    rollback = next(line for line in err.splitlines() if "rollback: canary 5% -> 0%" in line)
    assert rollback.startswith("run: ") and "auto-rollback: p95 latency vs stable: canary" in rollback
    assert rollback.endswith("(automation)"), rollback

    code, err = _run(capsys)
    assert code == 0, err
    steps = [line for line in err.splitlines() if "auto-step: canary" in line]
    assert len(steps) == 9 and "step 1 baked" in steps[0] and "with every check passing" in steps[0], steps


def test_timeout_rolls_back_and_exits_1(capsys):
    code, err = _run(capsys, "--timeout", "12m")
    assert code == 1
    assert "timed out after 12m00s; canary rolled back" in err


def test_bad_timeout_is_usage_error(capsys):
    assert main(["run", "--demo", "--timeout", "soon"]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_every_write_verb_refuses_read_only(capsys, tmp_path):
    audit = tmp_path / "audit.jsonl"
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(f"name: x0tta6bl4-app\naudit: {{file: {audit}}}\n")
    for argv, flag in ((["set-weight", "20"], "--read-only"), (["promote"], "--readonly"),
                       (["rollback"], "--read-only"), (["run", "--speed", "max"], "--readonly")):
        code = main([*argv, "--config", str(cfg), flag])
        err = capsys.readouterr().err
        assert code == 1, (argv, err)
        assert "read-only" in err, (argv, err)
    lines = audit.read_text().splitlines() if audit.exists() else []
    assert all('"result":"refused: read-only' in line for line in lines if '"action":"auto"' not in line), lines


def test_progress_lines_are_news_or_once_a_minute(capsys):
    from datetime import datetime

    code, err = _run(capsys)
    assert code == 0, err
    stamps = [datetime.strptime(line[:8], "%H:%M:%S") for line in err.splitlines() if line[:9].endswith("Z")]
    polls = _minutes(err.splitlines()[-1]) * 60 / 2  # a poll every 2 s
    # Not one line per poll (the numbers change every poll): news, or a line a minute.
    assert len(stamps) < polls / 5, len(stamps)
    gaps = [(b - a).total_seconds() % 86400 for a, b in zip(stamps, stamps[1:])]
    assert max(gaps) <= 62
    assert "in 0s if checks pass" not in err and "once every check passes (baked)" in err


def test_a_change_made_outside_during_a_run_ends_it_held_not_rolled_back():
    import io

    from tests.conftest import make_demo_controller
    from tui.controller.headless import HELD, run_rollout
    from tui.model import with_weights

    controller, clock = make_demo_controller()
    start, sleep = clock.time(), clock.sleep

    def sleep_then_kubectl(seconds):
        sleep(seconds)
        table = controller.router.table
        if clock.time() - start >= 600 and table.split().canary_weight != 30:  # someone takes over
            split = table.split()
            table.write_routes(tuple(with_weights(r, 30) if r.driven else r for r in split.routes), split.version)

    clock.sleep = sleep_then_kubectl
    out = io.StringIO()
    assert run_rollout(controller, timeout_s=3600, out=out) == HELD
    last = out.getvalue().splitlines()[-1]
    assert "run: automation held (manual change to 30% by someone outside this console)" in last, last
    assert controller.router.read().canary_weight == 30  # left as they put it
    assert not [e for e in controller.state().events if e.kind == "rollback"]
    controller.close()


def test_a_signal_stops_run_between_polls_leaving_the_rollout_whole():
    import io
    import signal

    from tests.conftest import make_demo_controller
    from tui.controller.headless import StopRequest, run_rollout

    controller, clock = make_demo_controller()
    stop, sleeps = StopRequest(), []
    real_sleep = clock.sleep

    def sleep(seconds):  # the job is cancelled in the wait for the 200th poll, 199 polls (6m38s) in
        sleeps.append(seconds)
        if len(sleeps) == 200:
            stop.handle(signal.SIGTERM)
        real_sleep(seconds)

    clock.sleep = sleep
    out = io.StringIO()
    code = run_rollout(controller, None, out, stop=stop)
    assert code == 128 + signal.SIGTERM
    assert len(sleeps) == 200  # no poll after the signal
    weight = controller.router.read().canary_weight
    assert out.getvalue().splitlines()[-1] == (
        f"run: stopped by SIGTERM after 6m38s; the rollout stays at canary {weight}% and a new run resumes it")
    assert controller.autopilot.progress.enabled  # stored as it was: a new run resumes the progression
    controller.close()


def test_a_signal_during_a_poll_waits_for_the_poll_to_finish():
    import signal

    from tui.controller.headless import StopRequest

    stop = StopRequest()
    stop.handle(signal.SIGINT)  # outside the wait (a write in flight): noted, nothing raised
    assert stop.signum == signal.SIGINT

    class Clock:
        slept = 0.0

        def sleep(self, seconds):
            self.slept += seconds

    clock = Clock()
    stop.sleep(clock, 2.0)
    assert clock.slept == 0.0  # a stop already asked for is not waited on


def test_sigterm_ends_a_real_run_promptly_with_its_status(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "import sys; from tui.cli import main; sys.exit(main(['run', '--demo']))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline().startswith("run: x0tta6bl4-app: DEMO: ")
        assert proc.stderr.readline().startswith("run: x0tta6bl4-app: step 1/")
        time.sleep(0.5)  # in the wait between polls (2 s)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
        assert time.monotonic() - sent < 1.5  # the wait is cut short, not slept out
        assert "run: stopped by SIGTERM after" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_rollback_that_fails_is_said_and_exits_4():
    """Before: `run` printed "canary rolled back" and exited 1 whether or not its rollback went through."""
    import io

    from tests.conftest import make_demo_controller
    from tests.test_progression import FlakyRouter
    from tui.controller.headless import ROLLBACK_FAILED, run_rollout

    controller, clock = make_demo_controller(fault="errors")
    controller.router = FlakyRouter(controller.router, failures=1000, transient=False)  # a 403 on every write
    out = io.StringIO()
    assert run_rollout(controller, timeout_s=3600, out=out) == ROLLBACK_FAILED
    last = out.getvalue().splitlines()[-1]
    assert "the rollback FAILED: forbidden: cannot patch virtualservices" in last, last
    assert "canary rolled back" not in out.getvalue()
    assert controller.router.read().canary_weight == 5  # still on the canary, and the log says so
    controller.close()


def test_a_canary_promoted_before_the_run_is_its_goal_reached():
    """Re-running the CI job after a promotion: automation at 100% has nothing to walk."""
    import io

    from tests.conftest import make_demo_controller
    from tui.controller.headless import PROMOTED, run_rollout

    controller, clock = make_demo_controller()
    assert controller.promote(reason="an earlier run").ok
    out = io.StringIO()
    assert run_rollout(controller, timeout_s=3600, out=out) == PROMOTED
    assert "the canary already takes 100% (promoted before this run); nothing to do" in out.getvalue()
    assert controller.router.read().canary_weight == 100
    controller.close()


def test_a_crashed_canary_is_rolled_back_in_seconds_saying_so(capsys):
    """The demo's "down" fault: the run's lines said "6 check(s) still gathering data" while 5% of
    the requests failed, and after 2 minutes it halted on "no data for 2m02s" without saying whose."""
    code, err = _run(capsys, "--fault", "down")
    assert code == 1, err
    last = err.splitlines()[-1]
    assert last.startswith("run: rolled back (the canary served nothing); canary rolled back after "), last
    assert _minutes(last) <= 0.25  # 10 s of silence with 50 requests due, then the rollback


def test_a_crashed_canary_without_auto_rollback_halts_saying_whose_data_is_missing(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: app\nrouter: {kind: demo}\nmetrics: {kind: demo, interval: 2s}\n"
                      "rollout: {autoRollback: false}\ndemo: {fault: down}\n")
    code = main(["run", "--config", str(config), "--speed", "max"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.search(r"6 check\(s\) undecided: served nothing for (\d+m)?\d+s while routed 5%", err), err
    last = err.splitlines()[-1]
    assert re.match(r"run: halted: no data for 2m0\ds \(served nothing for 2m0\ds while routed 5%\); "
                    r"canary rolled back after", last), last


def test_a_progress_line_says_the_weight_is_as_last_read_when_reading_it_fails():
    """Before: a CI log went on printing "canary 5%" with every read of the weights failing."""
    from tests.conftest import UnreadableRouter, make_demo_controller
    from tui.controller.headless import _line

    controller, clock = make_demo_controller()
    clock.advance(2)
    controller.poll_once()
    read_at = controller.state().split_read_at
    controller.router = UnreadableRouter(controller.router)
    for _ in range(3):
        clock.advance(2)
        controller.poll_once()
    line, _ = _line(controller)
    assert f"| canary 5% (as read at {read_at:%H:%M:%S}Z) | verdict NO DATA |" in line, line
    assert "router: Kubernetes API: read timed out (5s)" in line
    controller.close()
