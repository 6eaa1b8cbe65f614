"""Rollout configuration: one YAML file per rollout, validated against the schema below."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tui.config.keys import KEY_DEFAULTS, effective_keys
from tui.model import FAULTS
from tui.config.schema import (
    REQUIRED,
    Boolean,
    Choice,
    Duration,
    ListOf,
    MapOf,
    Mapping,
    Number,
    Optional,
    SchemaError,
    Text,
)


class ConfigError(Exception):
    """One clear line: the file, the key path, what was expected."""


def _steps_ascending(items: list[int], path: str) -> None:
    if any(b <= a for a, b in zip(items, items[1:])):
        raise SchemaError(path, f"expected strictly increasing weights, got {items}")
    if items and items[-1] == 100:
        # Automation walked a step of 100 as any other: a promotion with `promote: manual`.
        raise SchemaError(path, f"100% is the promotion, which rollout.promote decides (auto, or a person "
                                f"with manual): end the steps below 100, got {items}")


_DESTINATION = Mapping({"host": (Text(), REQUIRED), "subset": (Optional(Text()), None)})

_BUSINESS = Mapping(
    {
        "name": (Text(), REQUIRED),
        "query": (Text(), REQUIRED),
        "minRatioToStable": (Number(minimum=0), REQUIRED),
    }
)


@dataclass(frozen=True)
class JudgeSettings:
    """The statistical judge's error levels (tui.analysis.judge explains each)."""

    alpha: float = 0.01  # a stretch of evidence on a canary within bound reaches FAIL with at most this chance
    latency_alpha: float | None = None  # the same for the latency tests (None: alpha)
    effect_requests: float = 500.0  # requests in which the alternative the FAIL test looks for reaches FAIL
    pass_alpha: float = 0.05  # PASS: the rate is below the bound with confidence 1 - pass_alpha


