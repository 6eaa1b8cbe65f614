"""The fake API server, exercised through the official `kubernetes` client (v36).

Client facts these tests pin down (kubernetes==36.0.3):
- CustomObjectsApi.patch_namespaced_custom_object only knows
  application/merge-patch+json; a JSON Patch (list body) needs
  `_content_type="application/json-patch+json"`, otherwise the list is sent
  as a merge patch and rejected.
- AppsV1Api.patch_namespaced_deployment_scale sends json-patch+json for a
  list body and strategic-merge-patch+json for a dict body.
"""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import DEFAULT_TOKEN, FakeKube
    from tests.fakekube import patch as jp
except ModuleNotFoundError:
    from fakekube import DEFAULT_TOKEN, FakeKube
    from fakekube import patch as jp

T = 5  # _request_timeout for every call: a hung fake must fail fast, not hang the suite
ISTIO = "networking.istio.io"
NS = "prod"
JSON_PATCH = "application/json-patch+json"


# -- fixtures ---------------------------------------------------------------


@pytest.fixture
def fk():
    with FakeKube() as fake:
        yield fake


@pytest.fixture
def api_client(fk, tmp_path):
    path = fk.write_kubeconfig(tmp_path / "kubeconfig", context="fake", namespace=NS)
    api = config.new_client_from_config(config_file=path, context="fake")
    yield api
    api.close()


@pytest.fixture
def co(api_client):
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def apps(api_client):
    return client.AppsV1Api(api_client)


@pytest.fixture
def leases(api_client):
    return client.CoordinationV1Api(api_client)


def virtual_service(name="web", routes=("primary", "canary")):
    return {
        "apiVersion": f"{ISTIO}/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"hosts": [name], "http": [
            {"name": r, "route": [{"destination": {"host": name, "subset": r}, "weight": 50}]}
            for r in routes]},
    }


def create_vs(co, version="v1", **kw):
    return co.create_namespaced_custom_object(ISTIO, version, NS, "virtualservices",
                                              virtual_service(**kw), _request_timeout=T)


def deployment(name="web", replicas=3):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
    }


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def raw(fk, method, path, body=b"", content_type=None, token=DEFAULT_TOKEN):
    """For requests the official client cannot produce (malformed bodies)."""
    url = urlsplit(fk.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=T)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, data


VS_PATH = f"/apis/{ISTIO}/v1/namespaces/{NS}/virtualservices"


# -- kubeconfig and authentication -------------------------------------------


def test_kubeconfig_contexts_and_bearer_token(fk, tmp_path):
    path = fk.write_kubeconfig(tmp_path / "kc", context="a", namespace="ns-a",
                               extra_contexts=[{"name": "b", "token": "other-token",
                                                "user": "system:serviceaccount:ops:bot"}])
    contexts, active = config.list_kube_config_contexts(config_file=path)
    assert [c["name"] for c in contexts] == ["a", "b"] and active["name"] == "a"
    assert active["context"]["namespace"] == "ns-a"
    for ctx in ("a", "b"):
        api = config.new_client_from_config(config_file=path, context=ctx)
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            ISTIO, "v1", NS, "virtualservices", _request_timeout=T)
        api.close()
    assert [r.user for r in fk.requests] == ["system:serviceaccount:default:canary-console",
                                             "system:serviceaccount:ops:bot"]
    assert fk.requests[0].headers["authorization"] == "<redacted>"


def test_unknown_or_revoked_token_is_401(fk, co):
    assert raw(fk, "GET", VS_PATH, token="nope")[0] == 401
    assert raw(fk, "GET", VS_PATH, token=None)[0] == 401
    fk.revoke_token(DEFAULT_TOKEN)
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", _request_timeout=T)
    assert err.value.status == 401


# -- create / get / list ------------------------------------------------------


def test_create_and_get_virtual_service(fk, co):
    created = create_vs(co)
    meta = created["metadata"]
    assert meta["namespace"] == NS and meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["resourceVersion"] == fk.resource_version
    got = co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                          _request_timeout=T)
    assert got == created
    assert fk.get_object(ISTIO, "v1", NS, "virtualservices", "web") == created
    assert fk.requests[0].status == 201 and fk.requests[0].body["kind"] == "VirtualService"


