"""The Kubernetes API, through the official client, with every failure turned into a BackendError.

This is the only module that imports `kubernetes`; tui.backends.istio.router imports
it lazily, when an IstioRouter is built.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import load_incluster_config
from kubernetes.config.kube_config import load_kube_config

from tui.backends.base import BackendError

T = TypeVar("T")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "canary-console"
RBAC_HINT = "see configs/rbac.yaml"


class NotFound(BackendError):
    """404. `object_missing`: the object does not exist (its type is served); else the URL is unknown."""

    def __init__(self, message: str, object_missing: bool) -> None:
        super().__init__(message)
        self.object_missing = object_missing


class Conflict(BackendError):
    """409, or 422 from a JSON Patch that could not be applied (a failed `test`)."""

    transient = True


@dataclass(frozen=True)
class Connection:
    api_client: Any  # kubernetes.client.ApiClient
    where: str  # "kubeconfig ~/.kube/config, context prod" or "in-cluster service account"
    server: str


def _kubeconfig_path(explicit: str | None) -> str | None:
    """kubectl's order: an explicit file, then $KUBECONFIG (a path list), then ~/.kube/config."""
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.exists(path):
            raise BackendError(f"kubeconfig {explicit} not found")
        return path
    env = os.environ.get("KUBECONFIG", "")
    existing = [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    existing = [p for p in existing if os.path.exists(p)]
    if existing:
        return os.pathsep.join(existing)
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.exists(default) else None


def connect(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Load credentials like kubectl does; in-cluster service account when there is no kubeconfig."""
    cfg = k8s.Configuration()
    path = _kubeconfig_path(kubeconfig)
    try:
        if path is not None:
            load_kube_config(config_file=path, context=context, client_configuration=cfg,
                             persist_config=False)
            where = f"kubeconfig {path}" + (f", context {context}" if context else "")
        else:
            if context:
                raise BackendError(f"context {context!r} requested but no kubeconfig was found "
                                   "($KUBECONFIG, ~/.kube/config)")
            load_incluster_config(client_configuration=cfg)
            where = "in-cluster service account"
    except ConfigException as exc:
        if path is None:
            raise BackendError("no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running "
                               f"in a cluster: {exc}") from None
        raise BackendError(f"cannot load kubeconfig {path}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot load kubeconfig {path}: {exc}") from None
    # No urllib3 retries: a timeout must cost one timeout, not four; callers retry what is safe.
    cfg.retries = 0
    return Connection(k8s.ApiClient(cfg), where, cfg.host)


def _resource(group: str, plural: str, subresource: str | None = None) -> str:
    name = f"{plural}.{group}" if group else plural
    return f"{name}/{subresource}" if subresource else name


LEASES = _resource("coordination.k8s.io", "leases")


def _json(response: Any) -> dict[str, Any]:
    """The body of a response fetched with _preload_content=False, parsed as a JSON object."""
    try:
        data = response.data
    finally:
        response.release_conn()
    try:
        value = json.loads(data) if data else {}
    except (TypeError, ValueError) as exc:
        raise BackendError(f"the Kubernetes API answered with something that is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BackendError("the Kubernetes API answered with JSON that is not an object")
    return value


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _transport_reason(exc: BaseException) -> BaseException:
    """The underlying cause of a urllib3 failure (MaxRetryError wraps it in .reason)."""
    seen = 0
    while seen < 5:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            return exc
        exc, seen = inner, seen + 1
    return exc


class Kube:
    """The few calls the router makes; each passes `_request_timeout` and maps errors."""

    def __init__(self, connection: Connection, timeout: float) -> None:
        self.connection = connection
        self.timeout = float(timeout)
        self.custom = k8s.CustomObjectsApi(connection.api_client)
        self.apps = k8s.AppsV1Api(connection.api_client)
        self.coordination = k8s.CoordinationV1Api(connection.api_client)

    # --- calls -----------------------------------------------------------------

    def get(self, group: str, version: str, namespace: str, plural: str, name: str) -> dict[str, Any]:
        return self._call("get", _resource(group, plural), namespace, lambda: self.custom.get_namespaced_custom_object(
            group, version, namespace, plural, name, _request_timeout=self.timeout))

    def list(self, group: str, version: str, namespace: str, plural: str) -> list[dict[str, Any]]:
        result = self._call("list", _resource(group, plural), namespace,
                            lambda: self.custom.list_namespaced_custom_object(
                                group, version, namespace, plural, _request_timeout=self.timeout))
        items = result.get("items") if isinstance(result, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def json_patch(self, group: str, version: str, namespace: str, plural: str, name: str,
                   ops: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("patch", _resource(group, plural), namespace,
                          lambda: self.custom.patch_namespaced_custom_object(
                              group, version, namespace, plural, name, ops,
                              field_manager=FIELD_MANAGER, _content_type=JSON_PATCH,
                              _request_timeout=self.timeout),
                          write=True)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> int:
        # A merge patch: the Scale's spec.replicas is omitted when 0, so a JSON Patch `replace` could fail.
        result = self._call("patch", _resource("apps", "deployments", "scale"), namespace,
                            lambda: self.apps.patch_namespaced_deployment_scale(
                                name, namespace, {"spec": {"replicas": replicas}},
                                field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH,
                                _request_timeout=self.timeout),
                            write=True)
        spec = getattr(result, "spec", None)
        return int(getattr(spec, "replicas", None) or 0)

    def deployment_replicas(self, namespace: str, name: str) -> int:
        # The scale subresource: the same permission as the rollback's scale-down (configs/rbac.yaml).
        result = self._call("get", _resource("apps", "deployments", "scale"), namespace,
                            lambda: self.apps.read_namespaced_deployment_scale(
                                name, namespace, _request_timeout=self.timeout))
        spec = getattr(result, "spec", None)
        return int(getattr(spec, "replicas", None) or 0)

    def deployment_readiness(self, namespace: str, name: str) -> tuple[int, int]:
        """(spec.replicas, status.readyReplicas) of a Deployment: the pods asked for, and the ones
        ready to serve. Only the scale subresource says the first; the second needs the Deployment."""
        obj = self._call("get", _resource("apps", "deployments"), namespace,
                         lambda: _json(self.apps.read_namespaced_deployment(
                             name, namespace, _preload_content=False, _request_timeout=self.timeout)))
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        desired = spec.get("replicas", 1)  # the API's default when omitted
        ready = status.get("readyReplicas") or 0  # omitted when none is
        return int(desired or 0), int(ready)

    # Leases: the server's JSON as-is (no typed model), so MicroTime strings stay exactly as written.

    def get_lease(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call("get", LEASES, namespace, lambda: _json(self.coordination.read_namespaced_lease(
            name, namespace, _preload_content=False, _request_timeout=self.timeout)))

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("create", LEASES, namespace, lambda: _json(self.coordination.create_namespaced_lease(
            namespace, body, field_manager=FIELD_MANAGER, _preload_content=False,
            _request_timeout=self.timeout)), write=True)

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT; body.metadata.resourceVersion makes it conditional (409 when it moved)."""
        return self._call("update", LEASES, namespace, lambda: _json(self.coordination.replace_namespaced_lease(
            name, namespace, body, field_manager=FIELD_MANAGER, _preload_content=False,
            _request_timeout=self.timeout)), write=True)

    def patch_lease(self, namespace: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """A JSON Patch; a `test` of /metadata/resourceVersion makes it conditional."""
        return self._call("patch", LEASES, namespace, lambda: _json(self.coordination.patch_namespaced_lease(
            name, namespace, ops, field_manager=FIELD_MANAGER, _content_type=JSON_PATCH,
            _preload_content=False, _request_timeout=self.timeout)), write=True)

    def close(self) -> None:
        try:
            self.connection.api_client.close()
        except Exception:
            pass

    # --- errors ------------------------------------------------------------------

    def _call(self, verb: str, resource: str, namespace: str, fn: Callable[[], T], write: bool = False) -> T:
        try:
            return fn()
        except ApiException as exc:
            raise self._api_error(exc, verb, resource, namespace) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._transport_error(exc, write) from None

    def _api_error(self, exc: ApiException, verb: str, resource: str, namespace: str) -> BackendError:
        body = _status_body(exc)
        message = body.get("message") or exc.reason or ""
        code = exc.status
        if code == 403:
            return BackendError(f"forbidden: cannot {verb} {resource} in namespace {namespace} ({RBAC_HINT})")
        if code == 401:
            return BackendError(f"unauthorized: the Kubernetes API rejected the credentials "
                                f"({self.connection.where}): {message}")
        if code == 404:
            details = body.get("details") if isinstance(body.get("details"), dict) else {}
            return NotFound(message or "not found", object_missing=bool(details.get("name")))
        if code == 409:
            return Conflict(message or "conflict")
        if code == 422:
            details = body.get("details") if isinstance(body.get("details"), dict) else {}
            if details.get("causes"):
                return BackendError(f"the Kubernetes API rejected the change as invalid: {message}")
            return Conflict(message or "the patch could not be applied")
        if code == 429 or (code is not None and code >= 500):
            return BackendError(f"Kubernetes API error {code} ({exc.reason}) on {verb} {resource}: {message}",
                                transient=True)
        return BackendError(f"Kubernetes API error {code} on {verb} {resource}: {message}")

    def _transport_error(self, exc: BaseException, write: bool) -> BackendError:
        cause = _transport_reason(exc)
        server = self.connection.server
        # NewConnectionError subclasses ConnectTimeoutError in urllib3: look at it before timeouts.
        if isinstance(cause, (urllib3.exceptions.NewConnectionError, ConnectionError)):
            if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
                return BackendError(f"cannot connect to the Kubernetes API at {server}: connection refused",
                                    transient=True)
            return BackendError(f"cannot reach the Kubernetes API at {server}: {cause}", transient=True)
        if isinstance(cause, (urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)):
            text = f"Kubernetes API did not answer within {self.timeout:g}s ({server})"
            if write:
                text += "; the change may or may not have been applied: re-read before retrying"
            return BackendError(text, transient=True)
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return BackendError(f"cannot connect to the Kubernetes API at {server}: connection refused",
                                transient=True)
        return BackendError(f"cannot reach the Kubernetes API at {server}: {cause}", transient=True)
