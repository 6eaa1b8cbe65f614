"""Discovery documents (/api, /apis, /apis/{group}[/{version}], /version),
so that clients probing which versions are served see the configured ones."""
from __future__ import annotations

from .resources import Registry
from .routing import Discovery

VERSION_INFO = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fakekube",
                "platform": "linux/amd64"}


def document(target: Discovery, registry: Registry) -> dict:
    if target.group is None:
        if target.legacy:
            return {"kind": "APIVersions", "versions": registry.versions("")}
        groups = [_group(g, v) for g, v in sorted(registry.groups().items()) if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if target.version is None:
        return {"kind": "APIGroup", "apiVersion": "v1",
                **_group(target.group, registry.versions(target.group))}
    return _resources(target.group, target.version, registry)


def _group(group: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def _resources(group: str, version: str, registry: Registry) -> dict:
    resources = []
    for rt in sorted(registry.in_group(group), key=lambda r: r.plural):
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        resources.append({"name": rt.plural, "singularName": rt.kind.lower(),
                          "namespaced": rt.namespaced, "kind": rt.kind, "verbs": verbs})
        for sub in sorted(rt.subresources):
            entry = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                     "kind": rt.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(kind="Scale", group="autoscaling", version="v1")
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