def test_create_twice_is_409_already_exists(co):
    create_vs(co)
    with pytest.raises(ApiException) as err:
        create_vs(co)
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'virtualservices.networking.istio.io "web" already exists'


def test_missing_object_is_404_not_found_status(co):
    with pytest.raises(ApiException) as err:
        co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "ghost",
                                        _request_timeout=T)
    assert err.value.status == 404
    assert status_of(err.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'virtualservices.networking.istio.io "ghost" not found', "reason": "NotFound",
        "details": {"name": "ghost", "group": ISTIO, "kind": "virtualservices"}, "code": 404}


def test_list_with_label_selector_and_pagination(fk, co):
    for name in ("a", "b", "c"):
        create_vs(co, name=name)
    listed = co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices",
                                              _request_timeout=T)
    assert listed["kind"] == "VirtualServiceList" and listed["apiVersion"] == f"{ISTIO}/v1"
    assert listed["metadata"]["resourceVersion"] == fk.resource_version
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b", "c"]
    assert all(i["kind"] == "VirtualService" for i in listed["items"])
    only_b = co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices",
                                              label_selector="app=b", _request_timeout=T)
    assert [i["metadata"]["name"] for i in only_b["items"]] == ["b"]
    page = co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", limit=2,
                                            _request_timeout=T)
    assert len(page["items"]) == 2 and page["metadata"]["remainingItemCount"] == 1
    rest = co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", limit=2,
                                            _continue=page["metadata"]["continue"],
                                            _request_timeout=T)
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    everywhere = co.list_cluster_custom_object(ISTIO, "v1", "virtualservices", _request_timeout=T)
    assert len(everywhere["items"]) == 3


# -- JSON patch (RFC 6902) ----------------------------------------------------


def test_json_patch_with_passing_test_op(fk, co):
    rv = create_vs(co)["metadata"]["resourceVersion"]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
           {"op": "test", "path": "/spec/http/1/name", "value": "canary"},
           {"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 90},
           {"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 10}]
    patched = co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", ops,
                                                _content_type=JSON_PATCH, _request_timeout=T)
    assert [h["route"][0]["weight"] for h in patched["spec"]["http"]] == [90, 10]
    assert int(patched["metadata"]["resourceVersion"]) > int(rv)
    assert patched["metadata"]["generation"] == 2
    assert fk.requests[-1].content_type == JSON_PATCH and fk.requests[-1].body == ops


def test_json_patch_failing_test_op_is_422_and_changes_nothing(fk, co):
    create_vs(co)
    before = fk.get_object(ISTIO, "v1", NS, "virtualservices", "web")
    ops = [{"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 0},
           {"op": "test", "path": "/metadata/resourceVersion", "value": "999"}]
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", ops,
                                          _content_type=JSON_PATCH, _request_timeout=T)
    assert err.value.status == 422
    assert status_of(err.value)["reason"] == "Invalid"
    assert fk.get_object(ISTIO, "v1", NS, "virtualservices", "web") == before


def test_json_patch_bad_path_is_422(co):
    create_vs(co)
    for op in ({"op": "replace", "path": "/spec/nope", "value": 1},
               {"op": "remove", "path": "/spec/http/7"},
               {"op": "add", "path": "/spec/http/01", "value": {}}):
        with pytest.raises(ApiException) as err:
            co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", [op],
                                              _content_type=JSON_PATCH, _request_timeout=T)
        assert err.value.status == 422, op


def test_json_patch_list_without_content_type_goes_out_as_merge_patch(fk, co):
    """The v36 pitfall: without _content_type the list is sent as a merge patch."""
    create_vs(co)
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                          [{"op": "remove", "path": "/spec/http/1"}],
                                          _request_timeout=T)
    assert err.value.status == 400
    assert fk.requests[-1].content_type == "application/merge-patch+json"


