"""Which API groups, versions and resource types the fake serves."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    group: str            # "" for the core group
    plural: str
    kind: str
    namespaced: bool = True
    # Built-in types accept strategic-merge-patch and default a missing
    # kind/apiVersion from the URL; custom resources do neither.
    builtin: bool = False
    subresources: frozenset = field(default_factory=frozenset)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


def _defaults() -> list[ResourceType]:
    status = frozenset({"status"})
    scale = frozenset({"status", "scale"})
    core = [ResourceType("", p, k, builtin=True, subresources=s) for p, k, s in [
        ("configmaps", "ConfigMap", frozenset()),
        ("secrets", "Secret", frozenset()),
        ("services", "Service", status),
        ("pods", "Pod", status),
    ]]
    apps = [ResourceType("apps", "deployments", "Deployment", builtin=True, subresources=scale),
            ResourceType("apps", "replicasets", "ReplicaSet", builtin=True, subresources=scale)]
    lease = [ResourceType("coordination.k8s.io", "leases", "Lease", builtin=True)]
    istio = [ResourceType("networking.istio.io", p, k, subresources=status) for p, k in [
        ("virtualservices", "VirtualService"),
        ("destinationrules", "DestinationRule"),
        ("gateways", "Gateway"),
        ("serviceentries", "ServiceEntry"),
    ]]
    return core + apps + lease + istio


DEFAULT_VERSIONS = {
    "": ["v1"],
    "apps": ["v1"],
    "coordination.k8s.io": ["v1"],
    "networking.istio.io": ["v1", "v1beta1"],
}


class Registry:
    def __init__(self):
        self._lock = threading.Lock()
        self._types = {(rt.group, rt.plural): rt for rt in _defaults()}
        self._versions = {g: list(v) for g, v in DEFAULT_VERSIONS.items()}

    def register(self, rt: ResourceType, versions: list[str] | None = None) -> None:
        with self._lock:
            self._types[(rt.group, rt.plural)] = rt
            if versions is not None or rt.group not in self._versions:
                self._versions[rt.group] = list(versions or ["v1"])

    def serve(self, group: str, versions: list[str]) -> None:
        with self._lock:
            self._versions[group] = list(versions)

    def versions(self, group: str) -> list[str]:
        with self._lock:
            return list(self._versions.get(group, []))

    def groups(self) -> dict[str, list[str]]:
        with self._lock:
            return {g: list(v) for g, v in self._versions.items() if v}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type, if `group/version` is currently served and knows `plural`."""
        with self._lock:
            if version not in self._versions.get(group, []):
                return None
            return self._types.get((group, plural))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        with self._lock:
            return next((rt for rt in self._types.values()
                         if rt.group == group and rt.kind == kind), None)

    def in_group(self, group: str) -> list[ResourceType]:
        with self._lock:
            return [rt for rt in self._types.values() if rt.group == group]


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version
