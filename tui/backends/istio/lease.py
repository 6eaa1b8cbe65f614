"""The driver lease of one rollout: a coordination.k8s.io/v1 Lease next to its VirtualService.

One console (or `run`) drives a rollout at a time (tui.controller.driver). The Lease is
`canary-console-<virtualService>` in the VirtualService's namespace:

* missing: created with us as holder;
* ours: renewed (renewTime moves) by a JSON Patch that tests resourceVersion and holder;
* another holder whose renewTime + leaseDurationSeconds is still ahead: respected;
* expired, or free (no holderIdentity): taken over by a PUT carrying the resourceVersion
  read, leaseTransitions + 1.

Every write is conditional on the resourceVersion just read, so of two consoles racing
for the same lease one wins and the other gets 409/422: it re-reads once and reports
who holds it. Releasing clears holderIdentity (the object stays, visibly free).

Expiry compares the holder's renewTime with this machine's clock: keep clocks in sync
(NTP), as for any Kubernetes lease.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from tui.backends.base import BackendError, LeaseStatus

if TYPE_CHECKING:  # pragma: no cover
    from tui.backends.istio.kube import Kube

API_VERSION = "coordination.k8s.io/v1"
PREFIX = "canary-console-"
MAX_NAME = 63  # a DNS-1123 label: valid as a Lease name and anywhere a label is needed
MANAGED_BY = {"app.kubernetes.io/managed-by": "canary-console"}


def lease_name(virtual_service: str) -> str:
    """`canary-console-<virtualService>` as a DNS-1123 label (lower case, [a-z0-9-], <= 63)."""
    raw = f"{PREFIX}{virtual_service}".lower()
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")
    if name == raw and len(name) <= MAX_NAME:
        return name
    # Cleaned or shortened: a digest of the original keeps distinct VirtualServices apart.
    digest = hashlib.sha256(virtual_service.encode()).hexdigest()[:8]
    return name[: MAX_NAME - len(digest) - 1].rstrip("-") + "-" + digest


def microtime(epoch: float) -> str:
    """RFC 3339 with microseconds and 'Z': the wire form of a metav1.MicroTime."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time (MicroTime or Time), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _spec(obj: dict[str, Any] | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def holder_of(obj: dict[str, Any] | None) -> str | None:
    holder = _spec(obj).get("holderIdentity")
    return holder if isinstance(holder, str) and holder else None


def expiry_of(obj: dict[str, Any] | None) -> float | None:
    """renewTime (else acquireTime) + leaseDurationSeconds; None when it cannot be told."""
    spec = _spec(obj)
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or isinstance(duration, bool) or not isinstance(duration, (int, float)):
        return None
    return renewed + duration


def _resource_version(obj: dict[str, Any]) -> str:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    if not isinstance(rv, str) or not rv:
        raise BackendError("the Lease has no metadata.resourceVersion to guard the change with")
    return rv


