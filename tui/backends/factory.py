"""Builds the configured router and metric source. Heavy clients are imported only when configured."""

from __future__ import annotations

from dataclasses import dataclass

from tui.backends.base import MetricSource, TrafficRouter
from tui.clock import Clock, RealClock, ScaledClock
from tui.config import Config
from tui.controller import RolloutController


@dataclass
class Backends:
    router: TrafficRouter
    metrics: MetricSource
    clock: Clock
    fault_switch: object | None = None  # the demo world's set_fault, when there is one


def build_backends(config: Config, clock: Clock | None = None, context: str | None = None) -> Backends:
    world = None
    needs_world = config.router["kind"] == "demo" or config.metrics["kind"] == "demo"
    if clock is None:
        clock = ScaledClock(config.demo.speed) if needs_world and config.demo.speed != 1 else RealClock()
    if needs_world:
        from tui.backends.demo import DemoWorld

        world = DemoWorld(
            clock,
            rps=config.demo.rps,
            seed=config.demo.seed,
            canary_weight=config.demo.initial_weight,
            fault=config.demo.fault,
            window_s=float(config.metrics["window"]),
            history_s=float(config.metrics.get("backfill") or 0),
        )

    if config.router["kind"] == "demo":
        from tui.backends.demo import DemoRouter

        router: TrafficRouter = DemoRouter(world.table)  # type: ignore[union-attr]
    else:
        from tui.backends.istio import IstioRouter  # imports the kubernetes client

        router = IstioRouter.from_config(config, context=context)

    if config.metrics["kind"] == "demo":
        from tui.backends.demo import DemoMetrics

        metrics: MetricSource = DemoMetrics(world)  # type: ignore[arg-type]
    else:
        from tui.backends.prometheus import PrometheusMetrics

        metrics = PrometheusMetrics.from_config(config)
    return Backends(router, metrics, clock, fault_switch=world.set_fault if world else None)


def build_controller(config: Config, clock: Clock | None = None, context: str | None = None,
                     read_only: bool = False, who: str | None = None) -> RolloutController:
    backends = build_backends(config, clock=clock, context=context)
    controller = RolloutController(config, backends.router, backends.metrics, clock=backends.clock,
                                   read_only=read_only, who=who)
    if backends.fault_switch is not None:
        controller.fault_switch = backends.fault_switch  # type: ignore[assignment]
        controller.fault = config.demo.fault
    return controller
