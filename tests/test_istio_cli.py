"""The CLI verbs against the fake API server: a kubeconfig written by the fake, a config file pointing at it.

Metrics are the demo's (metrics are separate from the router); every request the verbs
make to Kubernetes is checked on the fake.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import yaml

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    COORD,
    FLAGGER,
    G,
    LAST_CHANGE,
    NS,
    annotation,
    fk,
    guide,
    guide_vs,
    kubeconfig,
    lease_requests,
    put_lease,
    replicas,
    stored_lease,
    stored_vs,
    vs_patches,
    vs_requests,
    weights,
    write_config,
)
from tui.cli import main

OTHER = "alice@laptop pid 4242"


def _controller_names_skipped_routes() -> bool:
    """Whether RolloutController puts the router's left_as_is (untouched_canary_routes) into skipped_routes."""
    from tests.conftest import make_demo_controller

    controller, _ = make_demo_controller()
    probe = lambda split, route=None: ("probe",)  # noqa: E731
    controller.router.untouched_canary_routes = controller.router.left_as_is = probe
    try:
        return controller.set_weight(10, reason="probe").skipped_routes == ("probe",)
    finally:
        controller.close()


CONTROLLER_NAMES_SKIPPED = _controller_names_skipped_routes()
needs_controller_change = pytest.mark.xfail(
    not CONTROLLER_NAMES_SKIPPED, strict=True,
    reason="tui/controller/controller.py does not yet copy router.left_as_is(split, route) into "
           "ActionResult.skipped_routes")


@pytest.fixture
def config(guide, kubeconfig, tmp_path) -> Path:
    return write_config(tmp_path, kubeconfig)


