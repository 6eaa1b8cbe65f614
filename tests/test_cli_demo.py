"""The verbs on the demo: `status` (one poll, or `--for` a while so the checks can decide), writes."""

import json
from datetime import datetime

from tui.cli import build_parser, main


def _status(capsys, *args):
    code = main(["status", "--demo", "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


def _check(doc, name):
    return next(c for c in doc["checks"] if c["name"] == name)


def test_one_poll_says_nothing_is_counted_yet(capsys):
    code, doc = _status(capsys)
    assert code == 0
    assert doc["metrics"]["canary"]["requestsPerSecond"] > 0  # the rates show traffic ...
    check = _check(doc, "error rate")
    assert check["result"] == "nodata"
    assert check["reason"] == "first poll: nothing counted yet"  # ... but nothing is counted on one poll
    assert doc["summary"].startswith("first poll:")


def test_for_a_while_the_checks_decide(capsys):
    code, doc = _status(capsys, "--speed", "max", "--fault", "errors", "--for", "5m")
    assert code == 0
    check = _check(doc, "error rate")
    assert check["result"] == "fail", check
    assert doc["verdict"] == "fail"
    code, doc = _status(capsys, "--speed", "max", "--for", "10m")
    assert _check(doc, "p95 latency")["result"] == "pass"
    # The checks' values are counted from the first poll on: ten minutes of requests.
    since, at = (datetime.fromisoformat(doc[k]) for k in ("checksSince", "at"))
    assert abs((at - since).total_seconds() - 600) <= 2
    assert doc["verdict"] != "fail"


def test_a_bad_duration_is_a_usage_error(capsys):
    assert main(["status", "--demo", "--for", "soon"]) == 2
    assert "--for" in capsys.readouterr().err


def test_a_demo_write_says_it_does_not_outlast_the_command(capsys):
    assert main(["set-weight", "20", "--demo"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "canary 5% -> 20%",
        "demo: the simulation ends with this command; the next one starts again from its first weight",
    ]
    _, doc = _status(capsys)
    assert doc["weights"] == {"stable": 95, "canary": 5}  # as it said


def test_options_before_the_verb_count_as_after_it(capsys):
    # argparse let a verb's own default reset an option given before the verb: `--read-only`
    # before `set-weight` was dropped and the write went through.
    assert main(["--read-only", "set-weight", "20", "--demo"]) == 1
    assert "set-weight refused: read-only" in capsys.readouterr().err
    assert main(["--demo", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == {"stable": 95, "canary": 5}
    assert main(["--demo", "status", "-c", "configs/demo.yaml"]) == 2
    assert "--config and --demo: give one" in capsys.readouterr().err
    for argv in (["lab", "--read-only", "--large"], ["--read-only", "--large", "lab"]):
        args = build_parser().parse_args(argv)
        assert (args.verb, args.read_only, args.large) == ("lab", True, True)


def test_the_text_status_lines_up_every_mark(capsys):
    assert main(["status", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "\nverdict: ? UNDECIDED (on the requests since" in out, out  # the screen's words, not "NODATA"
    assert out.splitlines()[1] == "  DEMO: the weights and the traffic are simulated, not real", out
    rows = [line for line in out.splitlines() if " <= " in line]  # the checks
    assert len(rows) == 6 and any("NOT JUDGED" in r for r in rows)
    assert len({r.index(" canary ") for r in rows}) == 1, rows


def test_demo_options_apply_to_a_config_with_simulated_traffic_and_are_refused_elsewhere(tmp_path, capsys):
    """`run --config rehearsal.yaml --fault errors` ignored --fault and promoted the canary."""
    from pathlib import Path

    from tui.cli import load_config

    rehearsal = tmp_path / "rehearsal.yaml"
    rehearsal.write_text("name: app\nmetrics: {kind: demo}\n")
    config = load_config(build_parser().parse_args(["run", "--config", str(rehearsal), "--fault", "errors",
                                                    "--speed", "4"]))
    assert (config.demo.fault, config.demo.speed) == ("errors", 4.0)
    code, err = main(["run", "--config", str(rehearsal), "--fault", "errors", "--speed", "max"]), capsys.readouterr().err
    assert code == 1 and "rolled back (error rate" in err.splitlines()[-1]
    real = Path(__file__).resolve().parent.parent / "configs" / "x0tta6bl4-app.yaml"  # Prometheus, Istio
    assert main(["status", "--config", str(real), "--fault", "errors"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"--fault: only for simulated traffic (router.kind or "
                                                     f"metrics.kind demo); {real} has none")


def test_status_says_the_weights_are_as_last_read_when_reading_them_fails(capsys):
    """Before: `status --for` whose reads of the weights failed after the first printed them as
    current and exited 0."""
    import json

    from tests.conftest import UnreadableRouter, make_demo_controller
    from tui.cli import status

    controller, clock = make_demo_controller()
    controller.poll_once()
    read_at = controller.state().split_read_at
    controller.router = UnreadableRouter(controller.router)
    try:
        assert status(controller, as_json=True, watch_s=6) == 1
        doc = json.loads(capsys.readouterr().out)
        assert doc["weights"] == {"stable": 95, "canary": 5} and doc["weightsStale"] is True
        assert doc["weightsReadAt"] == read_at.isoformat()
        assert status(controller, as_json=False) == 1
        out = capsys.readouterr().out
        assert f"the weights below are as read at {read_at.isoformat()}" in out
        assert "\nverdict: NO DATA" in out, out
    finally:
        controller.close()


def test_a_reader_that_goes_away_gets_no_traceback():
    """`canary-console status | head -3`: a BrokenPipeError traceback on stderr."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "tui", "status", "--demo"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # the reader is gone before the first line
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and err == "", err
