"""The REST verbs on stored objects: what the apiserver does after routing
and authorization."""
from __future__ import annotations

import base64
import copy
import json
import random
import string
import threading
from dataclasses import dataclass, field
from typing import Iterator

from . import errors, objects, patch, watch
from .objects import JSON
from .resources import Registry
from .routing import Route
from .selectors import field_matcher, label_matcher
from .store import Store

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"

_TRUE, _FALSE = {"1", "t", "T", "true", "TRUE", "True"}, {"0", "f", "F", "false", "FALSE", "False"}


@dataclass
class Request:
    method: str
    route: Route
    query: dict[str, list[str]]
    content_type: str  # media type only, lower case
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    code: int
    body: dict | None = None
    stream: Iterator[dict] | None = field(default=None, repr=False)


def parse_bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f"invalid value for {name}: {value!r}")


def verb_of(method: str, route: Route, query: dict[str, list[str]]) -> str:
    """The RBAC verb of a request, or 405 for a method the path does not allow."""
    if route.subresource:
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
    elif route.name is None:
        if method == "GET":
            watching = parse_bool((query.get("watch") or [None])[-1], "watch")
            verb = "watch" if watching else "list"
        elif route.rt.namespaced and route.namespace is None:
            verb = None  # the all-namespaces path is read-only
        else:
            verb = {"POST": "create", "DELETE": "deletecollection"}.get(method)
    else:
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        raise errors.method_not_allowed()
    return verb