def test_json_patch_body_not_a_list_is_400(fk, co):
    create_vs(co)
    status, body = raw(fk, "PATCH", f"{VS_PATH}/web", b'{"op": "remove"}', JSON_PATCH)
    assert (status, body["reason"]) == (400, "BadRequest")
    status, body = raw(fk, "PATCH", f"{VS_PATH}/web", b"[{not json", JSON_PATCH)
    assert (status, body["reason"]) == (400, "BadRequest")


# -- merge patch (RFC 7386) and other patch types ----------------------------


def test_merge_patch_replaces_http_routes_wholesale(fk, co):
    """The guide's bug: a merge patch of one route drops all the others."""
    create_vs(co, routes=("primary", "canary", "mirror"))
    only_one = {"spec": {"http": [{"name": "canary", "route": [
        {"destination": {"host": "web", "subset": "canary"}, "weight": 100}]}]}}
    patched = co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                                only_one, _request_timeout=T)
    assert [h["name"] for h in patched["spec"]["http"]] == ["canary"]
    assert patched["spec"]["hosts"] == ["web"]  # objects still merge
    assert fk.requests[-1].content_type == "application/merge-patch+json"
    dropped = co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                                {"metadata": {"labels": {"app": None}}},
                                                _request_timeout=T)
    assert "app" not in dropped["metadata"].get("labels", {})


def test_merge_patch_with_stale_resource_version_is_409(fk, co):
    rv = create_vs(co)["metadata"]["resourceVersion"]
    fk.mutate(ISTIO, NS, "virtualservices", "web", lambda o: o["spec"].update(gateways=["g"]))
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(
            ISTIO, "v1", NS, "virtualservices", "web",
            {"metadata": {"resourceVersion": rv}, "spec": {"hosts": ["x"]}}, _request_timeout=T)
    assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"


def test_noop_patch_keeps_resource_version(co):
    """Like the real server, a write that changes nothing is not a write."""
    rv = create_vs(co)["metadata"]["resourceVersion"]
    for version in ("v1", "v1beta1"):
        same = co.patch_namespaced_custom_object(ISTIO, version, NS, "virtualservices", "web",
                                                 {"spec": {"hosts": ["web"]}}, _request_timeout=T)
        assert same["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize("content_type", [
    "application/strategic-merge-patch+json",  # custom resources refuse it
    "application/apply-patch+yaml",            # server-side apply: not faked
    "application/vnd.unknown+json",
])
def test_unsupported_patch_types_are_415(co, content_type):
    create_vs(co)
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                          {"spec": {}}, _content_type=content_type,
                                          _request_timeout=T)
    assert err.value.status == 415
    assert status_of(err.value)["reason"] == "UnsupportedMediaType"


# -- replace (PUT) ------------------------------------------------------------


def test_replace_with_stale_resource_version_is_409(fk, co):
    vs = create_vs(co)
    fk.mutate(ISTIO, NS, "virtualservices", "web", lambda o: o["spec"].update(hosts=["other"]))
    vs["spec"]["http"] = vs["spec"]["http"][:1]
    with pytest.raises(ApiException) as err:
        co.replace_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", vs,
                                            _request_timeout=T)
    assert err.value.status == 409
    assert status_of(err.value)["message"] == (
        'Operation cannot be fulfilled on virtualservices.networking.istio.io "web": the object '
        "has been modified; please apply your changes to the latest version and try again")


def test_concurrent_writer_between_read_and_write(fk, co):
    vs = create_vs(co)
    fk.before_next_write(lambda _req: fk.mutate(
        ISTIO, NS, "virtualservices", "web", lambda o: o["spec"].update(hosts=["theirs"])))
    vs["spec"]["hosts"] = ["mine"]
    with pytest.raises(ApiException) as err:
        co.replace_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", vs,
                                            _request_timeout=T)
    assert err.value.status == 409
    # The hook was one-shot: a fresh read-modify-write now succeeds.
    fresh = co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                            _request_timeout=T)
    fresh["spec"]["hosts"] = ["mine"]
    done = co.replace_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", fresh,
                                               _request_timeout=T)
    assert done["spec"]["hosts"] == ["mine"]


