"""Property tests: over generated VirtualServices, a weight change touches only the weights it means to.

Every example goes through the fake API server (real HTTP, the official client), so the
example counts stay modest.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import FakeKube
except ModuleNotFoundError:
    from fakekube import FakeKube
from tui.backends.base import BackendError, WriteRefused
from tui.backends.istio import IstioRouter
from tui.backends.istio.hosts import Target
from tui.model import WeightChange

G = "networking.istio.io"
NS = "x0tta6bl4"
VS = "generated"
STABLE = "x0tta6bl4-app-stable.x0tta6bl4.svc.cluster.local"
CANARY = "x0tta6bl4-app-canary.x0tta6bl4-canary.svc.cluster.local"
ANNOTATION = "canary-console/last-change"

# (host, subset, role): every way a destination may be written, and what it is.
DESTINATIONS = [
    (STABLE, "stable", "stable"),
    ("x0tta6bl4-app-stable", "stable", "stable"),
    ("x0tta6bl4-app-stable.x0tta6bl4", "stable", "stable"),
    (CANARY, "canary", "canary"),
    ("x0tta6bl4-app-canary", "canary", "canary"),
    (CANARY, "canary-v2", None),  # another subset
    (STABLE, None, None),  # no subset: not the configured stable subset
    ("x0tta6bl4-app-canary.elsewhere.svc.cluster.local", "canary", None),  # another namespace
    ("legacy.x0tta6bl4.svc.cluster.local", None, None),
    ("api.example.com", None, None),
]
ROLE = {(h, s): r for h, s, r in DESTINATIONS}

string_match = st.one_of(
    st.builds(lambda v: {"exact": v}, st.sampled_from(["true", "1", "qa", "ä"])),
    st.builds(lambda v: {"prefix": v}, st.sampled_from(["/", "/api", "/v2/"])),
    st.builds(lambda v: {"regex": v}, st.sampled_from(["^qa-.*", "[a-z]+"])),
)
match_block = st.fixed_dictionaries({}, optional={
    "headers": st.dictionaries(st.sampled_from(["x-canary", "x-user", "cookie"]), string_match, min_size=1,
                               max_size=2),
    "uri": string_match,
    "sourceLabels": st.dictionaries(st.sampled_from(["region", "zone", "app"]),
                                    st.sampled_from(["us-east", "eu-west", "a"]), min_size=1, max_size=2),
    "queryParams": st.dictionaries(st.just("canary"), string_match, min_size=1),
    "port": st.sampled_from([80, 8080]),
})


@st.composite
def route_destination(draw) -> dict[str, Any]:
    host, subset, role = draw(st.sampled_from(DESTINATIONS))
    dest: dict[str, Any] = {"host": host}
    if subset is not None:
        dest["subset"] = subset
    if draw(st.booleans()):
        dest["port"] = {"number": draw(st.sampled_from([80, 8080]))}
    rd: dict[str, Any] = {"destination": dest}
    if draw(st.integers(0, 3)):  # usually with a weight key
        rd["weight"] = draw(st.integers(0, 100) if role else st.sampled_from([0, 0, 0, 10]))
    if draw(st.integers(0, 4)) == 0:
        rd["headers"] = {"request": {"set": {"x-version": "v"}}}
    return rd


@st.composite
def http_route(draw, index: int) -> dict[str, Any]:
    route: dict[str, Any] = {}
    if draw(st.booleans()):
        route["name"] = f"r{index}"
    if draw(st.booleans()):
        route["match"] = draw(st.lists(match_block, min_size=1, max_size=2))
    if draw(st.integers(0, 6)) == 0:
        route["redirect"] = {"uri": "/moved"}
        return route
    route["route"] = draw(st.lists(route_destination(), min_size=1, max_size=4))
    extras = draw(st.fixed_dictionaries({}, optional={
        "retries": st.just({"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}),
        "timeout": st.sampled_from(["5s", "500ms"]),
        "mirror": st.just({"host": CANARY, "subset": "canary"}),
        "mirrorPercentage": st.just({"value": 10.0}),
        "fault": st.just({"delay": {"fixedDelay": "1s", "percentage": {"value": 1.5}}}),
        "rewrite": st.just({"uri": "/"}),
    }))
    route.update(extras)
    return route


@st.composite
def virtual_service(draw) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    http = [draw(http_route(i)) for i in range(n)]
    if draw(st.integers(0, 3)):  # usually one route that can be driven, somewhere
        stable = draw(st.sampled_from([d for d in DESTINATIONS if d[2] == "stable"]))
        canary = draw(st.sampled_from([d for d in DESTINATIONS if d[2] == "canary"]))
        dests = [{"destination": {"host": h, "subset": sub}} for h, sub, _ in (stable, canary)]
        for rd in dests:
            if draw(st.integers(0, 3)):
                rd["weight"] = draw(st.integers(0, 100))
        if draw(st.booleans()):
            dests.append({"destination": {"host": "legacy.x0tta6bl4.svc.cluster.local"}, "weight": 0})
        dests = draw(st.permutations(dests))
        route = {"name": "seeded", "route": dests}
        if draw(st.booleans()):
            route["match"] = [{"sourceLabels": {"region": "us-east"}}]
        http.insert(draw(st.integers(0, len(http))), route)
    spec: dict[str, Any] = {"hosts": [STABLE], "http": http}
    if draw(st.booleans()):
        spec["tcp"] = [{"route": [{"destination": {"host": CANARY, "port": {"number": 9000}}, "weight": 100}]}]
    if draw(st.booleans()):
        spec["gateways"] = ["mesh"]
    meta: dict[str, Any] = {"name": VS, "namespace": NS}
    if draw(st.booleans()):
        meta["annotations"] = {"team": "bridge", **({ANNOTATION: "{}"} if draw(st.booleans()) else {})}
    if draw(st.booleans()):
        meta["labels"] = {"app": "x0tta6bl4-app"}
    return {"apiVersion": f"{G}/v1", "kind": "VirtualService", "metadata": meta, "spec": spec}


# --- the expectation, computed independently of the router ------------------------


def effective(rd: dict[str, Any], count: int) -> int:
    return rd["weight"] if "weight" in rd else (100 if count == 1 else 0)


def roles_of(route: dict[str, Any]) -> list[str | None]:
    return [ROLE[(rd["destination"]["host"], rd["destination"].get("subset"))] for rd in route.get("route", [])]


def is_driven(route: dict[str, Any]) -> bool:
    roles = roles_of(route)
    return "stable" in roles and "canary" in roles


def diff(a: Any, b: Any, path: tuple = ()) -> set[tuple]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[tuple] = set()
        for key in a.keys() | b.keys():
            if key not in a or key not in b:
                out.add(path + (key,))
            else:
                out |= diff(a[key], b[key], path + (key,))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return {path}
        return set().union(*(diff(x, y, path + (i,)) for i, (x, y) in enumerate(zip(a, b)))) if a else set()
    return set() if (type(a) is type(b) and a == b) else {path}


def refused_expected(http: list[dict[str, Any]], targets: list[int]) -> bool:
    """Nothing to drive, or a target route sends traffic to a destination that is neither role."""
    return not targets or any(
        role is None and effective(rd, len(http[i]["route"])) != 0
        for i in targets for rd, role in zip(http[i]["route"], roles_of(http[i])))


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with FakeKube() as fk:
        fk.put_object({"apiVersion": f"{G}/v1", "kind": "DestinationRule",
                       "metadata": {"name": "stable", "namespace": NS},
                       "spec": {"host": STABLE, "subsets": [{"name": "stable", "labels": {"version": "stable"}}]}})
        fk.put_object({"apiVersion": f"{G}/v1", "kind": "DestinationRule",
                       "metadata": {"name": "canary", "namespace": NS},
                       "spec": {"host": CANARY, "subsets": [{"name": "canary", "labels": {"version": "canary"}},
                                                            {"name": "canary-v2", "labels": {"version": "v2"}}]}})
        path = fk.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
        router = IstioRouter(NS, VS, Target(STABLE, "stable"), Target(CANARY, "canary"),
                             kubeconfig=path, timeout=5.0)
        yield fk, router
        router.close()


def change(to: int) -> WeightChange:
    return WeightChange(who="prop@test", at=datetime(2027, 1, 15, tzinfo=timezone.utc), from_canary=None,
                        to_canary=to, reason="property", action="set-weight")


PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(vs=virtual_service(), canaries=st.lists(st.integers(0, 100), min_size=1, max_size=3),
       pick=st.integers(0, 10))
def test_a_weight_change_touches_only_the_weights_it_means_to(world, vs, canaries, pick):
    fk, router = world
    fk.put_object(vs)
    http = vs["spec"]["http"]
    driven = [i for i, r in enumerate(http) if is_driven(r)]
    named_driven = [i for i in driven if "name" in http[i]]
    # Sometimes one named route, usually all driven routes.
    route = http[named_driven[pick % len(named_driven)]]["name"] if named_driven and pick < 3 else None
    targets = [i for i in driven if route is None or http[i].get("name") == route][:1 if route else None]
    carries_canary = any("canary" in roles_of(r) for r in http)

    event("no canary route" if not carries_canary else
          "refused" if refused_expected(http, targets) else f"written ({'one route' if route else 'all driven'})")
    if not carries_canary:
        with pytest.raises(BackendError, match="no http route to the canary"):
            router.read()
        return
    split = router.read()
    assert [r.index for r in split.driven_routes] == driven
    for r, raw in zip(split.routes, http):
        assert [d.weight for d in r.destinations] == [effective(rd, len(raw.get("route", [])))
                                                      for rd in raw.get("route", [])]
        assert [d.role for d in r.destinations] == roles_of(raw)

    refused = refused_expected(http, targets)
    for canary in canaries:
        before = fk.get_object(G, "v1", NS, "virtualservices", VS)
        fk.clear_requests()
        if refused:
            with pytest.raises(WriteRefused):
                router.set_canary_weight(canary, change(canary), route=route)
            assert fk.requests_to("PATCH") == []
            assert fk.get_object(G, "v1", NS, "virtualservices", VS) == before
            return
        result = router.set_canary_weight(canary, change(canary), route=route)
        after = fk.get_object(G, "v1", NS, "virtualservices", VS)
        assert [r.method for r in fk.requests] == ["PATCH"]

        allowed = {("metadata", "resourceVersion"), ("metadata", "generation"),
                   ("metadata", "annotations"), ("metadata", "annotations", ANNOTATION)}
        for path in diff(before, after):
            is_weight = (len(path) == 6 and path[:2] == ("spec", "http") and path[2] in targets
                         and path[3] == "route" and path[5] == "weight")
            assert is_weight or path in allowed, f"unexpected change at {path}"
        assert json.loads(after["metadata"]["annotations"][ANNOTATION])["to"] == canary
        if "team" in before["metadata"].get("annotations", {}):
            assert after["metadata"]["annotations"]["team"] == "bridge"

        for i in targets:
            rds = after["spec"]["http"][i]["route"]
            got = [effective(rd, len(rds)) for rd in rds]
            assert sum(got) == 100
            roles = roles_of(after["spec"]["http"][i])
            expected, seen = [], set()
            for role in roles:
                share = {"stable": 100 - canary, "canary": canary}.get(role, 0) if role not in seen else 0
                expected.append(share)
                if role:
                    seen.add(role)
            assert got == expected
            assert result.routes[i].canary_weight == canary and result.routes[i].stable_weight == 100 - canary
        if route is None:
            assert all(r.total_weight == 100 for r in result.driven_routes)
        assert result.version == after["metadata"]["resourceVersion"]


@settings(max_examples=30, deadline=None)
@given(vs=virtual_service())
def test_reading_never_writes_and_is_one_get(world, vs):
    fk, router = world
    fk.put_object(vs)
    before = fk.get_object(G, "v1", NS, "virtualservices", VS)
    fk.clear_requests()
    try:
        router.read()
    except BackendError:
        pass
    assert [(r.method, r.path) for r in fk.requests] == [
        ("GET", f"/apis/{G}/v1/namespaces/{NS}/virtualservices/{VS}")]
    assert fk.get_object(G, "v1", NS, "virtualservices", VS) == before
