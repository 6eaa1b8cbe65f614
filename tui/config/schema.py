"""A small declarative validator: every error names the key path and what was expected.

Each node knows how to check and convert one value. A mapping node rejects unknown
keys, fills defaults, and prefixes its children's errors with their key paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from tui.durations import parse_duration


class SchemaError(ValueError):
    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"{path or '<top>'}: {expected}")
        self.path = path
        self.expected = expected


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Node:
    expected = "a value"

    def check(self, value: Any, path: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def fail(self, value: Any, path: str, expected: str | None = None) -> SchemaError:
        return SchemaError(path, f"expected {expected or self.expected}, got {_show(value)}")


@dataclass
class Number(Node):
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    exclusive_min: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        kind = "an integer" if self.integer else "a number"
        if self.minimum is not None and self.maximum is not None:
            if self.exclusive_min:
                return f"{kind} > {self.minimum:g} and <= {self.maximum:g}"
            return f"{kind} from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{kind} {'>' if self.exclusive_min else '>='} {self.minimum:g}"
        return kind

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(value, path)
        if self.integer and not isinstance(value, int):
            raise self.fail(value, path)
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_min and value == self.minimum)
        ):
            raise self.fail(value, path)
        if self.maximum is not None and value > self.maximum:
            raise self.fail(value, path)
        return value


@dataclass
class Text(Node):
    allow_empty: bool = False
    expected: str = "a string"  # type: ignore[assignment]

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or (not value and not self.allow_empty):
            raise self.fail(value, path, "a non-empty string" if not self.allow_empty else None)
        return value


@dataclass
class Choice(Node):
    options: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + " | ".join(self.options)

    def check(self, value: Any, path: str) -> Any:
        if value not in self.options:
            raise self.fail(value, path)
        return value


@dataclass
class Boolean(Node):
    expected: str = "true or false"  # type: ignore[assignment]

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise self.fail(value, path)
        return value


@dataclass
class Duration(Node):
    minimum_s: float = 0.0
    expected: str = "a duration such as 500ms, 2s, 5m or 1h"  # type: ignore[assignment]

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(value, path)
        try:
            seconds = float(value) if not isinstance(value, str) else parse_duration(value)
        except ValueError:
            raise self.fail(value, path) from None
        if seconds < self.minimum_s or seconds <= 0:
            raise self.fail(value, path, f"a duration of at least {self.minimum_s:g}s")
        return seconds


@dataclass
class Optional(Node):
    inner: Node

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.inner.expected} or null"

    def check(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.check(value, path)


@dataclass
class ListOf(Node):
    item: Node
    min_items: int = 0
    check_all: Callable[[list[Any], str], None] | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a list of {self.item.expected}"

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, list) or len(value) < self.min_items:
            raise self.fail(value, path, f"a list of at least {self.min_items} items" if self.min_items else None)
        items = [self.item.check(v, _join(path, i)) for i, v in enumerate(value)]
        if self.check_all:
            self.check_all(items, path)
        return items


@dataclass
class MapOf(Node):
    """A mapping with free keys (e.g. query overrides)."""

    value: Node

    expected = "a mapping"

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise self.fail(value, path)
        return {str(k): self.value.check(v, _join(path, str(k))) for k, v in value.items()}


class Mapping(Node):
    """Known keys only; each key has a node and a default (REQUIRED for none)."""

    expected = "a mapping"

    def __init__(self, fields: dict[str, tuple[Node, Any]]) -> None:
        self.fields = fields

    def check(self, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(value, path)
        for key in value:
            if key not in self.fields:
                known = ", ".join(self.fields)
                raise SchemaError(_join(path, str(key)), f"unknown key (known here: {known})")
        out: dict[str, Any] = {}
        for key, (node, default) in self.fields.items():
            if key in value:
                out[key] = node.check(value[key], _join(path, key))
            elif default is REQUIRED:
                raise SchemaError(_join(path, key), f"missing; expected {node.expected}")
            else:
                out[key] = node.check(default, _join(path, key)) if default is not None else None
        return out


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