class Api:
    def __init__(self, store: Store, registry: Registry, stopping: threading.Event):
        self.store = store
        self.registry = registry
        self.stopping = stopping
        self.namespaces: set[str] | None = None  # None: every namespace exists

    def handle(self, req: Request) -> Response:
        verb = verb_of(req.method, req.route, req.query)
        dry_run = self._dry_run(req)
        if verb == "get":
            return self._get(req)
        if verb == "list":
            return self._list(req)
        if verb == "watch":
            return watch.start(self.store, req, self.stopping)
        if verb == "create":
            return self._create(req, dry_run)
        if verb == "update":
            return self._update(req, dry_run)
        if verb == "patch":
            return self._patch(req, dry_run)
        if verb == "delete":
            return self._delete(req, dry_run)
        return self._delete_collection(req, dry_run)

    # -- helpers ---------------------------------------------------------

    @staticmethod
    def _dry_run(req: Request) -> bool:
        values = req.query.get("dryRun") or []
        if any(v != "All" for v in values):
            raise errors.bad_request(f"invalid dryRun value {values!r}: only 'All' is supported")
        return bool(values)

    @staticmethod
    def key(route: Route, name: str | None = None) -> tuple:
        return (route.group, route.rt.plural, route.namespace or "", name or route.name)

    def _current(self, route: Route) -> dict:
        obj = self.store.get(self.key(route))
        if obj is None:
            raise errors.not_found(route.group, route.rt.plural, route.name)
        return obj

    def _decode_object(self, req: Request, kind: str, group: str, versions: list[str]) -> dict:
        obj = objects.decode(req.body, req.content_type)
        objects.check_types(obj, kind, group, versions, req.route.rt.builtin)
        objects.check_metadata(obj, req.route)
        return obj

    def _versions(self, route: Route) -> list[str]:
        # A body may name any served version of the group (storage is shared);
        # the requested version comes first as the default for built-ins.
        served = self.registry.versions(route.group)
        return [route.version] + [v for v in served if v != route.version]

    # -- read --------------------------------------------------------------

    def _get(self, req: Request) -> Response:
        current = self._current(req.route)
        if req.route.subresource == "scale":
            return Response(200, objects.to_scale(current))
        return Response(200, objects.present(current, req.route))

    def _list(self, req: Request) -> Response:
        route = req.route
        labels = label_matcher(req.param("labelSelector"))
        fields = field_matcher(req.param("fieldSelector"))
        with self.store.lock:
            rv = self.store.resource_version
            items = [o for o in self.store.list(route.group, route.rt.plural, route.namespace)
                     if labels(o) and fields(o)]
        after = _decode_continue(req.param("continue"))
        if after:
            items = [o for o in items if _sort_key(o) > after]
        meta = {"resourceVersion": rv}
        limit = _non_negative_int(req.param("limit"), "limit")
        if limit and len(items) > limit:
            items, rest = items[:limit], items[limit:]
            meta["continue"] = _encode_continue(_sort_key(items[-1]))
            meta["remainingItemCount"] = len(rest)
        # Typed (built-in) lists omit kind/apiVersion on items; custom resources keep them.
        with_type = not route.rt.builtin
        return Response(200, {
            "apiVersion": route.api_version,
            "kind": route.rt.kind + "List",
            "metadata": meta,
            "items": [objects.present(o, route, with_type) for o in items],
        })

    # -- write -------------------------------------------------------------

    def _create(self, req: Request, dry_run: bool) -> Response:
        route, rt = req.route, req.route.rt
        obj = self._decode_object(req, rt.kind, rt.group, self._versions(route))
        meta = obj["metadata"]
        if self.namespaces is not None and rt.namespaced and route.namespace not in self.namespaces:
            raise errors.not_found("", "namespaces", route.namespace)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = meta["generateName"] + suffix
        if not meta.get("name"):
            raise errors.invalid(rt.group, rt.kind, "", "metadata.name",
                                 "Required value: name or generateName is required")
        objects.check_name(rt, meta["name"])
        if meta.get("resourceVersion"):
            raise errors.ApiError(500, "InternalError", "Internal error occurred: "
                                  "resourceVersion should not be set on objects to be created", {})
        if "status" in rt.subresources:
            obj.pop("status", None)  # status is owned by the /status subresource
        if rt.plural in ("deployments", "replicasets"):
            spec = obj.setdefault("spec", {})
            if isinstance(spec, dict):
                spec.setdefault("replicas", 1)
        objects.validate(rt, obj)
        with self.store.lock:
            key = self.key(route, meta["name"])
            if self.store.get(key) is not None:
                raise errors.already_exists(rt.group, rt.plural, meta["name"])
            created = self.store.create(key, obj, dry_run)
        return Response(201, objects.present(created, route))

    def _update(self, req: Request, dry_run: bool) -> Response:
        route, rt = req.route, req.route.rt
        with self.store.lock:
            current = self._current(route)
            if route.subresource == "scale":
                scale = self._decode_object(req, "Scale", "autoscaling", ["v1"])
                return self._write_scale(req, current, scale, dry_run)
            obj = self._decode_object(req, rt.kind, rt.group, self._versions(route))
            # Custom resources refuse unconditional updates; built-ins allow them.
            objects.check_preconditions(rt, obj["metadata"], current, require_rv=not rt.builtin)
            return self._write(req, current, obj, dry_run)

    def _patch(self, req: Request, dry_run: bool) -> Response:
        route, rt = req.route, req.route.rt
        self._check_patch_type(req)  # 415 comes before 404, as on the real server
        with self.store.lock:
            current = self._current(route)
            is_scale = route.subresource == "scale"
            doc = objects.to_scale(current) if is_scale else objects.present(current, route)
            patched = self._apply_patch(req, doc)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patched object is not a JSON object")
            for field_ in ("apiVersion", "kind"):
                if patched.get(field_) != doc[field_]:
                    raise errors.bad_request(f"a patch cannot change {field_}")
            meta = patched.get("metadata")
            if not isinstance(meta, dict) or meta.get("name") != route.name \
                    or meta.get("namespace") != doc["metadata"].get("namespace"):
                raise errors.bad_request("a patch cannot change metadata.name or metadata.namespace")
            objects.check_metadata(patched, route)
            if is_scale:
                return self._write_scale(req, current, patched, dry_run)
            objects.check_preconditions(rt, meta, current, require_rv=False)
            return self._write(req, current, patched, dry_run)

    @staticmethod
    def _check_patch_type(req: Request) -> None:
        accepted = [JSON_PATCH, MERGE_PATCH] + ([STRATEGIC_PATCH] if req.route.rt.builtin else [])
        if req.content_type not in accepted:
            raise errors.unsupported_media_type(req.content_type, accepted)

    def _apply_patch(self, req: Request, doc: dict):
        ctype = req.content_type
        if ctype == JSON_PATCH:
            ops = objects.parse_json(req.body, "json patch")
            try:
                return patch.apply_json_patch(doc, ops)
            except patch.PatchMalformed as exc:
                raise errors.bad_request(str(exc)) from None
            except patch.PatchConflict as exc:
                raise errors.patch_failed(str(exc)) from None
        # A merge patch, or a strategic merge patch on a built-in type.
        body = objects.parse_json(req.body, "merge patch")
        if not isinstance(body, dict):
            raise errors.bad_request("Invalid JSON Patch: a merge patch must be a JSON object")
        if ctype == STRATEGIC_PATCH and _has_directive(body):
            # Never pretend: the fake applies strategic patches as plain merge patches.
            raise errors.bad_request("fakekube: strategic merge directives ($patch, ...) "
                                     "are not supported")
        return patch.merge_patch(doc, body)

    def _write(self, req: Request, current: dict, obj: dict, dry_run: bool) -> Response:
        """Finish an update of the main resource or its /status."""
        route, rt = req.route, req.route.rt
        if route.subresource == "status":
            new = copy.deepcopy(current)
            new["status"] = obj.get("status")
            if new["status"] is None:
                del new["status"]
        else:
            new = obj
            if "status" in rt.subresources:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = current["status"]
        objects.validate(rt, new)
        updated = self.store.update(self.key(route), new, dry_run)
        return Response(200, objects.present(updated, route))

    def _write_scale(self, req: Request, current: dict, scale: dict, dry_run: bool) -> Response:
        route = req.route
        objects.check_preconditions(route.rt, scale["metadata"], current, require_rv=False)
        spec = scale.get("spec") or {}
        # Like the real server, a Scale without spec.replicas means 0.
        replicas = spec.get("replicas", 0) if isinstance(spec, dict) else spec
        objects.check_replicas("autoscaling", "Scale", route.name, replicas)
        new = copy.deepcopy(current)
        new.setdefault("spec", {})["replicas"] = replicas
        updated = self.store.update(self.key(route), new, dry_run)
        return Response(200, objects.to_scale(updated))

    # -- delete ------------------------------------------------------------

    def _delete(self, req: Request, dry_run: bool) -> Response:
        route, rt = req.route, req.route.rt
        options = self._delete_options(req)
        dry_run = dry_run or options.get("dryRun") == ["All"]
        with self.store.lock:
            current = self._current(route)
            pre = options.get("preconditions") or {}
            for field_, label in (("resourceVersion", "ResourceVersion"), ("uid", "UID")):
                want, have = pre.get(field_), current["metadata"][field_]
                if want and want != have:
                    raise errors.conflict(rt.group, rt.plural, route.name,
                                          f"Precondition failed: {label} in precondition: {want}, "
                                          f"{label} in object meta: {have}")
            deleted = self.store.delete(self.key(route), dry_run)
        # Custom resources answer with the object, built-ins with a Status.
        if rt.builtin:
            return Response(200, objects.status_success(rt, deleted))
        return Response(200, objects.present(deleted, route))

    def _delete_collection(self, req: Request, dry_run: bool) -> Response:
        route = req.route
        labels = label_matcher(req.param("labelSelector"))
        fields = field_matcher(req.param("fieldSelector"))
        self._delete_options(req)
        with self.store.lock:
            doomed = [o for o in self.store.list(route.group, route.rt.plural, route.namespace)
                      if labels(o) and fields(o)]
            deleted = [self.store.delete(self.key(route, o["metadata"]["name"]), dry_run)
                       for o in doomed]
        return Response(200, {
            "apiVersion": route.api_version, "kind": route.rt.kind + "List",
            "metadata": {"resourceVersion": self.store.resource_version},
            "items": [objects.present(o, route) for o in deleted],
        })

    @staticmethod
    def _delete_options(req: Request) -> dict:
        if not req.body.strip():
            return {}
        options = objects.decode(req.body, req.content_type or JSON, "delete options")
        if not isinstance(options, dict):
            raise errors.bad_request("delete options must be a JSON object")
        if options.get("kind") not in (None, "DeleteOptions"):
            raise errors.bad_request(f"expected DeleteOptions, got kind {options.get('kind')!r}")
        return options


def _has_directive(value) -> bool:
    if isinstance(value, dict):
        return any(k.startswith("$") or _has_directive(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_directive(v) for v in value)
    return False


def _sort_key(obj: dict) -> list:
    return [obj["metadata"].get("namespace", ""), obj["metadata"]["name"]]


def _encode_continue(after: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode()


def _decode_continue(token: str | None) -> list | None:
    if not token:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise errors.bad_request("continue key is not valid") from None
    if not (isinstance(after, list) and len(after) == 2):
        raise errors.bad_request("continue key is not valid")
    return after


def _non_negative_int(value: str | None, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise errors.bad_request(f"invalid value for {name}: {value!r}")
    return number
