"""`canary-console lab` judges the canary like the console on a real rollout does."""

from types import SimpleNamespace

from tui.analysis.judge import SequentialJudge
from tui.backends.demo.routes import RouteTable
from tui.labconsole import build_lab_controller


def test_the_lab_console_uses_the_sequential_judge():
    # Nothing is contacted here: the source only talks to Prometheus when polled.
    lab = SimpleNamespace(url="http://127.0.0.1:9", set_fault=lambda fault: None)
    controller = build_lab_controller(lab, RouteTable(canary_weight=5, source="lab"))
    assert isinstance(controller.evaluator, SequentialJudge)
    assert controller.evaluator.alpha == controller.config.judge.alpha
