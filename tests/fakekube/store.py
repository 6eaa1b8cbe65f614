"""Thread-safe object storage with a global resourceVersion and a change log.

Objects are stored independently of API version (one copy serves every
version of a group). Keys are (group, plural, namespace, name); cluster-scoped
objects use namespace "".
"""
from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

Key = tuple  # (group, plural, namespace, name)


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: Key
    obj: dict


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(obj: dict) -> dict:
    """What counts for metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Store:
    def __init__(self):
        # Re-entrant so that test hooks (fk.mutate) can run inside a handler's
        # critical section without deadlocking.
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[Key, dict] = {}
        self._rv = 0
        self._events: list[Event] = []
        self._floor = 0  # events with rv <= floor were compacted away

    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._rv)

    @property
    def floor(self) -> int:
        with self.lock:
            return self._floor

    def get(self, key: Key) -> dict | None:
        with self.lock:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, group: str, plural: str, namespace: str | None = None) -> list[dict]:
        with self.lock:
            keys = sorted(k for k in self._objects
                          if k[0] == group and k[1] == plural
                          and (namespace is None or k[2] == namespace))
            return [copy.deepcopy(self._objects[k]) for k in keys]

    def _commit(self, key: Key, obj: dict, event: str) -> dict:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[key] = copy.deepcopy(obj)
        self._events.append(Event(self._rv, event, key, copy.deepcopy(obj)))
        self.changed.notify_all()
        return obj

    def create(self, key: Key, obj: dict, dry_run: bool = False) -> dict:
        with self.lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            meta["generation"] = 1
            if dry_run:
                meta.pop("resourceVersion", None)
                return obj
            return self._commit(key, obj, "ADDED")

    def update(self, key: Key, obj: dict, dry_run: bool = False, force: bool = False) -> dict:
        """Replace a stored object, keeping server-owned metadata.

        Like the real server, an update that changes nothing is not written
        and keeps its resourceVersion; `force` writes anyway (test hooks).
        """
        with self.lock:
            old = self._objects[key]
            obj = copy.deepcopy(obj)
            # The storage version is fixed at creation; reads rewrite apiVersion anyway,
            # and this keeps no-op detection independent of the version written through.
            obj["apiVersion"] = old["apiVersion"]
            meta = obj.setdefault("metadata", {})
            for field in ("uid", "creationTimestamp", "resourceVersion"):
                meta[field] = old["metadata"][field]
            generation = old["metadata"].get("generation", 1)
            meta["generation"] = generation + (_body(obj) != _body(old))
            if dry_run or (obj == old and not force):
                return obj
            return self._commit(key, obj, "MODIFIED")

    def delete(self, key: Key, dry_run: bool = False) -> dict:
        with self.lock:
            obj = copy.deepcopy(self._objects[key])
            if dry_run:
                return obj
            del self._objects[key]
            # Like the real server, the DELETED event carries a fresh resourceVersion.
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._events.append(Event(self._rv, "DELETED", key, copy.deepcopy(obj)))
            self.changed.notify_all()
            return obj

    def events_after(self, rv: int) -> list[Event]:
        with self.lock:
            return [e for e in self._events if e.rv > rv]

    def compact(self) -> None:
        """Forget the change log, so that watches from older versions get 410."""
        with self.lock:
            self._events.clear()
            self._floor = self._rv
            self.changed.notify_all()
