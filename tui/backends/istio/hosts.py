"""Which Istio destination is the stable one and which the canary, as configured.

Istio hosts may be written short (`x0tta6bl4-app-canary`), namespaced
(`x0tta6bl4-app-canary.x0tta6bl4-canary`) or fully qualified
(`x0tta6bl4-app-canary.x0tta6bl4-canary.svc.cluster.local`). Two hosts are the
same service when their first labels are equal and, when both name one, their
namespaces (the second label) are equal too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from tui.model import Role


def _split_host(host: str) -> tuple[str, str | None]:
    labels = host.strip().lower().rstrip(".").split(".")
    return labels[0], (labels[1] if len(labels) > 1 and labels[1] else None)


def same_host(a: str, b: str) -> bool:
    """True when `a` and `b` name the same service (first label, plus namespace when both give one)."""
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
        return False
    name_a, ns_a = _split_host(a)
    name_b, ns_b = _split_host(b)
    if name_a != name_b:
        return False
    return ns_a is None or ns_b is None or ns_a == ns_b


def host_namespace(host: str) -> str | None:
    """The namespace a host names (its second label), if it names one."""
    return _split_host(host)[1] if isinstance(host, str) and host else None


@dataclass(frozen=True)
class Target:
    """A configured destination: router.stable or router.canary."""

    host: str
    subset: str | None = None

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, what: str) -> "Target":
        from tui.backends.base import BackendError

        if not raw or not raw.get("host"):
            raise BackendError(f"router.{what}.host is not configured")
        return cls(host=str(raw["host"]), subset=raw.get("subset") or None)

    def matches(self, host: object, subset: object) -> bool:
        if not isinstance(host, str) or not same_host(self.host, host):
            return False
        return self.subset is None or self.subset == subset

    @property
    def label(self) -> str:
        return f"{self.host} (subset {self.subset})" if self.subset else self.host


@dataclass(frozen=True)
class Roles:
    stable: Target
    canary: Target

    def role_of(self, host: object, subset: object) -> Role | None:
        # The canary is checked first: with a shared host and no subsets configured the
        # two would be indistinguishable, which IstioRouter refuses at construction.
        if self.canary.matches(host, subset):
            return "canary"
        if self.stable.matches(host, subset):
            return "stable"
        return None

    def ambiguous(self) -> bool:
        """True when some destination could be both stable and canary."""
        if not same_host(self.stable.host, self.canary.host):
            return False
        s, c = self.stable.subset, self.canary.subset
        return s is None or c is None or s == c
