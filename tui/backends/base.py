"""The interfaces backends implement, and the errors they raise.

A TrafficRouter reads and writes the stable/canary split (Istio, the demo).
A MetricSource reads per-version samples (Prometheus, the demo).
A Lease says which console drives a rollout (Istio: a Kubernetes Lease; a router
without one gets the controller's in-process lease).
All are synchronous and may block: the controller calls them off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tui.model import MetricsSnapshot, TrafficSplit, WeightChange


class BackendError(Exception):
    """A backend could not do what was asked; the message is shown to the operator.

    `transient`: it may pass by itself (a timeout, an unreachable or overloaded server, a
    concurrent edit), so automation tries again at its next poll; anything else (a missing
    object, a permission, a refusal) waits for a person.
    """

    transient = False

    def __init__(self, *args: object, transient: bool | None = None) -> None:
        super().__init__(*args)
        if transient is not None:
            self.transient = transient


class WriteRefused(BackendError):
    """A write was refused before any request (bad weights, owned by another controller...)."""


class NoCanaryRoute(BackendError):
    """The router's object routes nothing to the canary. At start a config that names the wrong
    host; once a read has found the route, someone removed it (the guide's hand rollback, a merge
    patch that replaces spec.http whole): the controller takes it as a change made outside."""

    def __init__(self, message: str, where: str, canary: str, routes_now: str = "") -> None:
        super().__init__(message)
        self.where, self.canary = where, canary  # "VirtualService ns/name", the canary's host and subset
        self.routes_now = routes_now  # where its http routes send the requests now, in a few words


class ConflictError(BackendError):
    """Someone else changed the object and the bounded retries ran out."""

    transient = True


@runtime_checkable
class TrafficRouter(Protocol):
    def describe(self) -> str:
        """Where the split lives, for the header (e.g. 'istio ns/vs' or 'demo')."""

    def read(self) -> TrafficSplit:
        """The current split: every route, driven or not."""

    def set_canary_weight(self, canary: int, change: WeightChange, route: str | None = None,
                          force: bool = False) -> TrafficSplit:
        """Set canary=`canary`, stable=100-canary on the driven routes (or only `route`).

        Touches only weight fields; records `change` with the object; returns the new split.
        Raises WriteRefused or ConflictError; never leaves a half-applied change.
        """

    def scale_canary(self, replicas: int) -> None:
        """Scale the canary workload (rollback scales it to 0)."""

    def canary_replicas(self) -> int | None:
        """The replicas the canary workload is scaled to (None: no canary workload configured).

        Read before any write that sends the canary traffic: after a rollback it is 0, and
        requests routed to it would all fail. A router may also offer `canary_readiness()`,
        (replicas, replicas ready) or None, read instead: scaled back up, the canary serves
        nothing until a pod is ready.
        """

    def close(self) -> None:
        ...


@runtime_checkable
class MetricSource(Protocol):
    # A metric source (or a router) may set `simulated = True`, as the demo's do: its numbers are
    # made up, and the screen, `status` and `run` say so wherever the rollout's name appears.
    # Absent: real.

    def describe(self) -> str:
        ...

    def poll(self) -> MetricsSnapshot:
        """Both versions' latest samples; raises BackendError when the source is down."""

    def backfill(self, seconds: float, step: float) -> list[MetricsSnapshot]:
        """Past samples (oldest first) so charts are full from the first frame; may be empty."""

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class LeaseStatus:
    ours: bool
    holder: str | None  # who holds it now (None: nobody)
    expires_at: float | None = None  # epoch seconds, real time


class Lease(Protocol):
    def try_acquire(self, holder: str, duration_s: int) -> LeaseStatus:
        """Take the lease if free, expired or already ours (renewing it); else say who has it."""

    def release(self, holder: str) -> None:
        """Give the lease up if it is ours."""

    def describe(self) -> str:
        ...
