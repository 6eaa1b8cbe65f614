"""FakeKube: the public face of the fake API server."""
from __future__ import annotations

import copy
import os
import threading
from typing import Any, Callable

import yaml

from .api import Api
from .hooks import Delay, Denial, Hooks, RecordedRequest, WriteHook
from .objects import present
from .resources import Registry, ResourceType, split_api_version
from .routing import Route
from .server import Dispatcher, HTTPServer
from .store import Store

DEFAULT_TOKEN = "fake-token-SECRET123"
DEFAULT_USER = "system:serviceaccount:default:canary-console"


class FakeKube:
    """A strict in-process Kubernetes API server on 127.0.0.1 (plain http)."""

    def __init__(self, user: str = DEFAULT_USER):
        self._stopping = threading.Event()
        self._registry = Registry()
        self._store = Store()
        self._hooks = Hooks()
        self._api = Api(self._store, self._registry, self._stopping)
        self._dispatcher = Dispatcher(self._registry, self._api, self._hooks, self._stopping)
        self._dispatcher.tokens[DEFAULT_TOKEN] = user
        self.default_user = user
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "FakeKube":
        if self._server is None:
            self._stopping.clear()
            self._server = HTTPServer(self._dispatcher)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.01},  # fast shutdown()
                                            name="fakekube", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # ends delays and watch streams
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "FakeKube":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeKube is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- credentials -------------------------------------------------------

    def write_kubeconfig(self, path, context: str = "fake", namespace: str | None = None,
                         token: str = DEFAULT_TOKEN, user: str | None = None,
                         extra_contexts: list[dict] = ()) -> str:
        """Write a kubeconfig whose current-context is `context`.

        extra_contexts: dicts with "name" and optional "namespace", "token",
        "user" and "server" (e.g. a dead URL to test an unreachable cluster).
        Every token written is accepted by the server as its user.
        """
        wanted = [{"name": context, "namespace": namespace, "token": token, "user": user},
                  *extra_contexts]
        clusters, users, contexts = {}, [], []
        for entry in wanted:
            name = entry["name"]
            server = entry.get("server") or self.url
            cluster = clusters.setdefault(server, f"fakekube-{len(clusters)}")
            entry_token = entry.get("token") or DEFAULT_TOKEN
            self.add_token(entry_token, entry.get("user") or self.default_user)
            users.append({"name": f"{name}-user", "user": {"token": entry_token}})
            ctx = {"cluster": cluster, "user": f"{name}-user"}
            if entry.get("namespace"):
                ctx["namespace"] = entry["namespace"]
            contexts.append({"name": name, "context": ctx})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": n, "cluster": {"server": s}} for s, n in clusters.items()],
            "users": users,
            "contexts": contexts,
            "current-context": context,
            "preferences": {},
        }
        with open(path, "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)
        return os.fspath(path)

    def add_token(self, token: str, user: str) -> None:
        """Accept `token` as a bearer token authenticating `user`."""
        with self._dispatcher.tokens_lock:
            self._dispatcher.tokens[token] = user

    def revoke_token(self, token: str) -> None:
        """Requests bearing `token` now get 401 Unauthorized."""
        with self._dispatcher.tokens_lock:
            self._dispatcher.tokens.pop(token, None)

    # -- API surface ---------------------------------------------------------

    def serve(self, group: str, versions: list[str]) -> None:
        """Serve exactly these versions of `group` ("" = core); others answer 404."""
        self._registry.serve(group, versions)

    def register_resource(self, group: str, plural: str, kind: str, versions: list[str] | None = None,
                          namespaced: bool = True, builtin: bool = False,
                          subresources: tuple[str, ...] = ()) -> None:
        """Add a resource type (e.g. another CRD); `versions` also sets what the group serves."""
        self._registry.register(ResourceType(group, plural, kind, namespaced, builtin,
                                             frozenset(subresources)), versions)

    def require_namespaces(self, *names: str) -> None:
        """Only these namespaces exist for creates (404 otherwise); no names: all exist."""
        self._api.namespaces = set(names) if names else None

    # -- objects -------------------------------------------------------------

    def _type(self, group: str, plural: str) -> ResourceType:
        found = [rt for rt in self._registry.in_group(group) if rt.plural == plural]
        if not found:
            raise LookupError(f"unknown resource {plural}.{group}")
        return found[0]

    def put_object(self, obj: dict) -> dict:
        """Create or overwrite an object as-is (status included), bypassing the API
        rules; namespace defaults to "default". Returns the stored copy."""
        group, version = split_api_version(obj["apiVersion"])
        rt = self._registry.by_kind(group, obj["kind"])
        if rt is None:
            raise LookupError(f"unknown kind {obj['kind']} in group {group!r}")
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        key = (group, rt.plural, meta.get("namespace", ""), meta["name"])
        with self._store.lock:
            if self._store.get(key) is None:
                stored = self._store.create(key, obj)
            else:
                stored = self._store.update(key, obj, force=True)
        return present(stored, Route(rt, version, meta.get("namespace"), meta["name"], None))

    def get_object(self, group: str, version: str, namespace: str | None, plural: str,
                   name: str) -> dict | None:
        """A deep copy of the stored object as seen through `version`, or None."""
        rt = self._type(group, plural)
        obj = self._store.get((group, plural, namespace or "", name))
        return None if obj is None else present(obj, Route(rt, version, namespace, name, None))

    def list_objects(self, group: str, plural: str, namespace: str | None = None) -> list[dict]:
        """Deep copies of the stored objects (apiVersion as stored)."""
        return self._store.list(group, plural, namespace)

    def delete_object(self, group: str, namespace: str | None, plural: str, name: str) -> bool:
        """Delete directly (another actor); False if it did not exist."""
        with self._store.lock:
            key = (group, plural, namespace or "", name)
            if self._store.get(key) is None:
                return False
            self._store.delete(key)
            return True

    def mutate(self, group: str, namespace: str | None, plural: str, name: str,
               fn: Callable[[dict], dict | None]) -> dict:
        """Simulate another writer: fn edits the stored object in place (or returns
        a replacement); the resourceVersion is bumped even if nothing changed."""
        key = (group, plural, namespace or "", name)
        with self._store.lock:
            obj = self._store.get(key)
            if obj is None:
                raise LookupError(f"{plural}.{group} {namespace}/{name} not found")
            result = fn(obj)
            return self._store.update(key, obj if result is None else result, force=True)

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        return self._store.resource_version

    def compact(self) -> None:
        """Drop the change log: watches from older resourceVersions get 410 Expired."""
        self._store.compact()

    # -- behaviour hooks -----------------------------------------------------

    def deny(self, verb: str, group: str, plural: str, namespace: str | None = None,
             user: str | None = None) -> None:
        """Answer matching requests 403 Forbidden. verb: get/list/watch/create/update/
        patch/delete/deletecollection or "*"; plural "deployments/scale" for the subresource."""
        self._hooks.deny(Denial(verb, group, plural, namespace, user))

    def allow(self, verb: str, group: str, plural: str) -> None:
        """Lift denials added with deny(verb, group, plural, ...)."""
        self._hooks.allow(verb, group, plural)

    def clear_denials(self) -> None:
        self._hooks.clear_denials()

    def before_next_write(self, fn: Callable[[RecordedRequest], Any], times: int = 1,
                          path_contains: str | None = None) -> None:
        """Run fn(request) just before the next `times` authorized mutating requests
        (optionally only those whose path contains `path_contains`) are applied."""
        self._hooks.add_write_hook(WriteHook(fn, times, path_contains))

    def clear_write_hooks(self) -> None:
        self._hooks.clear_write_hooks()

    def delay(self, seconds: float, method: str | None = None, path_contains: str | None = None,
              times: int | None = None, after: bool = False) -> None:
        """Sleep `seconds` before handling matching requests (after=True: apply the
        request, then sleep before answering). times=None: every match."""
        self._hooks.add_delay(Delay(seconds, method, path_contains, times, after))

    def clear_delays(self) -> None:
        self._hooks.clear_delays()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        return self._hooks.requests()

    def requests_to(self, method: str | None = None, path_contains: str | None = None
                    ) -> list[RecordedRequest]:
        """Recorded requests filtered by method and path substring."""
        return [r for r in self.requests
                if (method is None or r.method == method)
                and (path_contains is None or path_contains in r.path)]

    def clear_requests(self) -> None:
        self._hooks.clear_requests()
