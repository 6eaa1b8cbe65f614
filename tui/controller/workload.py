"""The canary's pods as the router reports them: whether the canary may take traffic, and what
becomes of the requests of routes this console does not drive when it has no pod.

A canary without a ready pod fails every request sent to it (Istio answers 503): the weights must
not give it any, and a header route that still reaches it (after a rollback) must be said to fail.
"""

from __future__ import annotations

from typing import Callable

from tui.backends.base import BackendError
from tui.model import Route, TrafficSplit


class CanaryWorkload:
    def __init__(self, router: Callable[[], object], command_hint: Callable[[str], str]) -> None:
        self._router = router  # the controller's router as it is now (a test or a lab may swap it)
        self.command_hint = command_hint  # ":scale N" with the command key as bound

    @property
    def router(self) -> object:
        return self._router()

    def pods(self) -> tuple[int, int] | None:
        """(replicas, replicas ready), None when the router has no canary workload.
        Raises BackendError when it cannot be read."""
        # A router that knows readiness (Istio: the Deployment's status) says both; else replicas only.
        readiness = getattr(self.router, "canary_readiness", None)
        if readiness is not None:
            return readiness()
        read = getattr(self.router, "canary_replicas", None)
        replicas = read() if read is not None else None
        return None if replicas is None else (replicas, replicas)

    def pods_for_opt_in_routes(self, split: TrafficSplit) -> tuple[int, int] | None:
        """The pods while only routes this console does not drive send the canary requests (after a
        rollback, the guide's x-canary route): at 0 ready, each of those requests fails, and the
        screen says so. Read only then (one more API call a poll); a failed read is no answer."""
        if split.canary_weight != 0 or not split.opt_in_canary_routes:
            return None
        try:
            return self.pods()
        except BackendError:
            return None

    def cannot_serve(self) -> tuple[str, bool] | None:
        """(Why the canary must get no traffic now, whether that may pass), or None when it may."""
        try:
            got = self.pods()
        except BackendError as exc:
            return f"cannot read the canary's replicas: {exc}", exc.transient
        if got is None:
            return None
        replicas, ready = got
        if replicas == 0:
            # After a rollback: every request routed to a canary without pods fails (Istio: 503).
            return ("the canary is scaled to 0 replicas (a rollback scales it down), so every request "
                    f"sent to it would fail: scale it up first ({self.command_hint('scale N')}, or "
                    "canary-console scale N)", False)
        if ready == 0:
            # Just scaled up (or crash-looping): no endpoint is ready, and Istio answers its share with 503s.
            return (f"none of the canary's {replicas} replicas is ready yet (its pods are starting, or failing "
                    "their readiness probe), so every request sent to it would fail: try again once one is", True)
        return None

    def opt_in_routes_fail(self, routes: tuple[Route, ...]) -> str:
        """The alarm after a rollback: it moves only the weights it drives, so a header route to the
        canary still sends its requests there, and with the canary at 0 pods each one fails."""
        names = ", ".join(f"{r.label} ({' · '.join(r.match) or 'no match'}; not driven)" for r in routes)
        plural = len(routes) > 1
        return (f"route{'s' if plural else ''} {names} still send{'' if plural else 's'} requests to the "
                f"canary, now at 0 replicas: they fail until the canary is scaled up "
                f"({self.command_hint('scale N')}, canary-console scale N) or the route is changed")

    @staticmethod
    def opt_in_routes_served(routes: tuple[Route, ...], pods: tuple[int, int]) -> str:
        names = ", ".join(r.label for r in routes)
        return (f"route{'s' if len(routes) > 1 else ''} {names}: requests to the canary are served again "
                f"({pods[1]} of {pods[0]} canary pods ready)")
