"""Shared setup for the Istio tests that run against the fake API server (tests/fakekube).

Fixtures are imported by name into the test modules that use them
(`from istio_fixtures import fk, guide, kubeconfig, make_router`).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import FakeKube
except ModuleNotFoundError:
    from fakekube import FakeKube
from tui.backends.base import BackendError
from tui.backends.istio import IstioRouter
from tui.backends.istio.lease import microtime
from tui.config import load
from tui.model import Check, Result, Verdict, WeightChange

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "configs" / "k8s"
CONFIG = ROOT / "configs" / "x0tta6bl4-app.yaml"

G = "networking.istio.io"
COORD = "coordination.k8s.io"
NS = "x0tta6bl4"
CANARY_NS = "x0tta6bl4-canary"
VS = "x0tta6bl4-app"
DEPLOYMENT = "x0tta6bl4-app-canary"
VS_PATH = f"/namespaces/{NS}/virtualservices/{VS}"
LEASE = "canary-console-x0tta6bl4-app"
LEASES_PATH = f"/apis/{COORD}/v1/namespaces/{NS}/leases"
STABLE = "x0tta6bl4-app-stable.x0tta6bl4.svc.cluster.local"
CANARY = "x0tta6bl4-app-canary.x0tta6bl4-canary.svc.cluster.local"
LAST_CHANGE = "canary-console/last-change"
PROGRESSION = "canary-console/progression"
MICROTIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FLAGGER = [{"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": VS, "uid": "u1", "controller": True}]


# --- objects -------------------------------------------------------------------------


def manifests(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def guide_vs(multiregion: bool = False) -> dict:
    return manifests("virtualservice-multiregion.yaml" if multiregion else "virtualservice.yaml")[0]


def load_guide(fk: FakeKube) -> FakeKube:
    for name in ("virtualservice.yaml", "destinationrule.yaml", "canary-deployment.yaml"):
        for obj in manifests(name):
            if obj["kind"] == "Deployment":  # as the cluster's controllers report it once its pods run
                n = obj["spec"]["replicas"]
                obj["status"] = {"replicas": n, "readyReplicas": n, "availableReplicas": n}
            fk.put_object(obj)
    return fk


def set_ready(fk: FakeKube, ready: int) -> None:
    """The canary Deployment's ready pods, as its ReplicaSet's controller would report them."""
    fk.mutate("apps", CANARY_NS, "deployments", DEPLOYMENT,
              lambda o: o.setdefault("status", {}).update(readyReplicas=ready, availableReplicas=ready))


def stored_vs(fk: FakeKube, version: str = "v1") -> dict:
    return fk.get_object(G, version, NS, "virtualservices", VS)


def weights(vs: dict, route_name: str) -> list:
    route = next(r for r in vs["spec"]["http"] if r.get("name") == route_name)
    return [d.get("weight") for d in route["route"]]


def replicas(fk: FakeKube) -> int:
    return fk.get_object("apps", "v1", CANARY_NS, "deployments", DEPLOYMENT)["spec"]["replicas"]


def vs_patches(fk: FakeKube) -> list:
    return fk.requests_to("PATCH", "/virtualservices/")


def vs_requests(fk: FakeKube) -> list:
    return fk.requests_to(path_contains="/virtualservices")


def lease_requests(fk: FakeKube) -> list:
    return fk.requests_to(path_contains="/leases")


def stored_lease(fk: FakeKube) -> dict | None:
    return fk.get_object(COORD, "v1", NS, "leases", LEASE)


def put_lease(fk: FakeKube, holder: str | None, renewed: float, duration: int = 15, transitions: int = 0) -> dict:
    """A Lease as another console would have left it."""
    spec: dict[str, Any] = {"leaseDurationSeconds": duration, "acquireTime": microtime(renewed),
                            "renewTime": microtime(renewed), "leaseTransitions": transitions}
    if holder is not None:
        spec["holderIdentity"] = holder
    return fk.put_object({"apiVersion": f"{COORD}/v1", "kind": "Lease",
                          "metadata": {"name": LEASE, "namespace": NS}, "spec": spec})


def age_lease(fk: FakeKube, seconds: float) -> None:
    """Move the stored lease's renewTime `seconds` into the past (its holder stopped renewing)."""
    def edit(obj):
        then = datetime.fromisoformat(obj["spec"]["renewTime"]).timestamp() - seconds
        obj["spec"]["renewTime"] = microtime(then)
    fk.mutate(COORD, NS, "leases", LEASE, edit)


def annotation(vs: dict, key: str) -> Any:
    raw = ((vs.get("metadata") or {}).get("annotations") or {}).get(key)
    return json.loads(raw) if raw is not None else None


def change(to: int, frm: int | None = None, reason: str = "test", action: str = "set-weight") -> WeightChange:
    return WeightChange(who="sre@bridge", at=datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc),
                        from_canary=frm, to_canary=to, reason=reason, action=action)


# --- configs ---------------------------------------------------------------------------


def write_config(tmp_path: Path, kubeconfig: str | None, name: str = "rollout.yaml", **sections: Any) -> Path:
    """configs/x0tta6bl4-app.yaml with demo metrics (no Prometheus) and this kubeconfig."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["metrics"] = {"kind": "demo", "interval": "2s"}
    raw["kubernetes"] = {"kubeconfig": kubeconfig, "context": None}
    # No files in the working tree and no webhook unless a test asks for them.
    raw["audit"], raw["history"], raw["notify"] = {"file": None}, {"file": None}, {"webhookEnv": None}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def fk():
    with FakeKube() as server:
        yield server


@pytest.fixture
def kubeconfig(fk, tmp_path):
    return fk.write_kubeconfig(tmp_path / "kubeconfig", context="fake")


@pytest.fixture
def guide(fk):
    """The guide's objects: the VirtualService, both DestinationRules, the canary Deployment."""
    return load_guide(fk)


@pytest.fixture
def make_router(kubeconfig):
    made = []

    def make(**overrides) -> IstioRouter:
        overrides.setdefault("kubeconfig", kubeconfig)
        router = IstioRouter.from_config(load(CONFIG), **overrides)
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


class CallSpy:
    """Wraps a kubernetes API object and records (method name, _request_timeout) of every call."""

    def __init__(self, api, seen: list):
        self.api, self.seen = api, seen

    def __getattr__(self, name):
        method = getattr(self.api, name)

        def call(*args, **kwargs):
            self.seen.append((name, kwargs.get("_request_timeout")))
            return method(*args, **kwargs)
        return call


# --- controllers ---------------------------------------------------------------------------


class NoMetrics:
    def describe(self):
        return "none"

    def poll(self):
        raise BackendError("no metrics in this test")

    def backfill(self, seconds, step):
        return []

    def close(self):
        pass


class ScriptedEvaluator:
    """A verdict chosen by the test (as in tests/test_progression.py)."""

    def __init__(self, result: Result = Result.PASS):
        self.result = result

    def observe(self, snap, canary_weight):
        check = Check("error rate", "error_rate", 0.004, 0.005, "<= 1.00%", self.result, "")
        return Verdict.combine((check,), at=snap.at)

    def reset(self):
        pass


def fast_policy(controller, bake_s: float = 60.0):
    controller.autopilot.policy = replace(controller.config.rollout, bake_s=bake_s)
    return controller.autopilot.policy


def run_polls(controller, clock, seconds: float, step: float = 2.0):
    state = None
    for _ in range(int(seconds / step)):
        clock.advance(step)
        state = controller.poll_once()
    return state
