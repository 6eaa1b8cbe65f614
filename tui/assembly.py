"""The composition root: builds the configured backends, the controller and its operations.

Heavy clients (kubernetes, prometheus-api-client) are imported only when configured.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from tui.backends.base import MetricSource, TrafficRouter
from tui.clock import Clock, RealClock, ScaledClock
from tui.config import Config
from tui.config.keys import key_hint
from tui.analysis.judge import SequentialJudge
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
        from tui.backends.demo.simulation import CANARY_STARTUP_S

        world = DemoWorld(
            clock,
            rps=config.demo.rps,
            seed=config.demo.seed,
            canary_weight=config.demo.initial_weight,
            fault=config.demo.fault,
            window_s=float(config.metrics["window"]),
            history_s=float(config.metrics.get("backfill") or 0),
            # The demo's canary pods take a while to start when scaled up from 0 (a rehearsal's
            # readiness is the real Deployment's).
            canary_startup_s=CANARY_STARTUP_S if config.router["kind"] == "demo" else 0.0,
        )

    if config.router["kind"] == "demo":
        from tui.backends.demo import DemoRouter

        router: TrafficRouter = DemoRouter(world.table)  # type: ignore[union-attr]
    else:
        from tui.backends.istio import IstioRouter  # imports the kubernetes client

        router = IstioRouter.from_config(config, context=context)
        if world is not None:
            from tui.backends.demo.follow import FollowedRouter

            router = FollowedRouter(router, world)  # a rehearsal: simulated traffic at the real weights

    if config.metrics["kind"] == "demo":
        from tui.backends.demo import DemoMetrics

        metrics: MetricSource = DemoMetrics(world)  # type: ignore[arg-type]
    else:
        from tui.backends.prometheus import PrometheusMetrics

        metrics = PrometheusMetrics.from_config(config)
    return Backends(router, metrics, clock, fault_switch=world.set_fault if world else None)


def judge_for(config: Config) -> SequentialJudge:
    j = config.judge
    return SequentialJudge(config.criteria, alpha=j.alpha, latency_alpha=j.latency_alpha, pass_alpha=j.pass_alpha,
                           rollback_key=key_hint(config.keys, "rollback"),
                           effect_requests=j.effect_requests)


def build_controller(config: Config, clock: Clock | None = None, context: str | None = None,
                     read_only: bool = False, who: str | None = None, judge: bool = True) -> RolloutController:
    backends = build_backends(config, clock=clock, context=context)
    controller = RolloutController(config, backends.router, backends.metrics, clock=backends.clock,
                                   evaluator=judge_for(config) if judge else None,
                                   read_only=read_only, who=who)
    attach_operations(controller)
    if backends.fault_switch is not None:
        controller.fault_switch = backends.fault_switch  # type: ignore[assignment]
        controller.fault = config.demo.fault
    return controller


def attach_operations(controller: RolloutController, environ: Mapping[str, str] | None = None) -> None:
    """The recorded history, the audit log and the webhook, as the config asks."""
    from tui.operations.audit import AuditLog, read_tail
    from tui.operations.notify import WebhookNotifier
    from tui.operations.record import RolloutRecord
    from tui.operations.secrets import secrets_from_env

    config = controller.config
    env = os.environ if environ is None else environ
    auth = config.metrics.get("auth") or {}
    secrets = secrets_from_env([config.notify.get("webhookEnv"), auth.get("bearerTokenEnv"),
                                auth.get("passwordEnv")], env)

    history_file = config.history.get("file")
    record = RolloutRecord(config.name)
    if history_file and Path(history_file).exists():
        try:
            record = RolloutRecord.load(history_file)  # a restarted console continues the history
        except (OSError, ValueError) as exc:
            controller.record("error", f"history {history_file} unreadable, starting anew: {exc}", ok=False)
    controller.rollout_record = record
    controller.subscribe(record.on_event)
    controller.subscribe_polls(record.on_state)
    if history_file:
        saver = _ThrottledSave(record, history_file,
                               on_failure=lambda text: controller.record("error", text, ok=False))
        controller.subscribe_polls(saver.maybe_save)
        controller.closers.append(saver.save)

    audit = AuditLog.from_config(config, who=controller.who, secrets=secrets)
    if audit is not None:
        try:
            audit.check_writable()
            before = read_tail(audit.path, 20)  # what happened before this console started
        except OSError as exc:
            # Said at once, in red; the console still opens (it may be needed on an incident).
            controller.record("error", f"{exc}: changes are not audited there (the event log, the report and "
                              "the router's change note still record them)", ok=False)
            before = []
        for entry in before:
            action, result = entry.get("action"), entry.get("result")
            if entry.get("from") is not None or entry.get("to") is not None:
                frm, to = ("?" if entry.get(k) is None else entry.get(k) for k in ("from", "to"))
                text = f"{action} {frm} -> {to}: {result}"
            else:  # not a weight change (a scale, automation): its own words, or why it was refused
                text = f"{action}: {entry.get('message') if result == 'ok' else result}"
            controller.record("audit", text, who=str(entry.get("who") or ""), reason=str(entry.get("reason") or ""))
        controller.subscribe(audit.on_event)

    if config.notify.get("webhookEnv"):
        notifier, message = WebhookNotifier.from_config(
            config, environ=env, on_failure=lambda text: controller.record("error", text, ok=False))
        controller.record("info", message)
        if notifier is not None:
            controller.subscribe(notifier.on_event)
            controller.closers.append(lambda: notifier.close(5.0))


class _ThrottledSave:
    """Persist the recorded history at most every few seconds, and on close. A failure is said
    once (not every 5 s) until a save works again; it never stops the polls or the exit."""

    def __init__(self, record, path: str, every_s: float = 5.0,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.record, self.path, self.every_s = record, path, every_s
        self.on_failure = on_failure or (lambda text: None)
        self._last = 0.0
        self._failing = False

    def maybe_save(self, state) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self.save()
            self._last = now

    def save(self) -> None:
        try:
            self.record.save(self.path)  # creates the directory, writes atomically
        except OSError as exc:
            if not self._failing:
                self._failing = True
                self.on_failure(f"history {self.path}: cannot write: {exc.strerror or exc} "
                                "(the report will lack what this console saw since)")
        else:
            self._failing = False
