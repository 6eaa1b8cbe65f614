"""Label and field selectors for list/watch/deletecollection."""
from __future__ import annotations

import re
from typing import Callable

from . import errors

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"


def label_matcher(selector: str | None) -> Callable[[dict], bool]:
    if not selector:
        return lambda obj: True
    tests = [_label_term(t.strip()) for t in re.split(r",(?![^()]*\))", selector)]
    return lambda obj: all(t((obj.get("metadata") or {}).get("labels") or {}) for t in tests)


def _label_term(term: str) -> Callable[[dict], bool]:
    m = re.fullmatch(rf"({_KEY})\s+(in|notin)\s+\(([^)]*)\)", term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = re.fullmatch(rf"({_KEY})\s*(!=|==|=)\s*([-A-Za-z0-9_.]*)", term)
    if m:
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    m = re.fullmatch(rf"(!?)({_KEY})", term)
    if m:
        negate, key = bool(m.group(1)), m.group(2)
        return lambda labels: (key in labels) != negate
    raise errors.bad_request(f"unable to parse requirement: {term!r}")


_FIELDS = {
    "metadata.name": lambda obj: obj["metadata"].get("name"),
    "metadata.namespace": lambda obj: obj["metadata"].get("namespace", ""),
}


def field_matcher(selector: str | None) -> Callable[[dict], bool]:
    if not selector:
        return lambda obj: True
    tests = []
    for term in selector.split(","):
        m = re.fullmatch(r"\s*([A-Za-z.]+)\s*(!=|==|=)\s*(\S*)\s*", term)
        if not m:
            raise errors.bad_request(f"invalid field selector: {term!r}")
        field, op, value = m.groups()
        if field not in _FIELDS:
            raise errors.bad_request(f'field label not supported: {field}')
        get = _FIELDS[field]
        tests.append((lambda o, g=get, v=value: g(o) != v) if op == "!="
                     else (lambda o, g=get, v=value: g(o) == v))
    return lambda obj: all(t(obj) for t in tests)
