"""Test-controlled behaviour: denials, delays, pre-write hooks, request log.

All state is guarded by one lock; callbacks run outside it.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class RecordedRequest:
    method: str
    path: str                      # without the query string
    query: dict[str, list[str]]
    content_type: str | None       # the Content-Type header as sent
    body: Any                      # parsed JSON, raw text if not JSON, None if empty
    time: float                    # time.monotonic() on arrival
    user: str | None = None        # authenticated user, None if unauthenticated
    status: int | None = None      # HTTP status returned (None while in flight)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; authorization redacted


@dataclass(frozen=True)
class Denial:
    verb: str
    group: str
    resource: str                  # plural, or "deployments/scale" for a subresource
    namespace: str | None
    user: str | None

    def matches(self, verb, group, resource, namespace, user) -> bool:
        return (self.verb in ("*", verb) and self.group == group and self.resource == resource
                and self.namespace in (None, namespace) and self.user in (None, user))


@dataclass
class Delay:
    seconds: float
    method: str | None
    path_contains: str | None
    times: int | None              # None: forever
    after: bool                    # sleep after applying the request instead of before

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in path))


@dataclass
class WriteHook:
    fn: Callable[[RecordedRequest], Any]
    times: int
    path_contains: str | None


class Hooks:
    def __init__(self):
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._denials: list[Denial] = []
        self._delays: list[Delay] = []
        self._write_hooks: list[WriteHook] = []

    # -- request log -----------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def update(self, request: RecordedRequest, **fields) -> None:
        """Fill in fields of a recorded request (snapshots are taken under the lock)."""
        with self._lock:
            for name, value in fields.items():
                setattr(request, name, value)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- denials -----------------------------------------------------------

    def deny(self, denial: Denial) -> None:
        if denial.verb not in VERBS:
            raise ValueError(f"unknown verb {denial.verb!r}; expected one of {sorted(VERBS)}")
        with self._lock:
            self._denials.append(denial)

    def allow(self, verb: str, group: str, resource: str) -> None:
        with self._lock:
            self._denials = [d for d in self._denials
                             if (d.verb, d.group, d.resource) != (verb, group, resource)]

    def clear_denials(self) -> None:
        with self._lock:
            self._denials.clear()

    def denied(self, verb, group, resource, namespace, user) -> bool:
        with self._lock:
            return any(d.matches(verb, group, resource, namespace, user) for d in self._denials)

    # -- delays ------------------------------------------------------------

    def add_delay(self, delay: Delay) -> None:
        with self._lock:
            self._delays.append(delay)

    def clear_delays(self) -> None:
        with self._lock:
            self._delays.clear()

    def take_delay(self, method: str, path: str) -> Delay | None:
        """The first matching delay, consuming one of its uses."""
        with self._lock:
            for delay in self._delays:
                if delay.matches(method, path):
                    if delay.times is not None:
                        delay.times -= 1
                        if delay.times <= 0:
                            self._delays.remove(delay)
                    return delay
        return None

    # -- pre-write hooks ---------------------------------------------------

    def add_write_hook(self, hook: WriteHook) -> None:
        with self._lock:
            self._write_hooks.append(hook)

    def clear_write_hooks(self) -> None:
        with self._lock:
            self._write_hooks.clear()

    def run_write_hooks(self, request: RecordedRequest) -> None:
        """Run (and consume) the hooks matching a mutating request, outside the lock
        so they may call back into the fake (fk.mutate, fk.put_object...)."""
        due = []
        with self._lock:
            for hook in list(self._write_hooks):
                if hook.path_contains is None or hook.path_contains in request.path:
                    due.append(hook)
                    hook.times -= 1
                    if hook.times <= 0:
                        self._write_hooks.remove(hook)
        for hook in due:
            hook.fn(request)
