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


# Which parts of tui each part may import, lowest layer first. The foundation holds
# plain data and helpers; a backend may use the foundation and the backend interfaces
# (never another backend, never the controller that drives it); the analysis judges
# data from the foundation; the controller works the backends through their interfaces
# only; assembly wires concrete parts together. Parts not listed (the app, the CLI, the
# lab) sit on top and may import anything.
FOUNDATION = {"model", "clock", "durations", "identity", "formatting", "config"}
MAY_IMPORT = {
    "model": set(),
    "clock": set(),
    "durations": set(),
    "identity": set(),
    "formatting": {"model"},
    "config": {"durations", "model"},  # the model's vocabulary (the demo's faults) for validation
    "backends": {"model"},
    "backends.base": {"model"},
    "backends.demo": FOUNDATION | {"backends.base"},
    "backends.istio": FOUNDATION | {"backends.base"},
    "backends.prometheus": FOUNDATION | {"backends.base"},
    "analysis": FOUNDATION,
    "controller": FOUNDATION | {"analysis", "backends.base"},
    "operations": FOUNDATION,
    "assembly": FOUNDATION | {"analysis", "backends", "backends.base", "backends.demo", "backends.istio",
                              "backends.prometheus", "controller", "operations"},
}


def _part(module: str) -> str:
    """tui.backends.istio.router -> backends.istio; tui.controller.driver -> controller; tui -> tui."""
    names = module.split(".")[1:]
    if not names:
        return "tui"
    if names[0] == "backends" and len(names) > 1:
        return f"backends.{names[1]}"
    return names[0]


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    names = list(rel.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def _tui_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "tui")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "tui":
                found.add(node.module)
    return found


def layer_offences(edges: list[tuple[str, str]]) -> list[str]:
    """The (importer, imported) module pairs that point up or sideways across the layers."""
    offences = []
    for importer, imported in edges:
        src, dst = _part(importer), _part(imported)
        allowed = MAY_IMPORT.get(src)
        if src == dst or allowed is None:
            continue
        if dst not in allowed:
            may = ", ".join(sorted(allowed)) or "nothing in tui"
            offences.append(f"{importer} imports {imported} ({src} may import: {may})")
    return offences


def test_layers_point_one_way():
    edges = [(_module_of(path), imported) for path in TUI.rglob("*.py") for imported in _tui_imports(path)]
    assert len(edges) > 100  # the walk found the code
    offences = layer_offences(edges)
    assert not offences, "\n".join(offences)


def test_layer_rule_catches_upward_imports():
    assert layer_offences([("tui.backends.istio.lease", "tui.controller.driver")])
    assert layer_offences([("tui.backends.demo.router", "tui.backends.istio.router")])
    assert layer_offences([("tui.model", "tui.config")])
    assert not layer_offences([("tui.controller.controller", "tui.backends.base")])
    assert not layer_offences([("tui.app.app", "tui.backends.demo")])


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
