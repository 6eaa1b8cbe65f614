"""The automatic progression's resume point, kept on the VirtualService itself.

One annotation, `canary-console/progression`, holds the Autopilot's state as JSON, so a
console or `run` started later (after a crash, on another laptop) resumes where the last
driver left off. It is written by a JSON Patch that adds or replaces that one key only,
guarded by a `test` of the resourceVersion: never spec, never another annotation.
"""

from __future__ import annotations

import json
from typing import Any

from tui.backends.base import BackendError, WriteRefused
from tui.backends.istio.patch import annotation_key_op
from tui.backends.istio.virtualservice import resource_version

ANNOTATION = "canary-console/progression"


def encode(state: dict[str, Any]) -> str:
    if not isinstance(state, dict):
        raise WriteRefused(f"progression state must be a mapping, got {type(state).__name__}")
    try:
        return json.dumps(state, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WriteRefused(f"progression state is not JSON: {exc}") from None


def build_progress_patch(obj: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """[test resourceVersion, add/replace the annotation]: the whole patch."""
    rv = resource_version(obj)
    if rv is None:
        raise WriteRefused("the VirtualService has no metadata.resourceVersion to guard the change with")
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            annotation_key_op(obj, ANNOTATION, encode(state))]


def read_progress(obj: dict[str, Any], where: str) -> dict[str, Any] | None:
    """The stored state; None when there is none; BackendError when it is not a JSON object."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    raw = annotations.get(ANNOTATION) if isinstance(annotations, dict) else None
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise BackendError(f"annotation {ANNOTATION} on {where} is not a JSON object: "
                           f"{str(raw)[:80]!r}; fix or remove it (kubectl annotate ... {ANNOTATION}-)")
    return value
