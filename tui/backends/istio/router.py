"""IstioRouter: the TrafficRouter over an Istio VirtualService.

Reads: one GET of the VirtualService per read(). The DestinationRule check runs once,
with the first successful read. Writes: one JSON Patch of the weight fields only,
guarded by `test` operations and recording the change in an annotation; conflicts
are re-read and retried a bounded number of times.

Also here: the automatic progression's resume point (save_progress/load_progress, one
annotation, tui.backends.istio.progress) and the driver lease (driver_lease(), a
coordination.k8s.io Lease, tui.backends.istio.lease).

The kubernetes client is imported when a router is built (tui.backends.istio.kube),
never when this module is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tui.backends.base import BackendError, ConflictError, NoCanaryRoute, WriteRefused
from tui.backends.istio.hosts import Roles, Target, host_namespace, same_host
from tui.backends.istio.patch import build_weight_patch
from tui.backends.istio.virtualservice import carries, parse_split
from tui.model import Route, TrafficSplit, WeightChange, WeightError, validate_weight

if TYPE_CHECKING:  # pragma: no cover
    from tui.backends.istio.kube import Kube
    from tui.backends.istio.lease import KubeLease
    from tui.config import Config

GROUP = "networking.istio.io"
VERSIONS = ("v1", "v1beta1")  # preferred first; the one that answers is remembered
VIRTUAL_SERVICES = "virtualservices"
DESTINATION_RULES = "destinationrules"

T = TypeVar("T")


class IstioRouter:
    max_attempts = 3  # PATCH attempts before a ConflictError

    def __init__(
        self,
        namespace: str,
        virtual_service: str,
        stable: Target | dict[str, Any],
        canary: Target | dict[str, Any],
        *,
        destination_rule: str | None = None,
        route: str | None = None,
        timeout: float = 5.0,
        canary_namespace: str | None = None,
        canary_deployment: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        kube: "Kube | None" = None,
    ) -> None:
        if not namespace or not virtual_service:
            raise BackendError("router.namespace and router.virtualService are required for router.kind istio")
        self.namespace = namespace
        self.virtual_service = virtual_service
        self.roles = Roles(
            stable=stable if isinstance(stable, Target) else Target.from_config(stable, "stable"),
            canary=canary if isinstance(canary, Target) else Target.from_config(canary, "canary"),
        )
        if self.roles.ambiguous():
            raise BackendError("router.stable and router.canary name the same destination: give them "
                               "different hosts or different subsets")
        self.destination_rule = destination_rule
        self.default_route = route
        self.timeout = float(timeout) if timeout and timeout > 0 else 5.0
        self.canary_namespace = canary_namespace or host_namespace(self.roles.canary.host) or namespace
        self.canary_deployment = canary_deployment
        if kube is None:
            from tui.backends.istio.kube import Kube, connect  # the kubernetes import happens here

            kube = Kube(connect(kubeconfig=kubeconfig, context=context), self.timeout)
        self.kube = kube
        self.version: str | None = None  # the networking.istio.io version that answered
        self._checked = False  # the DestinationRule check passed
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None  # the object from the last read or write
        self._lease: "KubeLease | None" = None

    @classmethod
    def from_config(cls, config: "Config", context: str | None = None, **overrides: Any) -> "IstioRouter":
        """The router a config describes; `context` (--context) overrides kubernetes.context."""
        r, k, c = config.router, config.kubernetes or {}, config.canary or {}
        kwargs: dict[str, Any] = dict(
            namespace=r.get("namespace"),
            virtual_service=r.get("virtualService"),
            stable=r.get("stable"),
            canary=r.get("canary"),
            destination_rule=r.get("destinationRule"),
            route=r.get("route"),
            timeout=float(r.get("timeout") or 5.0),
            canary_namespace=c.get("namespace"),
            canary_deployment=c.get("deployment"),
            kubeconfig=k.get("kubeconfig"),
            context=context or k.get("context"),
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- the protocol --------------------------------------------------------

    def describe(self) -> str:
        return f"istio {self.namespace}/{self.virtual_service}"

    @property
    def source(self) -> str:
        return f"istio {self.namespace}/{self.virtual_service} ({GROUP}/{self.version or VERSIONS[0]})"

    def read(self) -> TrafficSplit:
        """The current split: exactly one GET of the VirtualService (after the first read)."""
        return self._split(self._fetch())

    def set_canary_weight(self, canary: int, change: WeightChange, route: str | None = None,
                          force: bool = False) -> TrafficSplit:
        try:
            validate_weight(canary)
        except WeightError as exc:
            raise WriteRefused(str(exc)) from None
        route = route or self.default_route
        result = self._patch(lambda obj: self._plan(obj, canary, change, route, force), self._fetch,
                             "writing", "; re-read and try again")
        return self._split(result)

    def save_progress(self, state: dict[str, Any]) -> None:
        """Store the automatic progression's state in the canary-console/progression annotation.

        One JSON Patch: a resourceVersion `test` and the add/replace of that one annotation
        (spec and every other annotation untouched); on a conflict, re-read and retry like a
        weight write.
        """
        from tui.backends.istio.progress import build_progress_patch

        self._patch(lambda obj: build_progress_patch(obj, state), lambda: self._fetch(check_rules=False),
                    "storing the progression state")

    def _patch(self, plan: Callable[[dict[str, Any]], list[dict[str, Any]]],
               fetch: Callable[[], dict[str, Any]], doing: str, hint: str = "") -> dict[str, Any]:
        """JSON-Patch the VirtualService with the ops `plan` builds from the object; the new object.

        The object from the last read is the starting point (the controller reads just before
        writing); the ops carry a resourceVersion `test`, so a stale object fails safely, is
        re-read with `fetch` and planned again, up to `max_attempts`. A plan that refuses a
        stale object is retried on a fresh one: refuse only on what is really there now.
        """
        from tui.backends.istio.kube import Conflict

        with self._lock:
            obj, fresh = self._last, False
        if obj is None:
            obj, fresh = fetch(), True
        last_error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                ops = plan(obj)
            except BackendError:  # WriteRefused included
                if fresh:
                    raise
                obj, fresh = fetch(), True
                ops = plan(obj)
            try:
                result = self.kube.json_patch(GROUP, self._version(), self.namespace, VIRTUAL_SERVICES,
                                              self.virtual_service, ops)
            except Conflict as exc:
                last_error = str(exc)
                if attempt < self.max_attempts:
                    obj, fresh = fetch(), True
                continue
            with self._lock:
                self._last = result
            return result
        raise ConflictError(
            f"VirtualService {self.namespace}/{self.virtual_service} kept changing while {doing} "
            f"({self.max_attempts} attempts conflicted; last: {last_error}){hint}"
        )

    def load_progress(self) -> dict[str, Any] | None:
        """The stored progression state, from the last object read (one GET if none was)."""
        from tui.backends.istio.progress import read_progress

        with self._lock:
            obj = self._last
        if obj is None:
            obj = self._fetch(check_rules=False)
        return read_progress(obj, f"VirtualService {self.namespace}/{self.virtual_service}")

    def driver_lease(self) -> "KubeLease":
        """The Lease that lets one console at a time drive this VirtualService's rollout."""
        from tui.backends.istio.lease import KubeLease, lease_name

        if self._lease is None:
            self._lease = KubeLease(self.kube, self.namespace, lease_name(self.virtual_service))
        return self._lease

    def scale_canary(self, replicas: int) -> None:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise WriteRefused(f"replicas must be an integer >= 0, got {replicas!r}")
        if not self.canary_deployment:
            raise WriteRefused("canary.deployment is not configured: cannot scale the canary")
        self.kube.scale_deployment(self.canary_namespace, self.canary_deployment, replicas)

    def canary_replicas(self) -> int | None:
        """spec.replicas of the canary Deployment's scale subresource (None: canary.deployment not set)."""
        return self._read_canary_deployment(self.kube.deployment_replicas)

    def canary_readiness(self) -> tuple[int, int] | None:
        """(replicas asked for, replicas ready) of the canary Deployment (None: canary.deployment not set).
        Istio sends a subset without ready endpoints nothing but 503s."""
        return self._read_canary_deployment(self.kube.deployment_readiness)

    def _read_canary_deployment(self, read: Callable[[str, str], T]) -> T | None:
        if not self.canary_deployment:
            return None
        from tui.backends.istio.kube import NotFound

        try:
            return read(self.canary_namespace, self.canary_deployment)
        except NotFound as exc:
            raise BackendError(f"the canary Deployment {self.canary_namespace}/{self.canary_deployment} "
                               f"(canary.namespace, canary.deployment) was not found: {exc}") from None

    def close(self) -> None:
        self.kube.close()

    # --- for the CLI and the screen --------------------------------------------

    def untouched_canary_routes(self, split: TrafficSplit, route: str | None = None) -> tuple[str, ...]:
        """Labels of routes that reach the canary but a weight change leaves as they are.

        Opt-in routes (the guide's x-canary header route) carry the canary and no stable
        destination: they are not driven. With a route selected (argument or router.route),
        the other driven routes are left alone too.
        """
        route = route or self.default_route
        out = []
        for r in split.routes:
            if not carries(r, "canary"):
                continue
            targeted = r.driven and (route is None or _is_route(r, route))
            if not targeted:
                out.append(r.label)
        return tuple(out)

    def left_as_is(self, split: TrafficSplit, route: str | None = None) -> tuple[str, ...]:
        """ActionResult.skipped_routes for a weight write that returned `split` (with `route`, if given):
        untouched_canary_routes under the name the CLI prints them with ("left as is: route ...")."""
        return self.untouched_canary_routes(split, route)

    # --- internals ------------------------------------------------------------

    def _version(self) -> str:
        return self.version or VERSIONS[0]

    def _split(self, obj: dict[str, Any]) -> TrafficSplit:
        split = parse_split(obj, self.roles, self.source)
        if not any(carries(r, "canary") for r in split.routes):
            where = f"VirtualService {self.namespace}/{self.virtual_service}"
            routes_now = "; ".join(
                f"{r.label}: " + ", ".join(f"{d.label} {d.weight}%" for d in r.destinations) for r in split.routes)
            raise NoCanaryRoute(f"{where} has no http route to the canary {self.roles.canary.label}: "
                                "check router.canary in the config, or whether someone removed the route "
                                "(a merge patch of spec.http, as in the guide's rollback, replaces every "
                                "route)", where, self.roles.canary.label, routes_now)
        return split

    def _fetch(self, check_rules: bool = True) -> dict[str, Any]:
        """GET the VirtualService (and, with the first read, check the DestinationRules)."""
        obj = self._get_virtual_service()
        if check_rules and not self._checked:
            self._check_destination_rules(obj)
            self._checked = True
        with self._lock:
            self._last = obj
        return obj

    def _get_virtual_service(self) -> dict[str, Any]:
        from tui.backends.istio.kube import NotFound

        order = [self.version] if self.version else []
        order += [v for v in VERSIONS if v not in order]
        for version in order:
            try:
                obj = self.kube.get(GROUP, version, self.namespace, VIRTUAL_SERVICES, self.virtual_service)
            except NotFound as exc:
                if exc.object_missing:
                    self.version = version
                    where = f"VirtualService {self.namespace}/{self.virtual_service}"
                    # No route to the canary either: after a good read, someone deleted it.
                    raise NoCanaryRoute(f"{where} not found ({GROUP}/{version}): check router.namespace and "
                                        "router.virtualService", where, self.roles.canary.label,
                                        "none: the VirtualService was deleted") from None
                if version == self.version:
                    self.version = None  # no longer served (an Istio upgrade): look again
                continue
            self.version = version
            return obj
        raise BackendError(f"the Kubernetes API serves neither {GROUP}/v1 nor v1beta1 "
                           "VirtualServices: is Istio installed?")

    def _check_destination_rules(self, vs: dict[str, Any]) -> None:
        """Every configured subset must be defined by a DestinationRule for its host.

        Looked up by name (router.destinationRule, in router.namespace) or else by host:
        in router.namespace and in the namespace of the host (from the config or, for a
        short name, from the matching destinations of the VirtualService), where Istio
        also looks.
        """
        from tui.backends.istio.kube import NotFound

        wanted = [(role, t) for role, t in (("stable", self.roles.stable), ("canary", self.roles.canary))
                  if t.subset]
        if not wanted:
            return
        version = self._version()
        rules: list[dict[str, Any]] = []
        if self.destination_rule:
            try:
                rules.append(self.kube.get(GROUP, version, self.namespace, DESTINATION_RULES,
                                           self.destination_rule))
            except NotFound:
                raise BackendError(f"DestinationRule {self.namespace}/{self.destination_rule} not found "
                                   "(router.destinationRule)") from None
        uncovered = [(role, t) for role, t in wanted if not _rules_for(rules, t.host)]
        looked = {self.namespace} if self.destination_rule else set()
        unsure = False
        if uncovered:
            hosts = {t.host for _, t in uncovered}
            for route in parse_split(vs, self.roles, self.source).routes:
                hosts.update(d.host for d in route.destinations
                             if d.role in {role for role, _ in uncovered})
            found_ns = {host_namespace(h) for h in hosts} - {None, self.namespace}
            namespaces = [self.namespace] + sorted(found_ns)  # type: ignore[type-var]
            for ns in namespaces:
                try:
                    rules.extend(self.kube.list(GROUP, version, ns, DESTINATION_RULES))
                    looked.add(ns)
                except BackendError as exc:
                    if ns == self.namespace:
                        raise
                    # The host's own namespace may be out of our RBAC: cannot tell, do not claim.
                    if str(exc).startswith("forbidden"):
                        unsure = True
                    else:
                        raise
        for role, target in wanted:
            found = _rules_for(rules, target.host)
            if not found:
                if unsure:
                    continue
                raise BackendError(
                    f"no DestinationRule for host {target.host} (looked in {', '.join(sorted(looked))}): "
                    f"router.{role}.subset {target.subset!r} is undefined and Istio would answer 503"
                )
            if not any(target.subset in _subset_names(r) for r in found):
                described = "; ".join(
                    f"{_name(r)} has {', '.join(_subset_names(r)) or 'no subsets'}" for r in found)
                raise BackendError(
                    f"DestinationRule for host {target.host} lacks subset {target.subset!r} "
                    f"(router.{role}.subset): {described}"
                )

    def _plan(self, obj: dict[str, Any], canary: int, change: WeightChange, route: str | None,
              force: bool) -> list[dict[str, Any]]:
        split = self._split(obj)
        if split.owner and not force:
            raise WriteRefused(
                f"VirtualService {self.namespace}/{self.virtual_service} is owned by {split.owner}: "
                "it would revert manual weights; use --force"
            )
        if route is not None:
            chosen = [r for r in split.routes if _is_route(r, route)]
            if not chosen:
                labels = ", ".join(r.label for r in split.routes) or "none"
                raise WriteRefused(f"no route {route!r} in VirtualService {self.namespace}/"
                                   f"{self.virtual_service} (routes: {labels})")
            undriven = [r for r in chosen if not r.driven]
            if undriven:
                raise WriteRefused(f"route {undriven[0].label} does not carry both stable and canary: "
                                   "the console does not drive it")
            targets = chosen[:1]
        else:
            targets = list(split.driven_routes)
            if not targets:
                raise WriteRefused(f"no route of VirtualService {self.namespace}/{self.virtual_service} "
                                   "carries both stable and canary: nothing to drive")
        return build_weight_patch(obj, targets, canary, change)


def _is_route(route: Route, label: str) -> bool:
    return route.label == label or (route.name is None and label in (str(route.index), f"#{route.index}"))


def _rules_for(rules: list[dict[str, Any]], host: str) -> list[dict[str, Any]]:
    return [r for r in rules if same_host(str((r.get("spec") or {}).get("host") or ""), host)]


def _subset_names(rule: dict[str, Any]) -> list[str]:
    subsets = (rule.get("spec") or {}).get("subsets")
    return [s["name"] for s in subsets if isinstance(s, dict) and isinstance(s.get("name"), str)] \
        if isinstance(subsets, list) else []


def _name(rule: dict[str, Any]) -> str:
    meta = rule.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
