"""RFC 6902 (JSON Patch), RFC 6901 (JSON Pointer) and RFC 7386 (JSON Merge Patch).

Pure functions on JSON-like Python values; inputs are never mutated.
`PatchMalformed` means the patch document itself is unusable (HTTP 400 on the
real server); `PatchConflict` means it is well formed but cannot be applied to
this document (HTTP 422).
"""
from __future__ import annotations

import copy
import re


class PatchMalformed(ValueError):
    pass


class PatchConflict(ValueError):
    pass


_INDEX = re.compile(r"0|[1-9][0-9]*")


def parse_pointer(pointer: str) -> list[str]:
    if not isinstance(pointer, str):
        raise PatchConflict(f"JSON pointer must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchConflict(f'JSON pointer "{pointer}" must start with "/"')
    tokens = pointer[1:].split("/")
    for t in tokens:
        if re.search(r"~(?![01])", t):
            raise PatchConflict(f'invalid "~" escape in JSON pointer "{pointer}"')
    # ~1 before ~0, so that "~01" decodes to "~1" and not "/".
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def json_equal(a, b) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 (Python's == conflates them)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _index(token: str, size: int, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return size
    if not _INDEX.fullmatch(token):
        raise PatchConflict(f'invalid array index "{token}" in "{path}"')
    i = int(token)
    if i > size or (i == size and not allow_end):
        raise PatchConflict(f'array index {i} out of bounds in "{path}"')
    return i


def _walk(doc, tokens: list[str], path: str):
    node = doc
    for t in tokens:
        if isinstance(node, dict):
            if t not in node:
                raise PatchConflict(f'path "{path}": missing key "{t}"')
            node = node[t]
        elif isinstance(node, list):
            node = node[_index(t, len(node), path, allow_end=False)]
        else:
            raise PatchConflict(f'path "{path}": cannot descend into a scalar')
    return node


def _parent(doc, tokens: list[str], path: str):
    """The container holding the last token."""
    return _walk(doc, tokens[:-1], path)


def resolve(doc, path: str):
    """The value a JSON pointer designates (PatchConflict if absent)."""
    return _walk(doc, parse_pointer(path), path)


def _add(doc, path: str, value):
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), path, allow_end=True), value)
    else:
        raise PatchConflict(f'path "{path}": parent is not a container')
    return doc


def _remove(doc, path: str):
    tokens = parse_pointer(path)
    if not tokens:
        raise PatchConflict("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchConflict(f'unable to remove nonexistent key "{last}" at "{path}"')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent), path, allow_end=False))
    raise PatchConflict(f'path "{path}": parent is not a container')


def _replace(doc, path: str, value):
    resolve(doc, path)  # the target must exist
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, list):
        parent[_index(last, len(parent), path, allow_end=False)] = value
    else:
        parent[last] = value  # in place, so key order is kept
    return doc


def _require(op: dict, key: str, i: int):
    if key not in op:
        raise PatchConflict(f'operation {i} ("{op.get("op")}") is missing "{key}"')
    return op[key]


def apply_json_patch(doc, ops):
    """Apply an RFC 6902 patch atomically; returns a new document."""
    if not isinstance(ops, list):
        raise PatchMalformed("json patch must be a JSON array of operations")
    if not all(isinstance(op, dict) for op in ops):
        raise PatchMalformed("every json patch operation must be a JSON object")
    doc = copy.deepcopy(doc)
    for i, op in enumerate(ops):
        kind = op.get("op")
        path = _require(op, "path", i)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(_require(op, "value", i)))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc = _replace(doc, path, copy.deepcopy(_require(op, "value", i)))
        elif kind == "move":
            src = _require(op, "from", i)
            if path != src and path.startswith(src + "/"):
                raise PatchConflict(f'cannot move "{src}" into its own child "{path}"')
            doc, value = _remove(doc, src)
            doc = _add(doc, path, value)
        elif kind == "copy":
            value = copy.deepcopy(resolve(doc, _require(op, "from", i)))
            doc = _add(doc, path, value)
        elif kind == "test":
            expected = _require(op, "value", i)
            if not json_equal(resolve(doc, path), expected):
                raise PatchConflict(f"testing value {path} failed: test failed")
        else:
            raise PatchConflict(f"unexpected json patch operation {kind!r}")
    return doc


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces
    (arrays included: a merge patch cannot edit one element of a list).
    Returns a new document."""
    return _merge(copy.deepcopy(target), patch)


def _merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