def test_replace_rejects_inconsistent_bodies(co):
    vs = create_vs(co)
    cases = [
        ({**vs, "kind": "DestinationRule"}, 400),
        ({**vs, "apiVersion": f"{ISTIO}/v1alpha3"}, 400),
        ({**vs, "metadata": {**vs["metadata"], "name": "other"}}, 400),
        ({**vs, "metadata": {**vs["metadata"], "namespace": "elsewhere"}}, 400),
        ({**vs, "metadata": {k: v for k, v in vs["metadata"].items() if k != "resourceVersion"}},
         422),  # custom resources refuse unconditional updates
    ]
    for body, code in cases:
        with pytest.raises(ApiException) as err:
            co.replace_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", body,
                                                _request_timeout=T)
        assert err.value.status == code, body


def test_strictness_on_malformed_requests(fk, co):
    create_vs(co)
    assert raw(fk, "POST", VS_PATH, b"{nope", "application/json")[0] == 400
    assert raw(fk, "POST", VS_PATH, json.dumps(virtual_service("x")).encode(), "text/plain")[0] == 415
    assert raw(fk, "POST", VS_PATH, json.dumps(virtual_service("y")).encode())[0] == 415
    assert raw(fk, "PATCH", f"{VS_PATH}/web", b"{}", "text/plain")[0] == 415
    no_kind = {k: v for k, v in virtual_service("z").items() if k != "kind"}
    assert raw(fk, "POST", VS_PATH, json.dumps(no_kind).encode(), "application/json")[0] == 400
    bad_name = virtual_service("Bad_Name")
    assert raw(fk, "POST", VS_PATH, json.dumps(bad_name).encode(), "application/json")[0] == 422
    # A namespaced resource without a namespace in the path.
    assert raw(fk, "GET", f"/apis/{ISTIO}/v1/virtualservices/web")[0] == 404
    assert raw(fk, "POST", f"/apis/{ISTIO}/v1/virtualservices", b"{}", "application/json")[0] == 405
    assert raw(fk, "GET", f"/apis/{ISTIO}/v1/namespaces/{NS}/nosuchthings")[0] == 404
    assert not fk.list_objects(ISTIO, "virtualservices", NS)[1:]


def test_delete_returns_object_and_honours_preconditions(fk, co):
    vs = create_vs(co)
    with pytest.raises(ApiException) as err:
        co.delete_namespaced_custom_object(
            ISTIO, "v1", NS, "virtualservices", "web",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1x")),
            _request_timeout=T)
    assert err.value.status == 409
    gone = co.delete_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                              _request_timeout=T)
    assert gone["metadata"]["uid"] == vs["metadata"]["uid"]
    assert fk.get_object(ISTIO, "v1", NS, "virtualservices", "web") is None


def test_dry_run_does_not_persist(fk, co):
    co.create_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", virtual_service(),
                                       dry_run="All", _request_timeout=T)
    assert fk.get_object(ISTIO, "v1", NS, "virtualservices", "web") is None


def test_status_is_its_own_subresource(fk, co):
    body = {**virtual_service(), "status": {"observedGeneration": 9}}
    created = co.create_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", body,
                                                 _request_timeout=T)
    assert "status" not in created  # dropped on create, like the real server
    co.patch_namespaced_custom_object_status(ISTIO, "v1", NS, "virtualservices", "web",
                                             {"status": {"observedGeneration": 1}},
                                             _request_timeout=T)
    main = co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                             {"status": {"observedGeneration": 5}},
                                             _request_timeout=T)
    assert main["status"] == {"observedGeneration": 1}  # ignored through the main resource