@pytest.fixture
def cli(capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def dead_server() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# --- status --------------------------------------------------------------------------


def test_status_json(config, cli, guide):
    code, out, err = cli("status", "--config", str(config), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rollout"] == "x0tta6bl4-app"
    assert doc["source"] == "istio x0tta6bl4/x0tta6bl4-app (networking.istio.io/v1)"
    assert doc["owner"] is None
    assert [(r["name"], r["match"], r["stable"], r["canary"], r["driven"]) for r in doc["routes"]] == [
        ("canary-header", ['headers x-canary exact "true"'], 0, 100, False),
        ("default", None, 95, 5, True),
    ]
    assert doc["weights"] == {"stable": 95, "canary": 5}
    assert doc["verdict"] in ("pass", "warn", "fail", "nodata")


def test_status_never_takes_the_lease(config, cli, guide):
    assert cli("status", "--config", str(config))[0] == 0
    assert cli("status", "--config", str(config), "--json")[0] == 0
    # It reads the lease to say who drives, and never writes it.
    assert {r.method for r in lease_requests(guide)} == {"GET"} and stored_lease(guide) is None
    assert [r.method for r in guide.requests if r.method != "GET"] == []
    # ...and works while another console drives, naming it.
    put_lease(guide, OTHER, time.time())
    code, out, _ = cli("status", "--config", str(config))
    assert code == 0 and "default" in out and f"driven by {OTHER}" in out
    assert {r.method for r in lease_requests(guide)} == {"GET"}


def test_status_shows_the_owner(config, cli, guide):
    vs = guide_vs()
    vs["metadata"]["ownerReferences"] = FLAGGER
    guide.put_object(vs)
    code, out, _ = cli("status", "--config", str(config))
    assert code == 0 and "OWNED BY Flagger Canary x0tta6bl4/x0tta6bl4-app" in out


def test_status_shows_the_last_change_from_the_annotation(config, cli, guide):
    assert json.loads(cli("status", "--config", str(config), "--json")[1])["lastChange"] is None
    assert cli("set-weight", "20", "--config", str(config), "--reason", "first step clean")[0] == 0
    # Another process, reading only the VirtualService: who changed it last, when and why.
    doc = json.loads(cli("status", "--config", str(config), "--json")[1])
    change = doc["lastChange"]
    assert (change["action"], change["from"], change["to"], change["reason"]) == (
        "set-weight", 5, 20, "first step clean")
    assert change["who"] and change["when"].endswith("Z")
    out = cli("status", "--config", str(config))[1]
    assert f"last change {change['when']} canary 5% -> 20% by {change['who']}: first step clean" in out
    vs = stored_vs(guide)
    vs["metadata"]["annotations"][LAST_CHANGE] = '{"to": "twenty"}'  # edited by hand: no note, no error
    guide.put_object(vs)
    code, out, _ = cli("status", "--config", str(config), "--json")
    assert code == 0 and json.loads(out)["lastChange"] is None


# --- writes ---------------------------------------------------------------------------


def test_set_weight_moves_the_driven_route_only(config, cli, guide):
    before = stored_vs(guide)
    code, out, err = cli("set-weight", "20", "--config", str(config))
    assert code == 0, err
    assert out.splitlines()[0] == "canary 5% -> 20%"
    after = stored_vs(guide)
    assert weights(after, "default") == [80, 20]
    assert after["spec"]["http"][0] == before["spec"]["http"][0]  # the header route
    (patch,) = vs_patches(guide)
    assert patch.status == 200
    note = annotation(after, LAST_CHANGE)
    assert (note["action"], note["from"], note["to"], note["reason"]) == ("set-weight", 5, 20, "cli set-weight")
    # The lease was taken for the write and given back after it.
    lease = stored_lease(guide)
    assert lease is not None and "holderIdentity" not in lease["spec"]


def test_set_weight_on_one_route(config, cli, guide):
    guide.put_object(guide_vs(multiregion=True))
    code, out, err = cli("set-weight", "50", "--route", "us-east", "--config", str(config), "--reason", "eu later")
    assert code == 0, err
    assert out.splitlines()[0] == "canary 10% -> 50% on route us-east"
    vs = stored_vs(guide)
    assert weights(vs, "us-east") == [50, 50] and weights(vs, "default") == [95, 5]
    assert annotation(vs, LAST_CHANGE)["reason"] == "eu later"
    code, _, err = cli("set-weight", "50", "--route", "nope", "--config", str(config))
    assert code == 1 and "no route 'nope'" in err


@pytest.mark.parametrize("bad", ["150", "-1"])
def test_out_of_range_weight_is_refused_before_touching_the_virtual_service(config, cli, guide, bad):
    code, _, err = cli("set-weight", bad, "--config", str(config))
    assert code in (1, 2)
    assert "0 and 100" in err or "invalid" in err
    assert vs_patches(guide) == [] and vs_requests(guide) == []
    assert weights(stored_vs(guide), "default") == [95, 5]


def test_non_integer_weight_is_a_usage_error(config, cli, guide):
    code, _, err = cli("set-weight", "12.5", "--config", str(config))
    assert code == 2 and "between 0 and 100" in err
    assert guide.requests == []


def test_promote(config, cli, guide):
    code, out, err = cli("promote", "--config", str(config))
    assert code == 0, err
    assert out.splitlines()[0] == "canary 5% -> 100%"
    assert weights(stored_vs(guide), "default") == [0, 100]
    assert replicas(guide) == 2


def test_rollback_scales_the_canary_to_zero(config, cli, guide):
    header = stored_vs(guide)["spec"]["http"][0]
    code, out, err = cli("rollback", "--reason", "x", "--config", str(config))
    assert code == 0, err
    assert out.splitlines()[0] == "canary 5% -> 0%"
    vs = stored_vs(guide)
    assert weights(vs, "default") == [100, 0]
    assert vs["spec"]["http"][0] == header  # opt-in (x-canary) traffic left where it was
    assert replicas(guide) == 0
    note = annotation(vs, LAST_CHANGE)
    assert (note["action"], note["to"], note["reason"]) == ("rollback", 0, "x")


def test_the_router_names_the_routes_a_rollback_left(config, cli, guide):
    from tui.backends.istio import IstioRouter
    from tui.config import load

    assert cli("rollback", "--config", str(config))[0] == 0
    router = IstioRouter.from_config(load(config))
    try:
        split = router.read()
        assert router.left_as_is(split) == router.untouched_canary_routes(split) == ("canary-header",)
        assert router.left_as_is(split, "default") == ("canary-header",)
    finally:
        router.close()


@needs_controller_change
def test_writes_name_the_routes_they_left(config, cli, guide):
    code, out, _ = cli("rollback", "--reason", "x", "--config", str(config))
    assert code == 0
    # A rollback scales the canary to 0: the header route's requests now fail, and it says so.
    assert ("left as is: route canary-header (reaches the canary only through its match); the canary is "
            "now at 0 replicas, so each of its requests fails") in out.splitlines()
    guide.put_object(guide_vs(multiregion=True))
    assert cli("scale", "2", "--reason", "fixed build", "--config", str(config))[0] == 0  # the rollback scaled it to 0
    code, out, _ = cli("set-weight", "30", "--route", "us-east", "--config", str(config))
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("left as is")] == [
        "left as is: route canary-header (reaches the canary only through its match)",
        "left as is: route default (reaches the canary only through its match)",
    ]


def test_context_selects_a_context_of_a_multi_context_kubeconfig(guide, tmp_path, cli):
    path = guide.write_kubeconfig(tmp_path / "kc", context="fake",
                                  extra_contexts=[{"name": "dead", "server": dead_server()}])
    kc = yaml.safe_load(Path(path).read_text())
    kc["current-context"] = "dead"
    Path(path).write_text(yaml.safe_dump(kc))
    config = write_config(tmp_path, path)
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 1 and "connection refused" in err
    assert weights(stored_vs(guide), "default") == [95, 5]
    code, _, err = cli("set-weight", "20", "--config", str(config), "--context", "fake")
    assert code == 0, err
    assert weights(stored_vs(guide), "default") == [80, 20]
    code, out, _ = cli("status", "--json", "--config", str(config), "--context", "fake")
    assert code == 0 and json.loads(out)["weights"] == {"stable": 80, "canary": 20}
    # The config's kubernetes.context is overridden by --context too.
    config = write_config(tmp_path, path, name="ctx.yaml", kubernetes={"kubeconfig": path, "context": "dead"})
    assert cli("status", "--json", "--config", str(config))[0] == 1
    assert cli("status", "--json", "--config", str(config), "--context", "fake")[0] == 0


def test_owned_by_flagger_is_refused_unless_forced(config, cli, guide):
    vs = guide_vs()
    vs["metadata"]["ownerReferences"] = FLAGGER
    guide.put_object(vs)
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 1
    assert err.strip() == ("canary-console: set-weight refused: VirtualService x0tta6bl4/x0tta6bl4-app is owned by "
                           "Flagger Canary x0tta6bl4/x0tta6bl4-app: it would revert manual weights; use --force")
    assert vs_patches(guide) == []
    code, out, err = cli("set-weight", "20", "--force", "--config", str(config))
    assert code == 0, err
    assert weights(stored_vs(guide), "default") == [80, 20]


def test_forbidden_names_the_verb_and_resource(config, cli, guide):
    guide.deny("patch", G, "virtualservices", namespace=NS)
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 1
    assert "forbidden: cannot patch virtualservices.networking.istio.io in namespace x0tta6bl4" in err
    guide.clear_denials()
    guide.deny("patch", "apps", "deployments/scale")
    code, _, err = cli("rollback", "--config", str(config))
    assert code == 1
    assert "forbidden: cannot patch deployments.apps/scale in namespace x0tta6bl4-canary" in err
    assert "traffic moved to stable" in err
    guide.clear_denials()
    guide.deny("get", COORD, "leases")
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 1
    assert "lease unavailable: forbidden: cannot get leases.coordination.k8s.io in namespace x0tta6bl4" in err


def test_a_second_writer_is_refused_while_another_holds_the_lease(config, cli, guide):
    put_lease(guide, OTHER, time.time())
    before = stored_lease(guide)
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 1
    assert err.strip() == f"canary-console: set-weight refused: {OTHER} drives this rollout"
    assert vs_patches(guide) == []
    assert stored_lease(guide) == before  # neither taken nor released
    # Once it expires, the next write goes through.
    put_lease(guide, OTHER, time.time() - 16)
    code, _, err = cli("set-weight", "20", "--config", str(config))
    assert code == 0, err
    assert stored_lease(guide)["spec"]["leaseTransitions"] == 1
