"""Config: the demo file matches the built-in demo; every bad file is one clear line and exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from tui import config
from tui.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_demo_file_is_the_built_in_demo():
    from_file = config.load(ROOT / "configs" / "demo.yaml")
    built_in = config.demo_config()
    assert from_file.criteria == built_in.criteria
    assert from_file.rollout == built_in.rollout
    assert from_file.demo == built_in.demo
    assert from_file.metrics == built_in.metrics
    assert from_file.judge == built_in.judge
    assert from_file.interval_s == 2.0


def test_defaults_follow_the_guide():
    c = config.demo_config()
    assert c.criteria.p95_max_ms == 500 and c.criteria.p95_max_ratio == 1.10
    assert c.criteria.error_max == 0.01 and c.criteria.error_max_delta == 0.005
    assert c.rollout.steps == (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    assert c.rollout.step_weight == 5


def test_the_judge_settings_reach_the_judge(tmp_path):
    import math

    from tui.assembly import build_controller

    path = tmp_path / "c.yaml"
    path.write_text("name: x\njudge: {alpha: 0.002, latencyAlpha: 0.0005, effectRequests: 800, passAlpha: 0.1}\n")
    judge = build_controller(config.load(path)).evaluator
    assert judge.threshold == pytest.approx(math.log(1 / 0.002))
    assert judge.latency_threshold == pytest.approx(math.log(1 / 0.0005))
    assert judge.pass_threshold == pytest.approx(math.log(1 / 0.1))
    assert judge.effect_requests == 800
    default = build_controller(config.demo_config()).evaluator
    assert (default.alpha, default.effect_requests, default.pass_alpha) == (0.01, 500, 0.05)


BAD = [
    ("name: x\nrouter: {kind: demo\n", "invalid YAML: line"),
    ("name: x\nrouterr: {kind: demo}\n", "routerr: unknown key"),
    ("name: x\nmetrics: {interval: fast}\n", "metrics.interval: expected a duration"),
    ("name: x\ndemo: {rps: many}\n", "demo.rps: expected a number"),
    ("name: x\ndemo: {seed: 1.5}\n", "demo.seed: expected an integer"),
    ("name: x\ncriteria: {errorRate: {max: 2}}\n", "criteria.errorRate.max: expected a number > 0 and <= 1"),
    ("name: x\nrollout: {steps: [5, 150]}\n", "rollout.steps[1]: expected an integer from 1 to 100"),
    ("name: x\nrollout: {steps: [10, 5]}\n", "rollout.steps: expected strictly increasing"),
    # A step of 100 was walked like any other: automation promoted with `promote: manual`.
    ("name: x\nrollout: {steps: [50, 100], promote: manual}\n", "rollout.steps: 100% is the promotion, which "
     "rollout.promote decides (auto, or a person with manual): end the steps below 100, got [50, 100]"),
    ("name: x\nrollout: {stepWeight: 0}\n", "rollout.stepWeight: expected an integer from 1 to 100"),
    ("name: x\ndemo: {fault: melt}\n", "demo.fault: expected one of none | errors | latency"),
    ("name: x\njudge: {alpha: 0}\n", "judge.alpha: expected a number > 0 and <= 0.5"),
    ("name: x\njudge: {passAlpha: 1}\n", "judge.passAlpha: expected a number > 0 and <= 0.5"),
    ("name: x\njudge: {latencyAlpha: -1}\n", "judge.latencyAlpha: expected a number > 0 and <= 0.5"),
    ("name: x\njudge: {effectRequests: 1}\n", "judge.effectRequests: expected a number >= 10"),
    ("router: {kind: demo}\n", "name: missing"),
    ("- just\n- a list\n", "expected a mapping at the top level"),
    ("name: x\nrouter: {kind: istio}\n", "router.namespace: missing"),
    ("name: x\nmetrics: {kind: prometheus}\n", "metrics.url: missing"),
    # A real router never falls back to simulated metrics by default.
    ("name: x\nrouter: {kind: istio, namespace: a, virtualService: b, stable: {host: s}, canary: {host: c}}\n",
     "metrics.kind: missing; required with router.kind istio: prometheus, or demo"),
]


@pytest.mark.parametrize("text,expected", BAD)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, capsys, text, expected):
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    assert main(["status", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err and expected in err, err


def test_missing_file(tmp_path, capsys):
    assert main(["status", "--config", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: file not found" in err


def test_bad_config_from_a_real_process_has_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndemo: {speed: -1}\n")
    proc = subprocess.run([sys.executable, "-m", "tui", "--config", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}: demo.speed: expected a number > 0 and <= 100000, got -1" in proc.stderr


def test_verbs_need_a_config(capsys):
    assert main(["set-weight", "10"]) == 2
    assert "--config FILE (or --demo) is required" in capsys.readouterr().err
