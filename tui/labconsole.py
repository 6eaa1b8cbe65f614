"""`canary-console lab`: the console on the real local lab.

Two real instrumented services, a load generator that splits requests by the weights
the console's router holds (so a key press visibly moves traffic), and a real
Prometheus scraping them every second; the console reads its metrics from that
Prometheus like from any other.
"""

from __future__ import annotations

import sys

from tui import config as config_mod
from tui.backends.demo.router import DemoRouter
from tui.backends.demo.routes import RouteTable
from tui.controller import RolloutController


def lab_config(prometheus_url: str) -> config_mod.Config:
    return config_mod.from_mapping({
        "name": "x0tta6bl4-app (lab)",
        "router": {"kind": "demo"},
        "metrics": {"kind": "prometheus", "url": prometheus_url, "preset": "http", "window": "30s",
                    "interval": "2s", "backfill": "2m"},
    })


def build_lab_controller(lab, table: RouteTable, read_only: bool = False) -> RolloutController:
    from tui.assembly import judge_for
    from tui.backends.prometheus import PrometheusMetrics

    config = lab_config(lab.url)
    # The same sequential judge as the console on a real rollout: the lab is where people try it.
    controller = RolloutController(config, DemoRouter(table, description="lab router (in memory)", simulated=False),
                                   PrometheusMetrics.from_config(config), evaluator=judge_for(config),
                                   read_only=read_only)
    controller.fault_switch = lab.set_fault
    controller.fault = "none"
    return controller


def start_lab(read_only: bool = False):
    """Start the lab and a controller on it; (lab, controller), or None with the reason printed."""
    from tui.lab import Lab, PrometheusError

    table = RouteTable(canary_weight=5, source="lab")
    lab = Lab(weights=table.weights)
    try:
        print("starting the lab: two services, load, and Prometheus (first scrape in ~5 s)…", file=sys.stderr)
        lab.start(wait_scraped=True, timeout=30)
    except PrometheusError as exc:
        print(f"canary-console: lab: {exc}", file=sys.stderr)
        lab.stop()
        return None
    return lab, build_lab_controller(lab, table, read_only=read_only)
