"""The demo is a real backend: traffic honours the weights, faults show, the clock can run fast."""

import pytest

from tui.backends.demo import DemoMetrics, DemoRouter, DemoWorld
from tui.backends.base import ConflictError, WriteRefused
from tui.clock import ManualClock, ScaledClock
from tui.model import WeightChange
from datetime import datetime, timezone


def _world(**kw):
    clock = ManualClock()
    return DemoWorld(clock, **kw), clock


def _change(to):
    return WeightChange("t@h", datetime.now(timezone.utc), None, to, "test")


def _run(world, clock, seconds):
    clock.advance(seconds)
    return world.take_samples()


@pytest.mark.parametrize("weight", [0, 5, 30, 50])
def test_traffic_split_follows_the_weights(weight):
    world, clock = _world(canary_weight=weight, window_s=600)
    stable, canary, span = _run(world, clock, 600)
    assert span == 600
    total = stable.requests + canary.requests
    assert total == pytest.approx(100 * 600, rel=0.03)
    assert canary.requests / total == pytest.approx(weight / 100, abs=0.01)


def test_stable_profile_matches_the_issue():
    world, clock = _world(window_s=600)
    stable, _, _ = _run(world, clock, 600)
    assert stable.error_rate == pytest.approx(0.005, abs=0.002)
    assert stable.p95_ms == pytest.approx(300, rel=0.08)
    assert stable.p50_ms < stable.p95_ms < stable.p99_ms


def test_same_seed_same_traffic_other_seed_other_traffic():
    a, ca = _world(seed=7)
    b, cb = _world(seed=7)
    c, cc = _world(seed=8)
    ra, rb, rc = _run(a, ca, 120), _run(b, cb, 120), _run(c, cc, 120)
    assert ra == rb
    assert ra != rc


def test_error_fault_is_ten_times_stable():
    world, clock = _world(canary_weight=50, fault="errors", window_s=600)
    stable, canary, _ = _run(world, clock, 600)
    assert canary.error_rate == pytest.approx(0.05, rel=0.15)
    assert stable.error_rate < 0.01


def test_latency_fault_is_fifty_percent_slower():
    world, clock = _world(canary_weight=50, fault="latency", window_s=600)
    stable, canary, _ = _run(world, clock, 600)
    assert canary.p95_ms / stable.p95_ms == pytest.approx(1.5, rel=0.08)
    assert canary.cpu_cores > stable.cpu_cores


def test_fault_switch_applies_from_now_on():
    world, clock = _world(canary_weight=50, window_s=60)
    _run(world, clock, 60)
    world.set_fault("errors")
    _, canary, _ = _run(world, clock, 60)
    assert canary.error_rate > 0.03


def test_canary_scaled_to_zero_fails_whatever_reaches_it():
    world, clock = _world(canary_weight=20, window_s=60)
    world.table.set_canary_replicas(0)
    _, canary, _ = _run(world, clock, 60)
    assert canary.error_rate == 1.0
    assert canary.cpu_cores is None


def test_a_canary_scaled_back_up_serves_once_its_pods_have_started():
    world, clock = _world(canary_weight=20, window_s=20, canary_startup_s=20)
    router = DemoRouter(world.table)
    world.table.set_canary_replicas(0)
    _run(world, clock, 10)
    world.table.set_canary_replicas(2)
    assert router.canary_readiness() == (2, 0)
    _, starting, _ = _run(world, clock, 20)
    assert starting.requests > 50 and starting.errors == starting.requests  # no healthy upstream yet
    assert router.canary_readiness() == (2, 2)
    _, started, _ = _run(world, clock, 20)
    assert started.requests > 50 and started.error_rate < 0.05


def test_counts_are_since_the_previous_sample_and_histogram_is_consistent():
    world, clock = _world(window_s=60)
    _, _, span1 = _run(world, clock, 10)
    stable, canary, span2 = _run(world, clock, 4)
    assert (span1, span2) == (10, 4)
    assert stable.histogram[-1][1] == stable.requests
    counts = [c for _, c in stable.histogram]
    assert counts == sorted(counts)


def test_scaled_clock_runs_faster_than_real_time():
    import time

    clock = ScaledClock(speed=1000)
    t0 = clock.time()
    time.sleep(0.05)
    assert clock.time() - t0 >= 40


def test_router_refuses_bad_weights_and_stale_versions():
    world, _ = _world()
    router = DemoRouter(world.table)
    with pytest.raises(WriteRefused):
        router.set_canary_weight(101, _change(101))
    with pytest.raises(WriteRefused):
        router.set_canary_weight(10, _change(10), route="nope")
    split = router.set_canary_weight(10, _change(10))
    assert split.canary_weight == 10
    # the header route is not driven and keeps its weights
    assert split.routes[0].canary_weight == 100
    with pytest.raises(ConflictError):
        world.table.write_routes(split.routes, expected_version="1")


def test_backfill_replays_the_past():
    clock = ManualClock()
    world = DemoWorld(clock, history_s=600)
    metrics = DemoMetrics(world)
    snaps = metrics.backfill(600, 2)
    assert len(snaps) == 300
    assert snaps[0].at < snaps[-1].at
    assert all(s.stable.requests_per_second > 0 for s in snaps[30:])


def test_down_fault_is_a_crashed_canary_whose_series_vanish_and_it_comes_back():
    world, clock = _world(canary_weight=20, window_s=60)
    _run(world, clock, 60)
    world.set_fault("down")
    stable, canary, _ = _run(world, clock, 30)
    assert canary == type(canary)()  # no series at all: requests, rates, percentiles, cpu all missing
    assert stable.requests == pytest.approx(80 * 30, rel=0.1)  # stable serves its own share as before
    world.set_fault("none")
    _, canary, _ = _run(world, clock, 30)
    assert canary.requests == pytest.approx(20 * 30, rel=0.25)
    # The window holds only what it served since: the down seconds counted nothing.
    assert canary.requests_per_second == pytest.approx(10, rel=0.25)