SCHEMA = Mapping(
    {
        "name": (Text(), REQUIRED),
        "router": (
            Mapping(
                {
                    "kind": (Choice(options=("demo", "istio")), "demo"),
                    "namespace": (Optional(Text()), None),
                    "virtualService": (Optional(Text()), None),
                    "destinationRule": (Optional(Text()), None),
                    "stable": (Optional(_DESTINATION), None),
                    "canary": (Optional(_DESTINATION), None),
                    "route": (Optional(Text()), None),
                    "timeout": (Duration(), "5s"),
                }
            ),
            {},
        ),
        "metrics": (
            Mapping(
                {
                    # No default with a real router: simulated metrics must be asked for by name.
                    "kind": (Optional(Choice(options=("demo", "prometheus"))), None),
                    "interval": (Duration(minimum_s=0.1), "2s"),
                    "url": (Optional(Text()), None),
                    "preset": (Choice(options=("http", "istio")), "http"),
                    "selector": (Text(allow_empty=True), ""),
                    "versionLabel": (Text(), "version"),
                    # the version label's values for each side (default: the router's subsets, else stable/canary)
                    "versions": (Optional(Mapping({"stable": (Text(), REQUIRED), "canary": (Text(), REQUIRED)})), None),
                    "window": (Duration(minimum_s=1), "1m"),
                    "timeout": (Optional(Duration()), None),
                    "retries": (Number(minimum=0, maximum=5, integer=True), 1),
                    "backfill": (Duration(), "10m"),
                    "auth": (
                        Optional(
                            Mapping(
                                {
                                    "bearerTokenEnv": (Optional(Text()), None),
                                    "usernameEnv": (Optional(Text()), None),
                                    "passwordEnv": (Optional(Text()), None),
                                    "caFile": (Optional(Text()), None),
                                    "insecureSkipVerify": (Boolean(), False),
                                }
                            )
                        ),
                        None,
                    ),
                    "queries": (MapOf(value=Text()), {}),
                    "business": (ListOf(item=_BUSINESS), []),
                }
            ),
            {},
        ),
        "criteria": (
            Mapping(
                {
                    "p95LatencyMs": (
                        Mapping(
                            {
                                "max": (Number(minimum=0, exclusive_min=True), 500),
                                "maxRatioToStable": (Optional(Number(minimum=1)), 1.10),
                            }
                        ),
                        {},
                    ),
                    "errorRate": (
                        Mapping(
                            {
                                "max": (Number(minimum=0, maximum=1, exclusive_min=True), 0.01),
                                "maxDeltaToStable": (Optional(Number(minimum=0, maximum=1)), 0.005),
                            }
                        ),
                        {},
                    ),
                    "cpu": (Mapping({"maxRatioToStable": (Optional(Number(minimum=1)), 1.2)}), {}),
                    "memory": (Mapping({"maxRatioToStable": (Optional(Number(minimum=1)), 1.2)}), {}),
                }
            ),
            {},
        ),
        "rollout": (
            Mapping(
                {
                    "steps": (
                        ListOf(
                            item=Number(minimum=1, maximum=100, integer=True),
                            min_items=1,
                            check_all=_steps_ascending,
                        ),
                        [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
                    ),
                    "stepWeight": (Number(minimum=1, maximum=100, integer=True), 5),
                    "initialWeight": (Optional(Number(minimum=0, maximum=100, integer=True)), None),
                    "bake": (Duration(), "5m"),
                    "promote": (Choice(options=("auto", "manual")), "manual"),
                    "autoRollback": (Boolean(), True),
                    "noDataTimeout": (Duration(), "2m"),
                    "rollbackOnNoData": (Boolean(), False),
                }
            ),
            {},
        ),
        "judge": (
            Mapping(
                {
                    # the point on the speed / false-rollback frontier (README "Detection benchmark")
                    "alpha": (Number(minimum=0, maximum=0.5, exclusive_min=True), JudgeSettings.alpha),
                    "latencyAlpha": (Optional(Number(minimum=0, maximum=0.5, exclusive_min=True)),
                                     JudgeSettings.latency_alpha),
                    "effectRequests": (Number(minimum=10), JudgeSettings.effect_requests),
                    "passAlpha": (Number(minimum=0, maximum=0.5, exclusive_min=True), JudgeSettings.pass_alpha),
                }
            ),
            {},
        ),
        "demo": (
            Mapping(
                {
                    "rps": (Number(minimum=0, maximum=100000, exclusive_min=True), 100),
                    "seed": (Number(minimum=0, integer=True), 1),
                    "fault": (Choice(options=FAULTS), "none"),
                    "speed": (Number(minimum=0, maximum=100000, exclusive_min=True), 1),
                    "initialWeight": (Number(minimum=0, maximum=100, integer=True), 5),
                }
            ),
            {},
        ),
        "canary": (
            Mapping(
                {
                    "namespace": (Optional(Text()), None),
                    "deployment": (Optional(Text()), None),
                }
            ),
            {},
        ),
        "kubernetes": (
            Mapping(
                {
                    "context": (Optional(Text()), None),
                    "kubeconfig": (Optional(Text()), None),
                }
            ),
            {},
        ),
        # action -> "key" or "key1,key2" (tui.config.keys): rebind what clashes with your terminal or habits
        "keys": (Mapping({action: (Optional(Text()), None) for action in KEY_DEFAULTS}), {}),
        "audit": (Mapping({"file": (Optional(Text()), None)}), {}),
        "history": (Mapping({"file": (Optional(Text()), None)}), {}),
        "notify": (
            Mapping(
                {
                    "webhookEnv": (Optional(Text()), None),
                    "on": (
                        ListOf(item=Choice(options=("rollback", "promote", "step", "check-failed"))),
                        ["rollback", "promote", "step", "check-failed"],
                    ),
                }
            ),
            {},
        ),
    }
)


@dataclass(frozen=True)
class Criteria:
    p95_max_ms: float = 500.0
    p95_max_ratio: float | None = 1.10
    error_max: float = 0.01
    error_max_delta: float | None = 0.005
    cpu_max_ratio: float | None = 1.2
    memory_max_ratio: float | None = 1.2
    business: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RolloutPolicy:
    steps: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    step_weight: int = 5
    bake_s: float = 300.0
    promote: str = "manual"
    auto_rollback: bool = True
    no_data_timeout_s: float = 120.0
    rollback_on_no_data: bool = False


@dataclass(frozen=True)
class DemoSettings:
    rps: float = 100.0
    seed: int = 1
    fault: str = "none"
    speed: float = 1.0
    initial_weight: int = 5


@dataclass(frozen=True)
class Config:
    name: str
    router: dict[str, Any]
    metrics: dict[str, Any]
    criteria: Criteria
    rollout: RolloutPolicy
    demo: DemoSettings
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    canary: dict[str, Any] = field(default_factory=dict)
    kubernetes: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    notify: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=lambda: effective_keys({}))  # action -> its keys
    source: str = "<built-in demo>"

    @property
    def interval_s(self) -> float:
        return float(self.metrics["interval"])


