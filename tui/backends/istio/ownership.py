"""Is the VirtualService managed by another controller that would undo manual weights?

Flagger and Argo Rollouts rewrite the weights on every reconcile; a GitOps tool
(Argo CD, Flux) reapplies the weights from Git. Any of them makes a manual change
short-lived at best, so the router refuses writes unless forced. Plain Helm
(`app.kubernetes.io/managed-by: Helm`) installs once and does not reconcile: not an owner.
"""

from __future__ import annotations

from typing import Any

# managedFields managers that reconcile continuously, and how to name them.
GITOPS_MANAGERS = {
    "argocd-controller": "Argo CD",
    "argocd-application-controller": "Argo CD",
    "kustomize-controller": "Flux kustomize-controller",
    "helm-controller": "Flux helm-controller",
}

ARGO_ROLLOUTS_PREFIX = "rollouts.argoproj.io/"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def detect_owner(obj: dict[str, Any]) -> str | None:
    """A short human text naming the managing controller, or None."""
    meta = _mapping(obj.get("metadata") if isinstance(obj, dict) else None)
    namespace = meta.get("namespace") or ""
    labels = _mapping(meta.get("labels"))
    annotations = _mapping(meta.get("annotations"))

    def qualified(name: Any) -> str:
        return f"{namespace}/{name}" if namespace else str(name)

    # 1. Progressive-delivery controllers through ownerReferences.
    refs = meta.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        api_version, kind = str(ref.get("apiVersion") or ""), ref.get("kind")
        if kind == "Canary" and api_version.startswith("flagger.app/"):
            return f"Flagger Canary {qualified(ref.get('name'))}"
        if kind == "Rollout" and api_version.startswith("argoproj.io/"):
            return f"Argo Rollout {qualified(ref.get('name'))}"

    # 2. Argo Rollouts marks the VirtualServices a Rollout references.
    for source in (annotations, labels):
        managed = source.get(ARGO_ROLLOUTS_PREFIX + "managed-by-rollouts")
        if managed:
            return f"Argo Rollout {qualified(managed)}"
    for source, what in ((annotations, "annotation"), (labels, "label")):
        for key in sorted(source):
            if isinstance(key, str) and key.startswith(ARGO_ROLLOUTS_PREFIX):
                return f"Argo Rollouts ({what} {key})"

    # 3. GitOps through labels or annotations.
    instance = labels.get("argocd.argoproj.io/instance")
    if instance:
        return f"Argo CD Application {instance}"
    tracking = annotations.get("argocd.argoproj.io/tracking-id")
    if isinstance(tracking, str) and tracking:
        return f"Argo CD Application {tracking.split(':', 1)[0]}"
    for prefix, what in (("kustomize.toolkit.fluxcd.io", "Flux Kustomization"),
                         ("helm.toolkit.fluxcd.io", "Flux HelmRelease")):
        name = labels.get(f"{prefix}/name")
        if name:
            ns = labels.get(f"{prefix}/namespace")
            return f"{what} {ns}/{name}" if ns else f"{what} {name}"

    # 4. GitOps through the field managers that last applied the object.
    fields = meta.get("managedFields")
    for entry in fields if isinstance(fields, list) else []:
        manager = entry.get("manager") if isinstance(entry, dict) else None
        if manager in GITOPS_MANAGERS:
            return f"{GITOPS_MANAGERS[manager]} (field manager {manager})"
    return None
