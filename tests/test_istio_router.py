"""IstioRouter through the fake Kubernetes API server (real HTTP on loopback, the official client)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from istio_fixtures import (  # noqa: F401  (fixtures are used by name)
    CallSpy,
    NoMetrics,
    CANARY,
    CANARY_NS,
    CONFIG,
    G,
    K8S,
    LAST_CHANGE as ANNOTATION,
    NS,
    STABLE,
    VS,
    VS_PATH,
    FakeKube,
    change,
    fk,
    guide,
    guide_vs,
    kubeconfig,
    make_router,
    manifests,
    stored_vs,
    weights,
)
from istio_fixtures import vs_patches as patches
from tui.backends.base import BackendError, ConflictError, WriteRefused
from tui.backends.istio import IstioRouter
from tui.config import load

ROOT = Path(__file__).resolve().parent.parent


# --- reading -------------------------------------------------------------------


def test_reads_the_guide_virtual_service(guide, make_router):
    split = make_router().read()
    header, default = split.routes
    assert header.name == "canary-header" and header.match == ('headers x-canary exact "true"',)
    assert [(d.host, d.subset, d.weight, d.role) for d in header.destinations] == [(CANARY, "canary", 100, "canary")]
    assert not header.driven
    assert default.label == "default" and default.match == () and default.driven
    assert [(d.role, d.weight) for d in default.destinations] == [("stable", 95), ("canary", 5)]
    assert split.canary_weight == 5 and split.stable_weight == 95
    assert split.version == stored_vs(guide)["metadata"]["resourceVersion"]
    assert split.owner is None
    assert split.source == "istio x0tta6bl4/x0tta6bl4-app (networking.istio.io/v1)"


def test_reads_region_routes(guide, make_router):
    guide.put_object(guide_vs(multiregion=True))
    split = make_router().read()
    assert [r.label for r in split.routes] == ["canary-header", "us-east", "eu-west", "default"]
    us, eu = split.route("us-east"), split.route("eu-west")
    assert us.match == ("sourceLabels region=us-east",) and us.driven
    assert (us.stable_weight, us.canary_weight) == (90, 10)
    # A single destination without a weight takes all the traffic (Istio semantics).
    assert eu.match == ("sourceLabels region=eu-west",) and not eu.driven
    assert [(d.role, d.weight) for d in eu.destinations] == [("stable", 100)]
    assert [r.label for r in split.driven_routes] == ["us-east", "default"]


def test_match_rendering_and_unnamed_routes(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"].insert(1, {
        "match": [
            {"uri": {"prefix": "/api"}, "method": {"exact": "POST"},
             "headers": {"x-user": {"regex": "^qa-.*"}, "x-debug": {}}},
            {"queryParams": {"canary": {"exact": "1"}}, "port": 8080},
            {"withoutHeaders": {"x-bot": {"exact": "yes"}}, "gateways": ["mesh"], "ignoreUriCase": True},
        ],
        "route": [{"destination": {"host": "x0tta6bl4-app-canary", "subset": "canary"}}],
        "retries": {"attempts": 3},
    })
    guide.put_object(vs)
    split = make_router().read()
    r = split.routes[1]
    assert r.name is None and r.label == "#1" and split.route("1") is r
    assert r.match == (
        'uri prefix "/api" and method exact "POST" and headers x-debug present and headers x-user regex "^qa-.*"',
        'queryParams canary exact "1" and port 8080',
        'withoutHeaders x-bot exact "yes" and gateways mesh and ignoreUriCase',
    )
    assert r.destinations[0].role == "canary" and r.destinations[0].weight == 100


@pytest.mark.parametrize("vs_host, cfg_host, role", [
    ("x0tta6bl4-app-canary", CANARY, "canary"),  # short name in the VS, FQDN in the config
    ("x0tta6bl4-app-canary.x0tta6bl4-canary", CANARY, "canary"),
    (CANARY, "x0tta6bl4-app-canary", "canary"),  # and the other way round
    ("x0tta6bl4-app-canary.elsewhere.svc.cluster.local", CANARY, None),  # another namespace
    ("x0tta6bl4-app-canaryx", CANARY, None),
])
def test_host_matching(guide, make_router, vs_host, cfg_host, role):
    vs = guide_vs()
    vs["spec"]["http"][1]["route"][1]["destination"]["host"] = vs_host
    vs["spec"]["http"][0]["route"][0]["destination"]["host"] = CANARY  # keep a canary route
    guide.put_object(vs)
    split = make_router(canary={"host": cfg_host, "subset": "canary"}).read()
    assert split.route("default").destinations[1].role == role
    assert split.route("default").driven is (role == "canary")


def test_subset_must_match_where_configured(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"][1]["route"][1]["destination"]["subset"] = "canary-v2"
    guide.put_object(vs)
    split = make_router().read()
    assert split.route("default").destinations[1].role is None
    assert not split.route("default").driven


OWNERS = [
    ({"ownerReferences": [{"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "x0tta6bl4-app",
                           "uid": "1"}]}, "Flagger Canary x0tta6bl4/x0tta6bl4-app"),
    ({"ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "app",
                           "uid": "1"}]}, "Argo Rollout x0tta6bl4/app"),
    ({"annotations": {"rollouts.argoproj.io/managed-by-rollouts": "app"}}, "Argo Rollout x0tta6bl4/app"),
    ({"labels": {"rollouts.argoproj.io/something": "x"}}, "Argo Rollouts (label rollouts.argoproj.io/something)"),
    ({"labels": {"argocd.argoproj.io/instance": "x0tta6bl4"}}, "Argo CD Application x0tta6bl4"),
    ({"annotations": {"argocd.argoproj.io/tracking-id": "apps:networking.istio.io/VirtualService:x0tta6bl4/x"}},
     "Argo CD Application apps"),
    ({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
     "Flux Kustomization flux-system/apps"),
    ({"labels": {"helm.toolkit.fluxcd.io/name": "app", "helm.toolkit.fluxcd.io/namespace": "flux-system"}},
     "Flux HelmRelease flux-system/app"),
    ({"managedFields": [{"manager": "argocd-controller", "operation": "Apply"}]},
     "Argo CD (field manager argocd-controller)"),
    ({"managedFields": [{"manager": "argocd-application-controller", "operation": "Update"}]},
     "Argo CD (field manager argocd-application-controller)"),
    ({"managedFields": [{"manager": "kubectl-client-side-apply"}, {"manager": "kustomize-controller"}]},
     "Flux kustomize-controller (field manager kustomize-controller)"),
    ({"managedFields": [{"manager": "helm-controller", "operation": "Update"}]},
     "Flux helm-controller (field manager helm-controller)"),
    # Not owners: Helm by itself installs once and does not reconcile; kubectl; the console itself.
    ({"labels": {"app.kubernetes.io/managed-by": "Helm"},
      "annotations": {"meta.helm.sh/release-name": "app"},
      "managedFields": [{"manager": "helm"}, {"manager": "kubectl-client-side-apply"},
                        {"manager": "canary-console"}]}, None),
]


@pytest.mark.parametrize("meta, owner", OWNERS)
def test_owner_detection(guide, make_router, meta, owner):
    vs = guide_vs()
    vs["metadata"].update(meta)
    guide.put_object(vs)
    assert make_router().read().owner == owner


def test_missing_virtual_service_is_a_clear_error(fk, make_router):
    router = make_router()
    with pytest.raises(BackendError, match=r"VirtualService x0tta6bl4/x0tta6bl4-app not found"):
        router.read()
    with pytest.raises(BackendError, match="not found"):
        router.set_canary_weight(10, change(10))
    assert not patches(fk)


def test_no_route_to_the_canary_is_a_clear_error(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"] = vs["spec"]["http"][1:]
    vs["spec"]["http"][0]["route"] = vs["spec"]["http"][0]["route"][:1]
    guide.put_object(vs)
    with pytest.raises(BackendError, match="has no http route to the canary"):
        make_router().read()


def test_destination_rule_lacking_the_subset(guide, make_router):
    dr = manifests("destinationrule.yaml")[1]
    dr["spec"]["subsets"][0]["name"] = "v2"
    guide.put_object(dr)
    with pytest.raises(BackendError, match=r"lacks subset 'canary'.*has v2"):
        make_router().read()


def test_destination_rule_missing_for_a_host(guide, make_router):
    guide.delete_object(G, CANARY_NS, "destinationrules", "x0tta6bl4-app-canary")
    with pytest.raises(BackendError, match=r"no DestinationRule for host x0tta6bl4-app-canary"):
        make_router().read()


def test_configured_destination_rule(guide, make_router):
    assert make_router(destination_rule="x0tta6bl4-app-stable").read().canary_weight == 5
    with pytest.raises(BackendError, match=r"DestinationRule x0tta6bl4/nope not found"):
        make_router(destination_rule="nope").read()


def test_destination_rules_are_checked_once_then_one_get_per_read(guide, make_router):
    router = make_router()
    router.read()
    first = [(r.method, r.path) for r in guide.requests]
    assert ("GET", f"/apis/{G}/v1/namespaces/{NS}/destinationrules") in first
    guide.clear_requests()
    for _ in range(5):
        router.read()
    assert [(r.method, r.path) for r in guide.requests] == \
        [("GET", f"/apis/{G}/v1{VS_PATH}")] * 5


def test_v1beta1_fallback_is_remembered(guide, make_router):
    guide.serve(G, ["v1beta1"])
    router = make_router()
    split = router.read()
    assert split.source.endswith("(networking.istio.io/v1beta1)") and router.version == "v1beta1"
    guide.clear_requests()
    router.read()
    router.set_canary_weight(20, change(20, 5))
    assert [(r.method, r.path) for r in guide.requests] == [
        ("GET", f"/apis/{G}/v1beta1{VS_PATH}"), ("PATCH", f"/apis/{G}/v1beta1{VS_PATH}")]
    assert weights(stored_vs(guide, "v1beta1"), "default") == [80, 20]


def test_istio_not_installed(guide, make_router):
    guide.serve(G, [])
    with pytest.raises(BackendError, match="is Istio installed"):
        make_router().read()


# --- writing -------------------------------------------------------------------


def test_set_weight_on_all_driven_routes_only(guide, make_router):
    guide.put_object(guide_vs(multiregion=True))
    before = stored_vs(guide)
    router = make_router()
    router.read()
    split = router.set_canary_weight(30, change(30, 5))
    after = stored_vs(guide)
    assert weights(after, "us-east") == [70, 30] and weights(after, "default") == [70, 30]
    assert after["spec"]["http"][0] == before["spec"]["http"][0]  # the header route
    assert after["spec"]["http"][2] == before["spec"]["http"][2]  # eu-west
    assert [r.canary_weight for r in split.driven_routes] == [30, 30]
    assert split.version == after["metadata"]["resourceVersion"]
    assert router.untouched_canary_routes(split) == ("canary-header",)


def test_set_weight_on_one_route(guide, make_router):
    guide.put_object(guide_vs(multiregion=True))
    router = make_router()
    split = router.set_canary_weight(50, change(50, 10), route="us-east")
    vs = stored_vs(guide)
    assert weights(vs, "us-east") == [50, 50] and weights(vs, "default") == [95, 5]
    assert split.route("us-east").canary_weight == 50
    assert router.untouched_canary_routes(split, route="us-east") == ("canary-header", "default")


def test_configured_default_route(guide, make_router):
    guide.put_object(guide_vs(multiregion=True))
    router = make_router(route="default")
    router.set_canary_weight(25, change(25, 5))
    vs = stored_vs(guide)
    assert weights(vs, "default") == [75, 25] and weights(vs, "us-east") == [90, 10]


def test_step_like_consecutive_writes(guide, make_router):
    router = make_router()
    router.read()
    guide.clear_requests()
    last = 5
    for target in (10, 15, 20, 25):
        split = router.set_canary_weight(target, change(target, last, action="step"))
        assert split.canary_weight == target and split.stable_weight == 100 - target
        assert weights(stored_vs(guide), "default") == [100 - target, target]
        last = target
    # Each write is one PATCH: the previous answer is the starting point of the next.
    assert [r.method for r in guide.requests] == ["PATCH"] * 4
    note = json.loads(stored_vs(guide)["metadata"]["annotations"][ANNOTATION])
    assert note == {"who": "sre@bridge", "when": "2027-01-15T08:00:00Z", "action": "step",
                    "from": 20, "to": 25, "reason": "test"}


def test_promote_to_100(guide, make_router):
    split = make_router().set_canary_weight(100, change(100, 5, action="promote"))
    assert weights(stored_vs(guide), "default") == [0, 100]
    assert split.canary_weight == 100 and split.stable_weight == 0


def test_rollback_through_the_controller(guide, make_router):
    from tui.controller import RolloutController

    router = make_router()
    controller = RolloutController(load(CONFIG), router, NoMetrics(), who="sre@bridge")
    assert guide.get_object("apps", "v1", CANARY_NS, "deployments", "x0tta6bl4-app-canary")["spec"]["replicas"] == 2
    result = controller.rollback("p95 too high")
    assert result.ok, result.message
    assert weights(stored_vs(guide), "default") == [100, 0]
    assert guide.get_object("apps", "v1", CANARY_NS, "deployments", "x0tta6bl4-app-canary")["spec"]["replicas"] == 0
    scale = guide.requests_to("PATCH", "/deployments/x0tta6bl4-app-canary/scale")
    assert len(scale) == 1 and scale[0].body == {"spec": {"replicas": 0}}
    assert scale[0].content_type == "application/merge-patch+json"
    # The header route still reaches the canary: the CLI names it.
    assert router.untouched_canary_routes(result.split) == ("canary-header",)
    note = json.loads(stored_vs(guide)["metadata"]["annotations"][ANNOTATION])
    assert (note["action"], note["from"], note["to"], note["reason"]) == ("rollback", 5, 0, "p95 too high")


def test_scale_canary_validation(guide, make_router):
    router = make_router()
    with pytest.raises(WriteRefused):
        router.scale_canary(-1)
    with pytest.raises(WriteRefused, match="canary.deployment is not configured"):
        make_router(canary_deployment=None).scale_canary(0)
    router.scale_canary(3)
    assert guide.get_object("apps", "v1", CANARY_NS, "deployments", "x0tta6bl4-app-canary")["spec"]["replicas"] == 3


def test_the_json_patch_body(guide, make_router):
    router = make_router()
    router.read()
    guide.clear_requests()
    router.set_canary_weight(10, change(10, 5))
    (req,) = guide.requests
    assert req.method == "PATCH" and req.content_type == "application/json-patch+json"
    assert req.query.get("fieldManager") == ["canary-console"]
    ops = req.body
    assert isinstance(ops, list)
    rv = ops[0]
    assert rv == {"op": "test", "path": "/metadata/resourceVersion", "value": "1"}
    tests = [op for op in ops if op["op"] == "test"]
    assert tests[1:] == [
        {"op": "test", "path": "/spec/http/1/route/0/destination/host", "value": STABLE},
        {"op": "test", "path": "/spec/http/1/route/0/destination/subset", "value": "stable"},
        {"op": "test", "path": "/spec/http/1/route/1/destination/host", "value": CANARY},
        {"op": "test", "path": "/spec/http/1/route/1/destination/subset", "value": "canary"},
    ]
    writes = [op for op in ops if op["op"] != "test"]
    assert writes[:2] == [
        {"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 90},
        {"op": "replace", "path": "/spec/http/1/route/1/weight", "value": 10},
    ]
    # No annotations yet: the map is created with the record in it.
    assert writes[2]["op"] == "add" and writes[2]["path"] == "/metadata/annotations"
    assert json.loads(writes[2]["value"][ANNOTATION]) == change(10, 5).as_dict()
    assert len(writes) == 3

    # Second write: the annotation exists now; its key is escaped ("/" -> "~1").
    guide.clear_requests()
    router.set_canary_weight(20, change(20, 10))
    last = guide.requests[0].body[-1]
    assert last["op"] == "replace" and last["path"] == "/metadata/annotations/canary-console~1last-change"


def test_annotation_added_next_to_existing_annotations(guide, make_router):
    vs = guide_vs()
    vs["metadata"]["annotations"] = {"team": "bridge"}
    guide.put_object(vs)
    router = make_router()
    router.set_canary_weight(10, change(10, 5))
    last = patches(guide)[-1].body[-1]
    assert last["op"] == "add" and last["path"] == "/metadata/annotations/canary-console~1last-change"
    assert stored_vs(guide)["metadata"]["annotations"]["team"] == "bridge"


def test_destinations_without_weight_keys_get_add(guide, make_router):
    vs = guide_vs()
    default = vs["spec"]["http"][1]["route"]
    default[0]["weight"] = 100
    del default[1]["weight"]  # implied 0 next to another destination
    guide.put_object(vs)
    router = make_router()
    assert router.read().route("default").canary_weight == 0
    router.set_canary_weight(10, change(10, 0))
    writes = [op for op in patches(guide)[-1].body if op["op"] != "test"][:-1]
    assert writes == [{"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 90},
                      {"op": "add", "path": "/spec/http/1/route/1/weight", "value": 10}]
    assert weights(stored_vs(guide), "default") == [90, 10]


def test_conflict_is_reread_and_retried(guide, make_router):
    router = make_router()
    router.read()

    def other_writer(_request):
        guide.mutate(G, NS, "virtualservices", VS,
                     lambda o: o["metadata"].setdefault("labels", {}).update({"touched": "yes"}))

    guide.before_next_write(other_writer)
    guide.clear_requests()
    split = router.set_canary_weight(40, change(40, 5))
    assert [(r.method, r.status) for r in guide.requests] == [("PATCH", 422), ("GET", 200), ("PATCH", 200)]
    vs = stored_vs(guide)
    assert weights(vs, "default") == [60, 40] and vs["metadata"]["labels"]["touched"] == "yes"
    assert split.canary_weight == 40


def test_moved_destinations_are_caught_by_the_tests(guide, make_router):
    """Another writer swaps the destinations: the host tests fail, the re-read sees the new order."""
    router = make_router()
    router.read()

    def swap(_request):
        def edit(o):
            route = o["spec"]["http"][1]["route"]
            route.reverse()
        guide.mutate(G, NS, "virtualservices", VS, edit)

    guide.before_next_write(swap)
    router.set_canary_weight(30, change(30, 5))
    route = stored_vs(guide)["spec"]["http"][1]["route"]
    assert [(d["destination"]["subset"], d["weight"]) for d in route] == [("canary", 30), ("stable", 70)]


def test_persistent_conflicts_raise_conflict_error(guide, make_router):
    router = make_router()
    router.read()
    guide.before_next_write(
        lambda _r: guide.mutate(G, NS, "virtualservices", VS, lambda o: None), times=100)
    with pytest.raises(ConflictError, match="3 attempts conflicted"):
        router.set_canary_weight(40, change(40, 5))
    assert [r.method for r in guide.requests if "/virtualservices/" in r.path][-5:] == \
        ["PATCH", "GET", "PATCH", "GET", "PATCH"]
    assert len(patches(guide)) == router.max_attempts == 3
    assert weights(stored_vs(guide), "default") == [95, 5]
    guide.clear_write_hooks()


@pytest.mark.parametrize("bad", [-1, 101, 5.5, True, "10", None])
def test_bad_weights_are_refused_without_any_request(guide, make_router, bad):
    router = make_router()
    guide.clear_requests()
    with pytest.raises(WriteRefused):
        router.set_canary_weight(bad, change(10))
    assert guide.requests == []


def test_other_destination_with_traffic_is_refused(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"][1]["route"] = [
        {"destination": {"host": STABLE, "subset": "stable"}, "weight": 80},
        {"destination": {"host": CANARY, "subset": "canary"}, "weight": 10},
        {"destination": {"host": "legacy.x0tta6bl4.svc.cluster.local"}, "weight": 10},
    ]
    guide.put_object(vs)
    router = make_router()
    with pytest.raises(WriteRefused, match=r"also sends traffic to legacy.x0tta6bl4.svc.cluster.local \(10%\)"):
        router.set_canary_weight(20, change(20, 10))
    assert not patches(guide)


def test_other_destination_at_zero_is_left_alone(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"][1]["route"].append({"destination": {"host": "legacy.x0tta6bl4.svc.cluster.local"},
                                           "weight": 0})
    guide.put_object(vs)
    router = make_router()
    router.set_canary_weight(20, change(20, 5))
    assert weights(stored_vs(guide), "default") == [80, 20, 0]
    paths = [op["path"] for op in patches(guide)[-1].body if op["op"] != "test"]
    assert "/spec/http/1/route/2/weight" not in paths


def test_route_selection_errors(guide, make_router):
    router = make_router()
    with pytest.raises(WriteRefused, match=r"no route 'nope'.*routes: canary-header, default"):
        router.set_canary_weight(10, change(10), route="nope")
    with pytest.raises(WriteRefused, match="route canary-header does not carry both stable and canary"):
        router.set_canary_weight(10, change(10), route="canary-header")
    assert not patches(guide)


def test_no_driven_route(guide, make_router):
    vs = guide_vs()
    vs["spec"]["http"][1]["route"] = vs["spec"]["http"][1]["route"][:1]
    guide.put_object(vs)
    router = make_router()
    split = router.read()
    assert split.driven_routes == () and split.canary_weight is None
    with pytest.raises(WriteRefused, match="nothing to drive"):
        router.set_canary_weight(10, change(10))


def test_ownership_refusal_and_force(guide, make_router):
    vs = guide_vs()
    vs["metadata"]["ownerReferences"] = [{"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
                                          "name": "x0tta6bl4-app", "uid": "u1", "controller": True}]
    guide.put_object(vs)
    router = make_router()
    assert router.read().owner == "Flagger Canary x0tta6bl4/x0tta6bl4-app"
    with pytest.raises(WriteRefused) as refused:
        router.set_canary_weight(20, change(20, 5))
    assert str(refused.value) == ("VirtualService x0tta6bl4/x0tta6bl4-app is owned by Flagger Canary "
                                  "x0tta6bl4/x0tta6bl4-app: it would revert manual weights; use --force")
    assert not patches(guide)
    split = router.set_canary_weight(20, change(20, 5), force=True)
    assert split.canary_weight == 20 and split.owner.startswith("Flagger")


def test_owner_appearing_after_the_read_is_still_refused(guide, make_router):
    router = make_router()
    router.read()  # not owned yet
    guide.mutate(G, NS, "virtualservices", VS,
                 lambda o: o["metadata"].setdefault("labels", {}).update({"argocd.argoproj.io/instance": "apps"}))
    with pytest.raises(WriteRefused, match="owned by Argo CD Application apps"):
        router.set_canary_weight(20, change(20, 5))
    # The write started from the last read; its resourceVersion test failed, the re-read refused.
    assert [r.status for r in patches(guide)] == [422]
    assert weights(stored_vs(guide), "default") == [95, 5]


# --- failures --------------------------------------------------------------------


def test_forbidden_names_verb_and_resource(guide, make_router):
    router = make_router()
    router.read()
    guide.deny("patch", G, "virtualservices", namespace=NS)
    with pytest.raises(BackendError) as exc:
        router.set_canary_weight(10, change(10, 5))
    assert str(exc.value) == ("forbidden: cannot patch virtualservices.networking.istio.io in namespace "
                              "x0tta6bl4 (see configs/rbac.yaml)")
    assert not exc.value.transient  # a permission waits for a person; automation does not retry it
    guide.deny("get", G, "virtualservices")
    with pytest.raises(BackendError, match="forbidden: cannot get virtualservices.networking.istio.io"):
        router.read()
    guide.deny("patch", "apps", "deployments/scale")
    with pytest.raises(BackendError, match=r"forbidden: cannot patch deployments.apps/scale in namespace "
                                           r"x0tta6bl4-canary \(see configs/rbac.yaml\)"):
        router.scale_canary(0)


def test_forbidden_destination_rule_list(guide, make_router):
    guide.deny("list", G, "destinationrules", namespace=NS)
    with pytest.raises(BackendError, match="forbidden: cannot list destinationrules.networking.istio.io "
                                           "in namespace x0tta6bl4"):
        make_router().read()


def test_timeout_is_a_backend_error_not_a_hang(guide, make_router):
    router = make_router(timeout=0.3)
    router.read()
    guide.delay(5, method="GET")
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"Kubernetes API did not answer within 0.3s") as exc:
        router.read()
    assert time.monotonic() - start < 2
    assert exc.value.transient  # a timeout may pass: automation tries again
    guide.clear_delays()
    guide.delay(5, method="PATCH")
    start = time.monotonic()
    with pytest.raises(BackendError, match="did not answer within 0.3s.*may or may not have been applied"):
        router.set_canary_weight(10, change(10, 5))
    assert time.monotonic() - start < 2
    guide.clear_delays()


def test_every_call_passes_a_request_timeout(guide, make_router):
    router = make_router(timeout=2.5)
    seen = []

    router.kube.custom = CallSpy(router.kube.custom, seen)
    router.kube.apps = CallSpy(router.kube.apps, seen)
    router.read()
    router.read()
    router.set_canary_weight(10, change(10, 5))
    router.scale_canary(0)
    assert {name for name, _ in seen} == {"get_namespaced_custom_object", "list_namespaced_custom_object",
                                         "patch_namespaced_custom_object", "patch_namespaced_deployment_scale"}
    assert all(timeout == 2.5 for _, timeout in seen), seen


def test_default_timeout_message_says_5s(guide, make_router):
    router = make_router()
    assert router.timeout == 5.0
    assert router.kube._transport_error(TimeoutError("timed out"), write=False).args[0].startswith(
        "Kubernetes API did not answer within 5s")


def test_connection_refused(fk, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    path = fk.write_kubeconfig(tmp_path / "kc", context="fake", extra_contexts=[{"name": "dead", "server": dead}])
    router = IstioRouter.from_config(load(CONFIG), context="dead", kubeconfig=path)
    start = time.monotonic()
    with pytest.raises(BackendError, match="connection refused"):
        router.read()
    assert time.monotonic() - start < 2
    router.close()


def test_api_errors_map_to_backend_errors(guide, make_router):
    from kubernetes.client.rest import ApiException

    from tui.backends.istio.kube import Conflict

    kube = make_router().kube

    def api_error(status, body):
        exc = ApiException(status=status, reason="x")
        exc.body = json.dumps(body)
        return kube._api_error(exc, "patch", "virtualservices.networking.istio.io", NS)

    assert isinstance(api_error(409, {"message": "modified"}), Conflict)
    assert isinstance(api_error(422, {"reason": "Invalid", "message": "test failed", "details": {}}), Conflict)
    invalid = api_error(422, {"reason": "Invalid", "message": "bad weight",
                              "details": {"causes": [{"field": "spec.http[0].route[0].weight"}]}})
    assert not isinstance(invalid, Conflict) and "rejected the change as invalid" in str(invalid)
    assert "error 500" in str(api_error(500, {"message": "boom"}))


# --- connection conventions ----------------------------------------------------------


def test_kubeconfig_env_and_context_override(guide, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    # current-context is the dead cluster; the config names it too; --context wins.
    path = guide.write_kubeconfig(tmp_path / "kc", context="dead-current",
                                  extra_contexts=[{"name": "good"}])
    kc = yaml.safe_load(Path(path).read_text())
    kc["clusters"].append({"name": "dead", "cluster": {"server": dead}})
    kc["contexts"][0]["context"]["cluster"] = "dead"
    Path(path).write_text(yaml.safe_dump(kc))
    monkeypatch.setenv("KUBECONFIG", path)
    config = load(CONFIG)
    config.kubernetes["context"] = "dead-current"
    router = IstioRouter.from_config(config, context="good")
    assert router.read().canary_weight == 5
    router.close()
    router = IstioRouter.from_config(config)
    with pytest.raises(BackendError, match="connection refused"):
        router.read()
    router.close()
    with pytest.raises(BackendError, match="cannot load kubeconfig"):
        IstioRouter.from_config(config, context="no-such-context")


def test_in_cluster_service_account_when_no_kubeconfig(tmp_path, monkeypatch):
    from kubernetes.config import incluster_config

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(BackendError, match="no kubeconfig found.*not running in a cluster"):
        IstioRouter.from_config(load(CONFIG))
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("not really a certificate")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    router = IstioRouter.from_config(load(CONFIG))
    assert router.kube.connection.where == "in-cluster service account"
    assert router.kube.connection.server == "https://10.0.0.1:443"
    router.close()


def test_importing_tui_does_not_import_kubernetes():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import tui.backends.istio, tui.backends.istio.router, tui.assembly, tui.controller\n"
        "from tui.backends.istio import hosts, ownership, patch, virtualservice\n"
        "print('kubernetes' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_from_config_describes_itself(guide, make_router):
    router = make_router()
    assert router.describe() == "istio x0tta6bl4/x0tta6bl4-app"
    assert router.canary_namespace == CANARY_NS and router.canary_deployment == "x0tta6bl4-app-canary"
    assert router.timeout == 5.0
    with pytest.raises(BackendError, match="same destination"):
        make_router(canary={"host": STABLE, "subset": None})