def test_test_hooks_put_get_mutate_and_namespaces(fk, co):
    stored = fk.put_object({**virtual_service(), "status": {"ok": True}})
    assert stored["metadata"]["namespace"] == "default" and stored["status"] == {"ok": True}
    rv = fk.resource_version
    after = fk.mutate(ISTIO, "default", "virtualservices", "web", lambda o: None)
    assert int(after["metadata"]["resourceVersion"]) == int(rv) + 1  # forced bump
    seen = fk.get_object(ISTIO, "v1beta1", "default", "virtualservices", "web")
    assert seen["apiVersion"] == f"{ISTIO}/v1beta1"
    fk.require_namespaces("default")
    with pytest.raises(ApiException) as err:
        create_vs(co)  # NS does not exist now
    assert status_of(err.value)["message"] == 'namespaces "prod" not found'
    generated = co.create_namespaced_custom_object(
        ISTIO, "v1", "default", "virtualservices",
        {**virtual_service(), "metadata": {"generateName": "web-"}}, _request_timeout=T)
    assert generated["metadata"]["name"].startswith("web-")


def test_delete_collection_by_label(fk, co):
    for name in ("a", "b"):
        create_vs(co, name=name)
    co.delete_collection_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices",
                                                  label_selector="app=a", _request_timeout=T)
    assert [o["metadata"]["name"] for o in fk.list_objects(ISTIO, "virtualservices")] == ["b"]


# -- authorization ------------------------------------------------------------


def test_deny_gives_real_forbidden_status(fk, co):
    create_vs(co)
    fk.deny("patch", ISTIO, "virtualservices", namespace=NS)
    co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web", _request_timeout=T)
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                          {"spec": {"hosts": ["x"]}}, _request_timeout=T)
    assert err.value.status == 403
    status = status_of(err.value)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'virtualservices.networking.istio.io "web" is forbidden: User '
        '"system:serviceaccount:default:canary-console" cannot patch resource "virtualservices" '
        'in API group "networking.istio.io" in the namespace "prod"')
    fk.deny("list", ISTIO, "virtualservices")
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", _request_timeout=T)
    assert status_of(err.value)["message"].startswith(
        "virtualservices.networking.istio.io is forbidden")


# -- deployments and the scale subresource ------------------------------------


def test_scale_subresource_read_and_patch_to_zero(fk, apps):
    apps.create_namespaced_deployment(NS, deployment(replicas=3), _request_timeout=T)
    fk.mutate("apps", NS, "deployments", "web", lambda d: d.update(status={"replicas": 3}))
    scale = apps.read_namespaced_deployment_scale("web", NS, _request_timeout=T)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (3, 3, "app=web")
    rv_before = fk.get_object("apps", "v1", NS, "deployments", "web")["metadata"]["resourceVersion"]

    scaled = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 0}},
                                                    _request_timeout=T)
    assert scaled.spec.replicas == 0 and scaled.kind == "Scale"
    assert fk.requests[-1].content_type == "application/strategic-merge-patch+json"
    dep = apps.read_namespaced_deployment("web", NS, _request_timeout=T)
    assert dep.spec.replicas == 0
    assert int(dep.metadata.resource_version) > int(rv_before)
    assert dep.metadata.resource_version == scaled.metadata.resource_version

    apps.patch_namespaced_deployment_scale(
        "web", NS, [{"op": "replace", "path": "/spec/replicas", "value": 2}], _request_timeout=T)
    assert fk.requests[-1].content_type == JSON_PATCH
    assert fk.get_object("apps", "v1", NS, "deployments", "web")["spec"]["replicas"] == 2


def test_scale_validation_conflict_and_denial(fk, apps):
    apps.create_namespaced_deployment(NS, deployment(), _request_timeout=T)
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": -1}},
                                               _request_timeout=T)
    assert err.value.status == 422
    stale = client.V1Scale(metadata=client.V1ObjectMeta(name="web", resource_version="1"),
                           spec=client.V1ScaleSpec(replicas=5))
    fk.mutate("apps", NS, "deployments", "web", lambda d: None)
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment_scale("web", NS, stale, _request_timeout=T)
    assert err.value.status == 409
    fk.deny("patch", "apps", "deployments/scale", namespace=NS)
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}},
                                               _request_timeout=T)
    assert err.value.status == 403
    assert 'cannot patch resource "deployments/scale" in API group "apps"' in \
        status_of(err.value)["message"]
    # The main resource is a different RBAC resource and is still allowed.
    apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"x": "y"}}},
                                     _request_timeout=T)