class KubeLease:
    """The Lease protocol of tui.controller.driver over a Kubernetes Lease object."""

    def __init__(self, kube: "Kube", namespace: str, name: str, now: Callable[[], float] = time.time) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self._now = now

    def describe(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    # --- the protocol ------------------------------------------------------------

    def try_acquire(self, holder: str, duration_s: int) -> LeaseStatus:
        if not holder:
            raise BackendError("a lease holder identity is required")
        return self._acquire(self._read(), holder, max(1, int(duration_s)), again=True)

    def _acquire(self, obj: dict[str, Any] | None, holder: str, duration: int, again: bool) -> LeaseStatus:
        from tui.backends.istio.kube import Conflict, NotFound

        now = self._now()
        try:
            if obj is None:
                return self._status(self._create(holder, duration, now), holder)
            current = holder_of(obj)
            if current == holder:
                return self._status(self._renew(obj, holder, duration, now), holder)
            expires = expiry_of(obj)
            if current is not None and expires is not None and expires > now:
                return LeaseStatus(False, current, expires)
            return self._status(self._take_over(obj, holder, duration, now), holder)
        except (Conflict, NotFound):
            # Someone else wrote between our read and our write: they won. Say who holds it now.
            obj = self._read()
            current = holder_of(obj)
            if current is not None and current != holder:
                return self._status(obj, holder)
            # ...unless it is free again (released, deleted) or still ours (a label moved the
            # resourceVersion under our renewal): one more try from what is there now.
            if again:
                return self._acquire(obj, holder, duration, again=False)
            if current == holder:
                return self._status(obj, holder)
            raise BackendError(f"{self.describe()} kept changing while acquiring it") from None

    def peek(self) -> LeaseStatus:
        """Who drives now, read without taking anything (for `status`): holder None when free or expired."""
        obj = self._read()
        holder, expires = holder_of(obj), expiry_of(obj)
        if holder is not None and expires is not None and expires <= self._now():
            holder = None
        return LeaseStatus(False, holder, expires if holder else None)

    def release(self, holder: str) -> None:
        """Clear holderIdentity if the lease is ours; others then see it free at once."""
        from tui.backends.istio.kube import Conflict

        for _ in range(2):  # one re-read if something else (a label) moved the resourceVersion
            obj = self._read()
            if obj is None or holder_of(obj) != holder:
                return
            ops = [
                {"op": "test", "path": "/metadata/resourceVersion", "value": _resource_version(obj)},
                {"op": "test", "path": "/spec/holderIdentity", "value": holder},
                {"op": "remove", "path": "/spec/holderIdentity"},
            ]
            try:
                self.kube.patch_lease(self.namespace, self.name, ops)
                return
            except Conflict:
                continue

    # --- steps ---------------------------------------------------------------------

    def _read(self) -> dict[str, Any] | None:
        from tui.backends.istio.kube import NotFound

        try:
            return self.kube.get_lease(self.namespace, self.name)
        except NotFound as exc:
            if exc.object_missing:
                return None
            raise BackendError(f"the Kubernetes API does not serve {API_VERSION} leases: {exc}") from None

    def _create(self, holder: str, duration: int, now: float) -> dict[str, Any]:
        from tui.backends.istio.kube import NotFound

        stamp = microtime(now)
        body = {
            "apiVersion": API_VERSION,
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(MANAGED_BY)},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": stamp,
                     "renewTime": stamp, "leaseTransitions": 0},
        }
        try:
            return self.kube.create_lease(self.namespace, body)
        except NotFound as exc:
            raise BackendError(f"cannot create {self.describe()}: {exc}") from None

    def _renew(self, obj: dict[str, Any], holder: str, duration: int, now: float) -> dict[str, Any]:
        spec = _spec(obj)
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": _resource_version(obj)},
            {"op": "test", "path": "/spec/holderIdentity", "value": holder},
            {"op": "replace" if "renewTime" in spec else "add", "path": "/spec/renewTime",
             "value": microtime(now)},
        ]
        if spec.get("leaseDurationSeconds") != duration:
            ops.append({"op": "replace" if "leaseDurationSeconds" in spec else "add",
                        "path": "/spec/leaseDurationSeconds", "value": duration})
        return self.kube.patch_lease(self.namespace, self.name, ops)

    def _take_over(self, obj: dict[str, Any], holder: str, duration: int, now: float) -> dict[str, Any]:
        body = copy.deepcopy(obj)
        meta = body.setdefault("metadata", {})
        meta.pop("managedFields", None)  # the server keeps its own bookkeeping
        _resource_version(body)  # the PUT carries it: a conditional update
        spec = _spec(body)
        transitions = spec.get("leaseTransitions")
        transitions = transitions if isinstance(transitions, int) and not isinstance(transitions, bool) else 0
        stamp = microtime(now)
        body["spec"] = {**spec, "holderIdentity": holder, "leaseDurationSeconds": duration,
                        "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": transitions + 1}
        body.setdefault("apiVersion", API_VERSION)
        body.setdefault("kind", "Lease")
        return self.kube.replace_lease(self.namespace, self.name, body)

    def _status(self, obj: dict[str, Any] | None, holder: str) -> LeaseStatus:
        current = holder_of(obj)
        expires = expiry_of(obj)
        live = expires is None or expires > self._now()
        return LeaseStatus(current == holder and live, current, expires)
