"""The usage bench (tests/bench/usage.py) runs, and says what the README's table says at 90%."""

from tests.bench.usage import main, measure
from tui.model import Result


def test_at_canary_90_the_guides_check_fails_a_healthy_canary_and_the_consoles_does_not():
    guide, console, counted = measure(90, 1.0, 1.0, polls=45)
    assert counted == 15
    assert guide == 15  # the busier canary instances "use 1.5x": the guide's check fails them
    assert console == {Result.NOT_JUDGED: 15}


def test_the_bench_prints_its_table(capsys):
    assert main(["--polls", "32"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("| canary profile | check | 5% |") and len(out) == 3 + 9