def test_builtin_accepts_strategic_merge_patch_and_typed_list(apps):
    apps.create_namespaced_deployment(NS, deployment(), _request_timeout=T)
    patched = apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 5}},
                                               _request_timeout=T)
    assert patched.spec.replicas == 5 and patched.metadata.generation == 2
    listed = apps.list_namespaced_deployment(NS, _request_timeout=T)
    assert [d.metadata.name for d in listed.items] == ["web"]


# -- leases ---------------------------------------------------------------------


def test_lease_create_replace_conflict_delete(fk, leases):
    body = client.V1Lease(metadata=client.V1ObjectMeta(name="canary-lock"),
                          spec=client.V1LeaseSpec(holder_identity="me", lease_duration_seconds=15))
    created = leases.create_namespaced_lease(NS, body, _request_timeout=T)
    assert created.kind == "Lease" and created.spec.holder_identity == "me"

    created.spec.holder_identity = "me-again"
    renewed = leases.replace_namespaced_lease("canary-lock", NS, created, _request_timeout=T)
    assert int(renewed.metadata.resource_version) > int(created.metadata.resource_version)

    created.spec.holder_identity = "stale-me"  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        leases.replace_namespaced_lease("canary-lock", NS, created, _request_timeout=T)
    assert err.value.status == 409

    leases.patch_namespaced_lease("canary-lock", NS, {"spec": {"leaseTransitions": 1}},
                                  _request_timeout=T)
    status = leases.delete_namespaced_lease("canary-lock", NS, _request_timeout=T)
    assert status.status == "Success"
    with pytest.raises(ApiException) as err:
        leases.read_namespaced_lease("canary-lock", NS, _request_timeout=T)
    assert err.value.status == 404


# -- timeouts ---------------------------------------------------------------------


def test_delay_trips_the_client_timeout_quickly(fk, co, apps):
    create_vs(co)
    fk.delay(5, method="PATCH", path_contains="/virtualservices/web")
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        co.patch_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                          {"spec": {"hosts": ["x"]}}, _request_timeout=0.2)
    assert time.monotonic() - started < 1
    assert len(fk.requests_to("PATCH")) == 1  # PATCH is not retried

    # GETs are idempotent: urllib3 retries them 3 times before giving up.
    fk.delay(5, method="GET", path_contains="/virtualservices/web")
    with pytest.raises(urllib3.exceptions.MaxRetryError) as err:
        co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                        _request_timeout=0.1)
    assert isinstance(err.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert len(fk.requests_to("GET", "/virtualservices/web")) == 4


def test_delay_after_applying_loses_the_answer_not_the_write(fk, apps):
    apps.create_namespaced_deployment(NS, deployment(replicas=3), _request_timeout=T)
    fk.delay(5, method="PATCH", times=1, after=True)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 0}},
                                               _request_timeout=0.2)
    deadline = time.monotonic() + 2
    while fk.get_object("apps", "v1", NS, "deployments", "web")["spec"]["replicas"] != 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)


# -- served versions ----------------------------------------------------------------


def test_unserved_version_is_404_and_fallback_works(fk, co):
    fk.serve(ISTIO, ["v1beta1"])
    with pytest.raises(ApiException) as err:
        create_vs(co, version="v1")
    assert err.value.status == 404
    assert status_of(err.value)["message"] == "the server could not find the requested resource"
    body = {**virtual_service(), "apiVersion": f"{ISTIO}/v1beta1"}
    co.create_namespaced_custom_object(ISTIO, "v1beta1", NS, "virtualservices", body,
                                       _request_timeout=T)
    fk.serve(ISTIO, ["v1", "v1beta1"])
    seen = co.get_namespaced_custom_object(ISTIO, "v1", NS, "virtualservices", "web",
                                           _request_timeout=T)
    assert seen["apiVersion"] == f"{ISTIO}/v1"  # same storage, rewritten apiVersion