def from_mapping(raw: Any, source: str = "<built-in demo>") -> Config:
    """Validate a parsed YAML document; SchemaError names the key path."""
    doc = SCHEMA.check(raw, "")
    c = doc["criteria"]
    r = doc["rollout"]
    d = doc["demo"]
    m = doc["metrics"]
    if m["kind"] == "prometheus" and not m["url"]:
        raise SchemaError("metrics.url", "missing; expected the Prometheus URL for metrics.kind prometheus")
    if doc["router"]["kind"] == "istio":
        for key in ("namespace", "virtualService", "stable", "canary"):
            if not doc["router"][key]:
                raise SchemaError(f"router.{key}", "missing; required for router.kind istio")
    if m["kind"] is None:
        if doc["router"]["kind"] != "demo":
            # A real VirtualService judged on simulated traffic would promote or roll back on
            # numbers no user produced: only when the config says so (a rehearsal).
            raise SchemaError("metrics.kind", f"missing; required with router.kind {doc['router']['kind']}: "
                              "prometheus, or demo to rehearse on simulated metrics")
        m["kind"] = "demo"
    criteria = Criteria(
        p95_max_ms=float(c["p95LatencyMs"]["max"]),
        p95_max_ratio=c["p95LatencyMs"]["maxRatioToStable"],
        error_max=float(c["errorRate"]["max"]),
        error_max_delta=c["errorRate"]["maxDeltaToStable"],
        cpu_max_ratio=c["cpu"]["maxRatioToStable"],
        memory_max_ratio=c["memory"]["maxRatioToStable"],
        business=tuple(m["business"]),
    )
    policy = RolloutPolicy(
        steps=tuple(r["steps"]),
        step_weight=r["stepWeight"],
        bake_s=r["bake"],
        promote=r["promote"],
        auto_rollback=r["autoRollback"],
        no_data_timeout_s=r["noDataTimeout"],
        rollback_on_no_data=r["rollbackOnNoData"],
    )
    j = doc["judge"]
    judge = JudgeSettings(alpha=float(j["alpha"]), effect_requests=float(j["effectRequests"]),
                          pass_alpha=float(j["passAlpha"]),
                          latency_alpha=None if j["latencyAlpha"] is None else float(j["latencyAlpha"]))
    demo = DemoSettings(
        rps=float(d["rps"]),
        seed=d["seed"],
        fault=d["fault"],
        speed=float(d["speed"]),
        initial_weight=r["initialWeight"] if r["initialWeight"] is not None else d["initialWeight"],
    )
    keys = effective_keys(doc["keys"])
    return Config(
        name=doc["name"],
        router=doc["router"],
        metrics=m,
        criteria=criteria,
        rollout=policy,
        demo=demo,
        judge=judge,
        canary=doc["canary"],
        kubernetes=doc["kubernetes"],
        audit=doc["audit"],
        history=doc["history"],
        notify=doc["notify"],
        keys=keys,
        source=source,
    )


def load(path: str | Path) -> Config:
    """Read and validate a config file; every failure is one ConfigError line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML: {where}{problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return from_mapping(raw, source=str(p))
    except SchemaError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def demo_config(**demo_overrides: Any) -> Config:
    """The built-in demo rollout, the same as configs/demo.yaml (no file needed)."""
    raw: dict[str, Any] = {
        "name": "x0tta6bl4-app",
        "router": {"kind": "demo"},
        "metrics": {"kind": "demo", "interval": "2s"},
        "demo": dict(demo_overrides),
    }
    return from_mapping(raw)
