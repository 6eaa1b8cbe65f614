"""configs/rbac.yaml, the guide's manifests (configs/k8s/) and configs/x0tta6bl4-app.yaml."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import FakeKube
except ModuleNotFoundError:
    from fakekube import FakeKube
from tui.backends.istio import IstioRouter
from tui.backends.istio.hosts import same_host
from tui.config import load
from tui.model import WeightChange

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "configs" / "k8s"
APP_NS, CANARY_NS = "x0tta6bl4", "x0tta6bl4-canary"


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_manifests() -> list[dict]:
    return [d for p in sorted(K8S.glob("*.yaml")) for d in docs(p)]


def by_kind(kind: str) -> list[dict]:
    return [d for d in all_manifests() if d["kind"] == kind]


# --- the rollout config ------------------------------------------------------------


def test_rollout_config_loads():
    config = load(ROOT / "configs" / "x0tta6bl4-app.yaml")
    r, m = config.router, config.metrics
    assert r["kind"] == "istio" and r["namespace"] == APP_NS and r["virtualService"] == "x0tta6bl4-app"
    assert r["timeout"] == 5.0
    assert (m["kind"], m["url"], m["preset"], m["selector"], m["versionLabel"], m["window"], m["interval"]) == (
        "prometheus", "http://prometheus.monitoring:9090", "http", 'app="x0tta6bl4-app"', "version", 60.0, 10.0)
    assert config.canary == {"namespace": CANARY_NS, "deployment": "x0tta6bl4-app-canary"}
    c = config.criteria
    assert (c.p95_max_ms, c.p95_max_ratio, c.error_max, c.error_max_delta) == (500, 1.10, 0.01, 0.005)


def test_config_matches_the_manifests():
    config = load(ROOT / "configs" / "x0tta6bl4-app.yaml")
    (vs,) = {d["metadata"]["name"]: d for d in by_kind("VirtualService")}.values()
    assert (vs["metadata"]["namespace"], vs["metadata"]["name"]) == (APP_NS, config.router["virtualService"])
    (deploy,) = by_kind("Deployment")
    assert (deploy["metadata"]["namespace"], deploy["metadata"]["name"]) == (
        config.canary["namespace"], config.canary["deployment"])
    # The Prometheus selector and version label find the canary's pods.
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == "x0tta6bl4-app" and labels[config.metrics["versionLabel"]] == "canary"


# --- the guide's manifests -----------------------------------------------------------


def test_manifests_are_separate_well_formed_files():
    names = {p.name for p in K8S.glob("*.yaml")}
    assert {"canary-deployment.yaml", "canary-service.yaml", "virtualservice.yaml", "destinationrule.yaml",
            "virtualservice-multiregion.yaml"} <= names
    for d in all_manifests():
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") in (APP_NS, CANARY_NS), d["metadata"]


def test_deployment_and_service_agree():
    (deploy,) = by_kind("Deployment")
    (svc,) = by_kind("Service")
    selector = deploy["spec"]["selector"]["matchLabels"]
    template = deploy["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template.items()
    assert svc["metadata"]["namespace"] == deploy["metadata"]["namespace"]
    assert svc["spec"]["selector"].items() <= template.items()
    ports = {p["name"] for c in deploy["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    assert all(p["targetPort"] in ports for p in svc["spec"]["ports"])
    assert all(p["name"].startswith("http") for p in svc["spec"]["ports"])  # Istio protocol selection


def _fqdn(host: str) -> bool:
    return host.endswith(".svc.cluster.local")


def test_istio_hosts_are_fqdn_and_subsets_are_defined():
    (svc,) = by_kind("Service")
    canary_fqdn = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
    rules = by_kind("DestinationRule")
    subsets = {}
    for dr in rules:
        host = dr["spec"]["host"]
        assert _fqdn(host), host
        # Each DestinationRule lives in its Service's namespace, so every client sees it.
        assert host.split(".")[1] == dr["metadata"]["namespace"]
        subsets[host] = {s["name"]: s["labels"] for s in dr["spec"]["subsets"]}
    assert subsets[canary_fqdn]["canary"] == {"version": "canary"}
    (deploy,) = by_kind("Deployment")
    assert subsets[canary_fqdn]["canary"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    for vs in by_kind("VirtualService"):
        for route in vs["spec"]["http"]:
            for rd in route["route"]:
                host, subset = rd["destination"]["host"], rd["destination"].get("subset")
                assert _fqdn(host), host
                assert subset in subsets[host], (host, subset)
            total = sum(rd.get("weight", 100 if len(route["route"]) == 1 else 0) for rd in route["route"])
            assert total == 100, route


def test_header_route_comes_first():
    for vs in by_kind("VirtualService"):
        first = vs["spec"]["http"][0]
        assert first["name"] == "canary-header"
        assert first["match"] == [{"headers": {"x-canary": {"exact": "true"}}}]
        assert len(first["route"]) == 1 and "canary" in first["route"][0]["destination"]["host"]


# --- RBAC ----------------------------------------------------------------------------

EXPECTED_RULES = {
    (APP_NS, "networking.istio.io", "virtualservices"): {"get", "list", "watch", "patch"},
    (APP_NS, "networking.istio.io", "destinationrules"): {"get", "list"},
    (APP_NS, "coordination.k8s.io", "leases"): {"get", "create", "update", "patch", "delete"},
    (CANARY_NS, "apps", "deployments/scale"): {"get", "patch"},
    (CANARY_NS, "apps", "deployments"): {"get"},
    (CANARY_NS, "networking.istio.io", "destinationrules"): {"get", "list"},
}


def granted() -> dict[tuple[str, str, str], set[str]]:
    rbac = docs(ROOT / "configs" / "rbac.yaml")
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in rbac if d["kind"] == "Role"}
    out: dict[tuple[str, str, str], set[str]] = {}
    for binding in (d for d in rbac if d["kind"] == "RoleBinding"):
        ns = binding["metadata"]["namespace"]
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "canary-console", "namespace": APP_NS}]
        for rule in roles[(ns, binding["roleRef"]["name"])]["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "resourceNames" not in rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    out.setdefault((ns, group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_grants_exactly_what_the_console_uses():
    rbac = docs(ROOT / "configs" / "rbac.yaml")
    assert {d["kind"] for d in rbac} == {"ServiceAccount", "Role", "RoleBinding"}  # nothing cluster-wide
    sa = next(d for d in rbac if d["kind"] == "ServiceAccount")
    assert (sa["metadata"]["name"], sa["metadata"]["namespace"]) == ("canary-console", APP_NS)
    assert granted() == EXPECTED_RULES


def _verb_and_resource(method: str, path: str) -> tuple[str, str, str, str]:
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    assert rest[0] == "namespaces"
    ns, plural, tail = rest[1], rest[2], rest[3:]
    resource = f"{plural}/{tail[1]}" if len(tail) == 2 else plural
    verb = {"GET": "get" if tail else "list", "PATCH": "patch", "PUT": "update", "POST": "create",
            "DELETE": "delete"}[method]
    return ns, group, resource, verb


def test_every_request_of_a_session_is_granted(tmp_path):
    """A read, a write and a rollback against the guide's objects: all within configs/rbac.yaml."""
    rules = granted()
    with FakeKube() as fk:
        for name in ("virtualservice.yaml", "destinationrule.yaml", "canary-deployment.yaml"):
            for d in docs(K8S / name):
                fk.put_object(d)
        router = IstioRouter.from_config(load(ROOT / "configs" / "x0tta6bl4-app.yaml"),
                                         kubeconfig=fk.write_kubeconfig(tmp_path / "kc"))
        at = datetime(2027, 1, 15, tzinfo=timezone.utc)
        router.read()
        router.canary_readiness()  # read before any write that gives the canary traffic
        router.set_canary_weight(10, WeightChange("sre", at, 5, 10, "step"))
        router.set_canary_weight(0, WeightChange("sre", at, 10, 0, "rollback", action="rollback"))
        router.scale_canary(0)
        router.close()
        used = {_verb_and_resource(r.method, r.path) for r in fk.requests}
    assert used, "no requests recorded"
    for ns, group, resource, verb in used:
        assert verb in rules.get((ns, group, resource), set()), (ns, group, resource, verb)


@pytest.mark.parametrize("name", ["virtualservice.yaml", "virtualservice-multiregion.yaml"])
def test_the_router_reads_the_guide_virtual_services(tmp_path, name):
    with FakeKube() as fk:
        for d in docs(K8S / "destinationrule.yaml") + docs(K8S / name):
            fk.put_object(d)
        router = IstioRouter.from_config(load(ROOT / "configs" / "x0tta6bl4-app.yaml"),
                                         kubeconfig=fk.write_kubeconfig(tmp_path / "kc"))
        split = router.read()
        router.close()
    assert split.route("canary-header").match == ('headers x-canary exact "true"',)
    assert split.canary_weight == (10 if "multiregion" in name else 5)
    assert router.untouched_canary_routes(split) == ("canary-header",)
    assert same_host("x0tta6bl4-app-canary", split.route("default").destinations[1].host)
