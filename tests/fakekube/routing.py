"""Map request paths onto resource types, like the apiserver's URL layout."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from . import errors
from .resources import Registry, ResourceType


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    version: str
    namespace: str | None     # None: cluster-scoped or all-namespaces path
    name: str | None          # None: collection
    subresource: str | None

    @property
    def group(self) -> str:
        return self.rt.group

    @property
    def api_version(self) -> str:
        return self.rt.api_version(self.version)

    @property
    def authz_resource(self) -> str:
        # RBAC names subresources "plural/sub", e.g. "deployments/scale".
        return f"{self.rt.plural}/{self.subresource}" if self.subresource else self.rt.plural


@dataclass(frozen=True)
class Discovery:
    group: str | None    # None: the /api or /apis root
    version: str | None
    legacy: bool         # under /api (core) rather than /apis


def parse(path: str, registry: Registry) -> Route | Discovery:
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        raise errors.path_not_found()
    if parts[0] == "api":
        group, rest = "", parts[1:]
        if not rest:
            return Discovery(None, None, legacy=True)
    else:
        if len(parts) == 1:
            return Discovery(None, None, legacy=False)
        group, rest = parts[1], parts[2:]
        if not rest:
            if not registry.versions(group):
                raise errors.path_not_found()
            return Discovery(group, None, legacy=False)
    version, rest = rest[0], rest[1:]
    if version not in registry.versions(group):
        raise errors.path_not_found()
    if not rest:
        return Discovery(group, version, legacy=group == "")

    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.path_not_found()
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    rt = registry.lookup(group, version, plural)
    if rt is None:
        raise errors.path_not_found()
    if namespace is not None and not rt.namespaced:
        raise errors.path_not_found()
    # A namespaced object can only be addressed inside its namespace; the
    # namespace-less collection path is the all-namespaces list.
    if rt.namespaced and namespace is None and name is not None:
        raise errors.path_not_found()
    if sub is not None and sub not in rt.subresources:
        raise errors.path_not_found()
    return Route(rt, version, namespace, name, sub)
