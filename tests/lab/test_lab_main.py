"""``python -m tui.lab`` starts the lab, prints its URLs, writes the console config and stops."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.lab


def test_main_writes_config_and_stops_by_itself(tmp_path, prometheus_binary, repo_root):
    path = tmp_path / "configs" / "lab.yaml"
    env = dict(os.environ, PYTHONPATH=repo_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "tui.lab", "--duration", "1", "--no-stdin", "--write-config", str(path)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)
    prom_url = lines["prometheus"].strip()
    assert prom_url.startswith("http://127.0.0.1:")
    assert lines["stable    "].strip().startswith("http://127.0.0.1:")
    assert lines["canary    "].strip().startswith("http://127.0.0.1:")

    text = path.read_text()
    assert text == (
        "name: lab\n"
        "router: {kind: demo}\n"
        f"metrics: {{kind: prometheus, url: {prom_url}, preset: http, versionLabel: version, window: 30s, interval: 2s}}\n"
    )
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(text) == {
        "name": "lab",
        "router": {"kind": "demo"},
        "metrics": {
            "kind": "prometheus", "url": prom_url, "preset": "http",
            "versionLabel": "version", "window": "30s", "interval": "2s",
        },
    }
