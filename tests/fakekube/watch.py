"""`?watch=true`: a chunked stream of ADDED/MODIFIED/DELETED events.

Without resourceVersion (or with "0") the stream starts with a synthetic
ADDED per existing object, like the real server; with an older
resourceVersion than the retained change log (see FakeKube.compact) the
stream is a single ERROR event carrying a 410 Expired Status.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Iterator

from . import errors, objects
from .selectors import field_matcher, label_matcher
from .store import Store

if TYPE_CHECKING:
    from .api import Request, Response

_POLL = 0.05  # how often an idle stream re-checks stop/timeout


def start(store: Store, req: "Request", stopping: threading.Event) -> "Response":
    from .api import Response

    route = req.route
    labels = label_matcher(req.param("labelSelector"))
    fields = field_matcher(req.param("fieldSelector"))
    timeout = req.param("timeoutSeconds")
    try:
        deadline = time.monotonic() + float(timeout) if timeout else None
    except ValueError:
        raise errors.bad_request(f"invalid timeoutSeconds {timeout!r}") from None
    rv = req.param("resourceVersion")
    with store.lock:
        if rv in (None, "", "0"):
            since = int(store.resource_version)
            initial = [("ADDED", o) for o in store.list(route.group, route.rt.plural, route.namespace)]
        else:
            try:
                since = int(rv)
            except ValueError:
                raise errors.bad_request(f"invalid resourceVersion {rv!r}") from None
            initial = []

    def in_scope(key) -> bool:
        return key[:2] == (route.group, route.rt.plural) and (
            route.namespace is None or key[2] == route.namespace)

    def stream() -> Iterator[dict]:
        for kind, obj in initial:
            if labels(obj) and fields(obj):
                yield {"type": kind, "object": objects.present(obj, route)}
        last = since
        while not stopping.is_set() and (deadline is None or time.monotonic() < deadline):
            with store.changed:
                floor = store.floor
                pending = store.events_after(last) if floor <= last else []
                if floor <= last and not pending:
                    store.changed.wait(_POLL)
                    continue
            if floor > last:
                yield _expired(last, floor)
                return
            for event in pending:
                last = event.rv
                if in_scope(event.key) and labels(event.obj) and fields(event.obj):
                    yield {"type": event.type, "object": objects.present(event.obj, route)}

    return Response(200, stream=stream())


def _expired(asked: int, oldest: int) -> dict:
    status = errors.gone(f"too old resource version: {asked} ({oldest})").status()
    return {"type": "ERROR", "object": status}
