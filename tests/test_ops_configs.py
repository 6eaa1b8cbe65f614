"""configs/: the Prometheus rules (promtool), the Grafana dashboard and the CI workflow example.

The rules and the dashboard must run the console's own queries (tui/backends/prometheus/queries.py
with configs/x0tta6bl4-app.yaml): when either side changes, these tests say so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tui.config import load

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
RULES = CONFIGS / "prometheus-rules.yaml"
RULE_TESTS = CONFIGS / "prometheus-rules.test.yaml"
DASHBOARD = CONFIGS / "grafana-dashboard.json"
WORKFLOW = CONFIGS / "ci" / "canary-deployment.yml"


def console_queries() -> dict[str, str]:
    """The queries the console runs for configs/x0tta6bl4-app.yaml (the http preset)."""
    from tui.backends.prometheus.queries import build_queries

    config = load(CONFIGS / "x0tta6bl4-app.yaml")
    m = config.metrics
    assert m["preset"] == "http"
    return build_queries(m["preset"], m["selector"], m["versionLabel"], m["window"], config.interval_s,
                         m["queries"], m["business"])


def allowed_expressions() -> set[str]:
    """The console's queries, and what the console computes from them, written in PromQL:
    quantiles of its bucket query, and its error fraction (errors/s over requests/s, 0 without 5xx)."""
    q = console_queries()
    allowed = set(q.values())
    allowed |= {f"histogram_quantile({p}, {q['latency_buckets_window']})" for p in ("0.5", "0.95", "0.99")}
    allowed.add(f"({q['error_rate']} or {q['requests_per_second']} * 0) / {q['requests_per_second']}")
    return allowed


def promtool() -> str | None:
    path = shutil.which("promtool")
    if path is None and os.environ.get("CANARY_REQUIRE_PROMETHEUS") == "1":
        pytest.fail("promtool is not installed and CANARY_REQUIRE_PROMETHEUS=1")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    tool = promtool()
    if tool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); "
                    "set CANARY_REQUIRE_PROMETHEUS=1 to make this a failure")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


# --- Prometheus rules ---------------------------------------------------------------


def test_promtool_check_rules():
    out = run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_test_rules():
    out = run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(doc) == {"groups"}, "a plain rule file: no PrometheusRule wrapper"
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_rules_are_a_plain_rule_file_that_says_how_to_wrap_it():
    text = RULES.read_text(encoding="utf-8")
    assert not re.search(r"^apiVersion:", text, re.M) and not re.search(r"^kind:", text, re.M)
    assert "kind: PrometheusRule" in text  # in the comment that shows the wrapper
    assert _rules()


def test_recording_rules_run_the_console_queries():
    allowed = allowed_expressions()
    recorded = [r for r in _rules() if "record" in r]
    assert len(recorded) >= 5
    for rule in recorded:
        assert rule["expr"].strip() in allowed, rule["record"]
        assert "by (version" in rule["expr"]
    exprs = {r["expr"].strip() for r in recorded}
    q = console_queries()
    assert f"histogram_quantile(0.95, {q['latency_buckets_window']})" in exprs
    assert q["cpu_cores"] in exprs and q["memory_bytes"] in exprs


def test_alerts_agree_with_the_console_criteria():
    criteria = load(CONFIGS / "x0tta6bl4-app.yaml").criteria
    alerts = {r["alert"]: " ".join(r["expr"].split()) for r in _rules() if "alert" in r}
    recorded = {r["record"] for r in _rules() if "record" in r}

    def threshold(name: str) -> float:
        return float(re.search(r"> ([0-9.]+)$", alerts[name]).group(1))

    def factor(name: str) -> float:
        return float(re.search(r"group_left ([0-9.]+) \*", alerts[name]).group(1))

    assert threshold("CanaryErrorRateAboveLimit") == criteria.error_max
    assert threshold("CanaryErrorRateAboveStable") == criteria.error_max_delta
    assert threshold("CanaryLatencyAboveLimit") == criteria.p95_max_ms / 1000  # the histogram is in seconds
    assert factor("CanaryLatencyAboveStable") == criteria.p95_max_ratio
    assert factor("CanaryCPUAboveStable") == criteria.cpu_max_ratio
    assert factor("CanaryMemoryAboveStable") == criteria.memory_max_ratio
    assert threshold("CanaryHighErrorRate") == 0.1  # the guide's backstops
    assert threshold("CanarySlowResponse") == 2
    for name, expr in alerts.items():
        used = set(re.findall(r"\b(version:[a-z_:0-9]+)", expr))
        assert used and used <= recorded, f"{name} reads only the recorded console queries: {used}"
        assert "rate(" not in expr, f"{name}: raw per-pod rates are the guide's bug"


# --- Grafana dashboard ----------------------------------------------------------------


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_dashboard_is_importable_json():
    d = _dashboard()
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 30
    assert d["id"] is None and d["uid"] and d["title"] == "Canary Deployment Monitoring"
    assert any(i["name"] == "DS_PROMETHEUS" and i["pluginId"] == "prometheus" for i in d["__inputs"])
    (var,) = [v for v in d["templating"]["list"] if v["type"] == "datasource"]
    assert var["name"] == "datasource" and var["query"] == "prometheus"
    assert var["current"]["value"] == "${DS_PROMETHEUS}"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert {"h", "w", "x", "y"} <= set(g) and g["x"] + g["w"] <= 24
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"panel {p['title']} overlaps another"
        cells |= area
        assert p["datasource"]["uid"] == "${datasource}"


def test_dashboard_has_the_guides_panels_and_more():
    titles = [p["title"] for p in _dashboard()["panels"]]
    for wanted in ("Response Time Comparison", "Error Rate Comparison", "Request Split", "CPU", "Memory"):
        assert any(t.startswith(wanted) for t in titles), wanted


def test_every_dashboard_query_is_one_the_console_runs():
    allowed = allowed_expressions()
    targets = [t for p in _dashboard()["panels"] for t in p["targets"]]
    assert targets
    for t in targets:
        assert t["expr"] in allowed, t["expr"]
        assert t["legendFormat"] == "{{version}}"
        assert t["datasource"]["uid"] == "${datasource}"
    q = console_queries()
    exprs = {t["expr"] for t in targets}
    assert f"histogram_quantile(0.95, {q['latency_buckets_window']})" in exprs
    assert q["requests_per_second"] in exprs and q["cpu_cores"] in exprs and q["memory_bytes"] in exprs


def test_dashboard_queries_are_valid_promql(tmp_path):
    if promtool() is None:
        pytest.skip("promtool is not installed; set CANARY_REQUIRE_PROMETHEUS=1 to make this a failure")
    exprs = sorted({t["expr"] for p in _dashboard()["panels"] for t in p["targets"]})
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    out = run_promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr


# --- CI workflow example ------------------------------------------------------------


def test_ci_workflow_runs_the_console_and_keeps_the_audit():
    text = WORKFLOW.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["name"] == "Canary Deployment"
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "canary-console run --config" in runs and "--timeout 2h" in runs
    assert "x0tta6bl4-app.yaml" in text
    for script in ("canary_monitor.sh", "promote_canary.sh", "rollback_canary.sh"):
        assert script not in runs
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"] == "always()" and "audit" in upload["with"]["path"]
    hook_env = [s["env"]["CANARY_WEBHOOK_URL"] for s in steps if "CANARY_WEBHOOK_URL" in s.get("env", {})]
    assert hook_env == ["${{ secrets.CANARY_WEBHOOK_URL }}"]
    assert "hooks.slack.com" not in text