def test_discovery_reflects_served_versions(fk, api_client):
    fk.serve(ISTIO, ["v1beta1"])
    groups = client.ApisApi(api_client).get_api_versions(_request_timeout=T)
    istio = next(g for g in groups.groups if g.name == ISTIO)
    assert [v.version for v in istio.versions] == ["v1beta1"]
    resources = client.CustomObjectsApi(api_client).get_api_resources(ISTIO, "v1beta1",
                                                                      _request_timeout=T)
    assert "virtualservices" in [r.name for r in resources.resources]


# -- watch --------------------------------------------------------------------------


def test_watch_streams_added_modified_deleted(fk, co):
    create_vs(co)
    seen = []
    w = watch.Watch()
    for event in w.stream(co.list_namespaced_custom_object, ISTIO, "v1", NS, "virtualservices",
                          timeout_seconds=3, _request_timeout=T):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "ADDED":
            fk.mutate(ISTIO, NS, "virtualservices", "web", lambda o: None)
        elif event["type"] == "MODIFIED":
            fk.delete_object(ISTIO, NS, "virtualservices", "web")
        else:
            w.stop()
    assert seen == [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]


def test_watch_from_compacted_version_gets_410(fk, co):
    rv = create_vs(co)["metadata"]["resourceVersion"]
    create_vs(co, name="other")
    fk.compact()
    # The client turns the ERROR event into an ApiException (no retry with timeout_seconds).
    with pytest.raises(ApiException) as err:
        list(watch.Watch().stream(co.list_namespaced_custom_object, ISTIO, "v1", NS,
                                  "virtualservices", resource_version=rv, timeout_seconds=1,
                                  _request_timeout=T))
    assert err.value.status == 410 and "too old resource version" in err.value.reason


# -- the patch module on its own ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=6), max_size=4))
def test_json_pointer_escaping_round_trips(tokens):
    assert jp.parse_pointer("".join("/" + jp.escape_token(t) for t in tokens)) == tokens


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4), st.text(max_size=5),
       json_values)
def test_json_patch_add_then_remove_is_identity(doc, key, value):
    if key in doc:
        return
    path = "/" + jp.escape_token(key)
    added = jp.apply_json_patch(doc, [{"op": "add", "path": path, "value": value}])
    assert jp.json_equal(jp.resolve(added, path), value)
    assert jp.apply_json_patch(added, [{"op": "remove", "path": path}]) == doc


@settings(max_examples=60, deadline=None)
@given(json_values, st.dictionaries(st.text(max_size=5), json_values, max_size=4))
def test_merge_patch_is_idempotent_and_never_mutates(target, patch):
    snapshot = json.dumps(target)
    once = jp.merge_patch(target, patch)
    assert jp.merge_patch(once, patch) == once
    assert json.dumps(target) == snapshot


def test_json_patch_rfc6902_examples():
    doc = {"foo": ["bar", "baz"], "a/b": 1, "m~n": 2}
    assert jp.apply_json_patch(doc, [{"op": "add", "path": "/foo/1", "value": "qux"}])["foo"] == \
        ["bar", "qux", "baz"]
    assert jp.apply_json_patch(doc, [{"op": "add", "path": "/foo/-", "value": "z"}])["foo"][-1] == "z"
    assert jp.resolve(doc, "/a~1b") == 1 and jp.resolve(doc, "/m~0n") == 2
    moved = jp.apply_json_patch(doc, [{"op": "move", "from": "/foo/0", "path": "/first"}])
    assert moved["first"] == "bar" and moved["foo"] == ["baz"]
    copied = jp.apply_json_patch(doc, [{"op": "copy", "from": "/foo", "path": "/bar"}])
    assert copied["bar"] == copied["foo"]
    with pytest.raises(jp.PatchConflict):  # true is not 1 in JSON
        jp.apply_json_patch({"x": 1}, [{"op": "test", "path": "/x", "value": True}])
    with pytest.raises(jp.PatchConflict):
        jp.apply_json_patch(doc, [{"op": "move", "from": "/foo", "path": "/foo/0"}])
    assert jp.merge_patch({"a": [1, 2], "b": {"c": 1, "d": 2}}, {"a": [3], "b": {"c": None}}) == \
        {"a": [3], "b": {"d": 2}}
