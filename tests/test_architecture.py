"""Layers point one way: nothing below the app imports Textual; heavy clients load only when configured."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUI = ROOT / "tui"

# Which top-level packages each part of tui/ may import (beyond the standard library and tui itself).
RULES = {
    "textual": ["tui/app"],
    "textual_plotext": ["tui/app"],
    "rich": ["tui/app"],
    "kubernetes": ["tui/backends/istio"],
    "prometheus_api_client": ["tui/backends/prometheus"],
    "prometheus_client": ["tui/lab"],
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_import_rules():
    offences = []
    for path in TUI.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for name in _imports(path):
            allowed = RULES.get(name)
            if allowed is not None and not any(rel.startswith(prefix + "/") for prefix in allowed):
                offences.append(f"{rel} imports {name}")
    assert not offences, "\n".join(offences)


def test_nothing_below_the_app_imports_the_app():
    offences = []
    for path in TUI.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("tui/app/") or rel == "tui/cli.py":
            continue  # the CLI opens the app, lazily
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tui.app"):
                offences.append(rel)
    assert not offences


def _top_modules_loaded_by(code: str, names: set[str]) -> list[str]:
    """Which of `names` (top-level packages) a fresh interpreter has imported after running `code`."""
    probe = code + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(names)!r})))\n"
    out = subprocess.run([sys.executable, "-c", "import sys\n" + probe], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # a printed list of str


def test_demo_headless_loads_no_textual_kubernetes_or_prometheus_client():
    code = (
        "from tui.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['status', '--demo', '--json']) == 0\n"
    )
    assert _top_modules_loaded_by(code, {"textual", "kubernetes", "prometheus_api_client", "rich"}) == []


def test_the_demo_console_does_not_import_kubernetes():
    code = (
        "from tui.assembly import build_controller\n"
        "from tui.config import demo_config\n"
        "from tui.app.app import CanaryApp\n"
        "CanaryApp(build_controller(demo_config()))\n"
    )
    assert _top_modules_loaded_by(code, {"kubernetes", "prometheus_api_client"}) == []
