"""The one JSON Patch (RFC 6902) a weight change sends: weights only, guarded by tests.

Never a merge patch of spec.http: a merge patch replaces whole lists, so it would
drop every route it does not repeat (the header route, the region routes).
"""

from __future__ import annotations

import json
from typing import Any

from tui.backends.base import WriteRefused
from tui.backends.istio.virtualservice import (
    LAST_CHANGE_ANNOTATION as ANNOTATION,
    destination_of,
    effective_weight,
    http_routes,
    resource_version,
    route_destinations,
)
from tui.model import Route, WeightChange, with_weights


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901): "~" -> "~0", "/" -> "~1"."""
    return token.replace("~", "~0").replace("/", "~1")


def new_weights(route: Route, canary: int) -> list[int]:
    """The weights of every destination of a driven route after the change, in order.

    Refused when a destination that is neither stable nor canary carries traffic:
    "canary N%" means stable gets 100-N, which cannot hold while a third destination
    keeps a share, and zeroing it would silently move traffic off a service the
    console does not manage. Such destinations at weight 0 are left alone.
    """
    others = [d for d in route.destinations if d.role is None and d.weight != 0]
    if others:
        names = ", ".join(f"{d.label} ({d.weight}%)" for d in others)
        raise WriteRefused(
            f"route {route.label} also sends traffic to {names}: the console only moves stable/canary "
            "weights that sum to 100; set that destination to 0 first"
        )
    weights = [d.weight for d in with_weights(route, canary).destinations]
    if any(not 0 <= w <= 100 for w in weights) or sum(weights) != 100:
        raise WriteRefused(f"route {route.label}: weights {weights} would not sum to 100")
    return weights


def build_weight_patch(obj: dict[str, Any], routes: list[Route], canary: int,
                       change: WeightChange) -> list[dict[str, Any]]:
    """The patch for `routes` (driven routes parsed from `obj`) with canary=`canary`.

    Order: tests (resourceVersion, then each destination's host and subset), weight
    replace/add operations, then the last-change annotation.
    """
    rv = resource_version(obj)
    if rv is None:
        raise WriteRefused("the VirtualService has no metadata.resourceVersion to guard the change with")
    http = http_routes(obj)
    tests: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv}]
    writes: list[dict[str, Any]] = []
    for route in routes:
        rds = route_destinations(http[route.index])
        weights = new_weights(route, canary)
        for j, (rd, weight) in enumerate(zip(rds, weights)):
            base = f"/spec/http/{route.index}/route/{j}"
            host, subset = destination_of(rd)
            tests.append({"op": "test", "path": f"{base}/destination/host", "value": host})
            if subset is not None:
                tests.append({"op": "test", "path": f"{base}/destination/subset", "value": subset})
            if "weight" in rd:
                if rd["weight"] != weight or type(rd["weight"]) is not int:
                    writes.append({"op": "replace", "path": f"{base}/weight", "value": weight})
            elif weight != effective_weight(rd, len(rds)):
                writes.append({"op": "add", "path": f"{base}/weight", "value": weight})
    return tests + writes + [annotation_op(obj, change)]


def annotation_op(obj: dict[str, Any], change: WeightChange) -> dict[str, Any]:
    value = json.dumps(change.as_dict(), separators=(",", ":"), ensure_ascii=False)
    return annotation_key_op(obj, ANNOTATION, value)


def annotation_key_op(obj: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """Set one annotation and nothing else.

    When the object has annotations (ours, the progression state, anyone's), only `key` is
    added or replaced; the whole map is added only when there is none (a `test` of the
    resourceVersion in the same patch makes sure that is still true).
    """
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return {"op": "add", "path": "/metadata/annotations", "value": {key: value}}
    op = "replace" if key in annotations else "add"
    return {"op": op, "path": f"/metadata/annotations/{escape(key)}", "value": value}
