"""Reading a VirtualService object (a plain dict, as the API returns it) into a TrafficSplit.

Pure functions: no I/O and no kubernetes import, so they are cheap to test and to reuse.
"""

from __future__ import annotations

import json
from typing import Any

from tui.backends.istio.hosts import Roles
from tui.backends.istio.ownership import detect_owner
from tui.model import Destination, Route, TrafficSplit, WeightChange

# Who last changed the weights, when, from, to and why: written with every weight change.
LAST_CHANGE_ANNOTATION = "canary-console/last-change"

# --- the raw object --------------------------------------------------------


def http_routes(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    http = spec.get("http") if isinstance(spec, dict) else None
    return http if isinstance(http, list) else []


def route_destinations(http_route: Any) -> list[Any]:
    if not isinstance(http_route, dict):
        return []
    route = http_route.get("route")
    return route if isinstance(route, list) else []


def destination_of(route_destination: Any) -> tuple[Any, Any]:
    """(host, subset) of one HTTPRouteDestination, whatever its shape."""
    dest = route_destination.get("destination") if isinstance(route_destination, dict) else None
    if not isinstance(dest, dict):
        return None, None
    return dest.get("host"), dest.get("subset")


def effective_weight(route_destination: Any, count: int) -> int:
    """Istio semantics: a single destination without weight takes everything; otherwise a missing weight is 0."""
    if isinstance(route_destination, dict) and "weight" in route_destination:
        w = route_destination["weight"]
        if isinstance(w, bool):
            return 0
        if isinstance(w, int):
            return w
        if isinstance(w, float) and w.is_integer():
            return int(w)
        return 0
    return 100 if count == 1 else 0


def resource_version(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return rv if isinstance(rv, str) and rv else None


# --- matches, human-readable ------------------------------------------------

_STRING_MATCH_FIELDS = ("uri", "scheme", "method", "authority")
_MAP_MATCH_FIELDS = ("headers", "queryParams", "withoutHeaders")
_KNOWN = set(_STRING_MATCH_FIELDS) | set(_MAP_MATCH_FIELDS) | {
    "name", "port", "sourceLabels", "sourceNamespace", "gateways", "ignoreUriCase", "statPrefix",
}


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def render_string_match(m: Any) -> str:
    """exact "x" / prefix "/api" / regex "^v[0-9]+$"; an empty match means the header is present."""
    if not isinstance(m, dict) or not m:
        return "present"
    for kind in ("exact", "prefix", "regex"):
        if kind in m:
            return f"{kind} {_text(m[kind])}"
    return _text(m)


def render_match(block: Any) -> str:
    """One HTTPMatchRequest as text; its conditions all apply ("and")."""
    if not isinstance(block, dict):
        return _text(block)
    parts: list[str] = []
    for field in _STRING_MATCH_FIELDS:
        if field in block:
            parts.append(f"{field} {render_string_match(block[field])}")
    for field in _MAP_MATCH_FIELDS:
        value = block.get(field)
        if isinstance(value, dict):
            for key in sorted(value):
                parts.append(f"{field} {key} {render_string_match(value[key])}")
        elif field in block:
            parts.append(f"{field} {_text(value)}")
    if "port" in block:
        parts.append(f"port {block['port']}")
    labels = block.get("sourceLabels")
    if isinstance(labels, dict) and labels:
        parts.append("sourceLabels " + ",".join(f"{k}={labels[k]}" for k in sorted(labels)))
    if block.get("sourceNamespace"):
        parts.append(f"sourceNamespace {block['sourceNamespace']}")
    gateways = block.get("gateways")
    if isinstance(gateways, list) and gateways:
        parts.append("gateways " + ",".join(str(g) for g in gateways))
    if block.get("ignoreUriCase"):
        parts.append("ignoreUriCase")
    for field in sorted(k for k in block if k not in _KNOWN):
        parts.append(f"{field}={_text(block[field])}")
    return " and ".join(parts) if parts else "any request"


def render_matches(http_route: Any) -> tuple[str, ...]:
    """Each match block (they are alternatives: "or") as one string; () for a catch-all route."""
    matches = http_route.get("match") if isinstance(http_route, dict) else None
    if not isinstance(matches, list):
        return ()
    return tuple(render_match(m) for m in matches)


# --- the split ---------------------------------------------------------------


def parse_route(index: int, http_route: Any, roles: Roles) -> Route:
    rds = route_destinations(http_route)
    destinations = []
    for rd in rds:
        host, subset = destination_of(rd)
        destinations.append(
            Destination(
                host=host if isinstance(host, str) else "?",
                subset=subset if isinstance(subset, str) and subset else None,
                weight=effective_weight(rd, len(rds)),
                role=roles.role_of(host, subset),
            )
        )
    present = {d.role for d in destinations}
    name = http_route.get("name") if isinstance(http_route, dict) else None
    return Route(
        index=index,
        name=name if isinstance(name, str) and name else None,
        match=render_matches(http_route),
        destinations=tuple(destinations),
        driven="stable" in present and "canary" in present,
    )


def parse_split(obj: dict[str, Any], roles: Roles, source: str) -> TrafficSplit:
    routes = tuple(parse_route(i, r, roles) for i, r in enumerate(http_routes(obj)))
    return TrafficSplit(routes=routes, version=resource_version(obj), owner=detect_owner(obj), source=source,
                        last_change=last_change(obj))


def last_change(obj: dict[str, Any]) -> WeightChange | None:
    """The recorded last change, if the object carries a well-formed one."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(LAST_CHANGE_ANNOTATION) if isinstance(annotations, dict) else None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return WeightChange.from_dict(value)


def carries(route: Route, role: str) -> bool:
    return any(d.role == role for d in route.destinations)
