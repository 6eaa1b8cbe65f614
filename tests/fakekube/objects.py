"""Request-body checks, validation and presentation of stored objects."""
from __future__ import annotations

import json
import re

import yaml

from . import errors
from .resources import ResourceType, split_api_version
from .routing import Route

JSON = "application/json"
YAML = "application/yaml"

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def decode(body: bytes, content_type: str, what: str = "body"):
    """Parse a JSON (or YAML) request body; anything else is 415/400."""
    if content_type not in (JSON, YAML):
        raise errors.unsupported_media_type(content_type, [JSON, YAML])
    if not body.strip():
        raise errors.bad_request(f"the {what} of the request is empty")
    try:
        if content_type == YAML:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding {what}: {exc}") from None


def parse_json(body: bytes, what: str):
    try:
        return json.loads(body)
    except ValueError as exc:
        raise errors.bad_request(f"error decoding {what}: {exc}") from None


def check_types(obj, kind: str, group: str, versions: list[str], builtin: bool) -> None:
    """kind/apiVersion must name this resource. Built-in types default them
    from the URL when absent; custom resources must carry them."""
    if not isinstance(obj, dict):
        raise errors.bad_request("the request body must be a JSON object")
    expected = f"{group}/{versions[0]}" if group else versions[0]
    for field, default in (("apiVersion", expected), ("kind", kind)):
        if obj.get(field) in (None, ""):
            if not builtin:
                raise errors.bad_request(
                    f"Object '{'Kind' if field == 'kind' else field}' is missing in '{json.dumps(obj)}'")
            obj[field] = default
        elif not isinstance(obj[field], str):
            raise errors.bad_request(f"{field} must be a string")
    g, v = split_api_version(obj["apiVersion"])
    if g != group or v not in versions:
        raise errors.bad_request(f"the API version in the data ({obj['apiVersion']}) does not match "
                                 f"the expected API version ({expected})")
    if obj["kind"] != kind:
        raise errors.bad_request(f"the kind in the data ({obj['kind']}) does not match "
                                 f"the expected kind ({kind})")


def check_metadata(obj: dict, route: Route) -> dict:
    """Well-typed metadata, consistent with the URL; returns it."""
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be a JSON object")
    for field in ("name", "namespace", "resourceVersion", "uid", "generateName"):
        if field in meta and meta[field] is not None and not isinstance(meta[field], str):
            raise errors.bad_request(
                f"json: cannot unmarshal {type(meta[field]).__name__} into Go struct field "
                f"ObjectMeta.metadata.{field} of type string")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and not (isinstance(value, dict)
                                      and all(isinstance(v, str) for v in value.values())):
            raise errors.bad_request(f"metadata.{field} must be a map of strings")
    if route.rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != route.namespace:
            raise errors.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        meta["namespace"] = route.namespace
    if route.name is not None:
        if not meta.get("name"):
            raise errors.bad_request("name is required in the body of an update")
        if meta["name"] != route.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match "
                                     f"the name on the URL ({route.name})")
    return meta


def check_name(rt: ResourceType, name: str) -> None:
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise errors.invalid(rt.group, rt.kind, name, "metadata.name",
                             f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                             "of lower case alphanumeric characters, '-' or '.', and must start and "
                             "end with an alphanumeric character")


def check_preconditions(rt: ResourceType, meta: dict, current: dict, require_rv: bool) -> None:
    """metadata.resourceVersion / uid in a write are optimistic-lock preconditions."""
    name = current["metadata"]["name"]
    rv, current_rv = meta.get("resourceVersion"), current["metadata"]["resourceVersion"]
    if not rv:
        if require_rv:
            raise errors.invalid(rt.group, rt.kind, name, "metadata.resourceVersion",
                                 "Invalid value: 0x0: must be specified for an update")
    elif rv != current_rv:
        raise errors.conflict(rt.group, rt.plural, name)
    uid, current_uid = meta.get("uid"), current["metadata"]["uid"]
    if uid and uid != current_uid:
        raise errors.conflict(rt.group, rt.plural, name,
                              f"Precondition failed: UID in precondition: {uid}, "
                              f"UID in object meta: {current_uid}")


def validate(rt: ResourceType, obj: dict) -> None:
    """The few semantic checks the harness cares about."""
    if rt.plural in ("deployments", "replicasets"):
        spec = obj.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise errors.bad_request("spec must be a JSON object")
        check_replicas(rt.group, rt.kind, obj["metadata"]["name"], (spec or {}).get("replicas", 0))


def check_replicas(group: str, kind: str, name: str, replicas) -> None:
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise errors.bad_request(f"spec.replicas must be an integer, got {json.dumps(replicas)}")
    if replicas < 0:
        raise errors.invalid(group, kind, name, "spec.replicas",
                             f"Invalid value: {replicas}: must be greater than or equal to 0")


def present(obj: dict, route: Route, with_type: bool = True) -> dict:
    """The stored object as seen through the requested API version."""
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if not with_type:
        return rest
    return {"apiVersion": route.api_version, "kind": route.rt.kind, **rest}


def to_scale(deployment: dict) -> dict:
    meta = deployment["metadata"]
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    labels = ((spec.get("selector") or {}).get("matchLabels") or {})
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))},
    }


def status_success(rt: ResourceType, obj: dict) -> dict:
    details = {"name": obj["metadata"]["name"], "kind": rt.plural, "uid": obj["metadata"]["uid"]}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}
