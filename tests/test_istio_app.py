"""Pilot tests over the Istio router: the console's keys write exactly what the CLI verbs write.

One fake API server behind the console, another behind the CLI; after each key the two
VirtualServices hold the same weights and the PATCH bodies carry the same operations
(modulo the change record's timestamp and its action: a key `+` records "step" where the
CLI records "set-weight"). Also measured here: API requests per poll and key-to-PATCH latency.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import time
from pathlib import Path

import pytest

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    FLAGGER,
    G,
    NS,
    VS,
    age_lease,
    fk,
    guide,
    guide_vs,
    kubeconfig,
    lease_requests,
    load_guide,
    put_lease,
    replicas,
    stored_lease,
    stored_vs,
    vs_patches,
    vs_requests,
    weights,
    write_config,
)
from tui.app.app import CanaryApp
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.weight import WeightScreen
from tui.app.widgets.status import StatusHeader
from tui.assembly import build_controller
from tui.cli import main
from tui.clock import ManualClock
from tui.config import load
from tui.controller.driver import DriverGuard

try:  # `tests` may or may not be a package, depending on how pytest is run
    from tests.fakekube import FakeKube
except ModuleNotFoundError:
    from fakekube import FakeKube

HOLDER = "console@bridge pid 1"
LATENCY_GOAL_MS = 50.0
SAMPLES = 50


def console(config: Path, who: str | None = None):
    """A console as `canary-console --config` opens it: controller, first poll, driver lease."""
    controller = build_controller(load(config), clock=ManualClock(start=time.time()), who=who)
    guard = DriverGuard(controller, controller.router.driver_lease(), holder=HOLDER)
    guard.check()
    controller.poll_once()
    return CanaryApp(controller, poll=False), controller, guard


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def cli_fake():
    with FakeKube() as server:
        yield load_guide(server)


def _record(value):
    record = json.loads(value) if isinstance(value, str) else value
    record = {k: v for k, v in record.items() if k != "when"}
    if record.get("action") == "step":  # a key steps; the CLI verb sets
        record["action"] = "set-weight"
    return record


def normalized(ops: list[dict]) -> list[dict]:
    """The operations with the resourceVersion tested and the change record's timestamp left out."""
    out = []
    for op in ops:
        op = dict(op)
        if op["path"] == "/metadata/resourceVersion":
            op["value"] = "<resourceVersion>"
        elif op["path"] == "/metadata/annotations":
            op["value"] = {k: _record(v) for k, v in op["value"].items()}
        elif op["path"].startswith("/metadata/annotations/"):
            op["value"] = _record(op["value"])
        out.append(op)
    return out


# (keys, the equivalent CLI verb or None, the canary weight after)
KEYS = [
    (("plus",), ["set-weight", "10", "--reason", "key +"], 10),
    (("minus",), ["set-weight", "5", "--reason", "key -"], 5),
    (("w", "3", "5", "enter"), ["set-weight", "35", "--reason", "key w"], 35),
    (("p", "n"), None, 35),
    (("p", "y"), ["promote", "--reason", "key p (confirmed)"], 100),
    (("r", "n"), None, 100),
    (("r", "y"), ["rollback", "--reason", "key r (confirmed)"], 0),
]


async def test_keys_write_what_the_cli_verbs_write(guide, kubeconfig, cli_fake, tmp_path):
    app_config = write_config(tmp_path, kubeconfig, name="console.yaml")
    cli_config = write_config(tmp_path, cli_fake.write_kubeconfig(tmp_path / "cli-kubeconfig"), name="cli.yaml")
    app, controller, guard = console(app_config)
    assert guard.driving and not controller.read_only
    async with app.run_test(size=(140, 40)) as pilot:
        for keys, verb, canary in KEYS:
            guide.clear_requests()
            cli_fake.clear_requests()
            await pilot.press(*keys)
            await settle(pilot)
            assert not isinstance(app.screen, (ConfirmScreen, WeightScreen)), keys
            if verb is not None:
                # The app redirects print() while it runs: capture the verb's output here.
                out, err = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = main([*verb, "--config", str(cli_config)])
                assert code == 0, err.getvalue()
                assert out.getvalue().startswith("canary "), out.getvalue()
            app_vs, cli_vs = stored_vs(guide), stored_vs(cli_fake)
            assert weights(app_vs, "default") == weights(cli_vs, "default") == [100 - canary, canary], keys
            assert app_vs["spec"] == cli_vs["spec"], keys
            app_patches, cli_patches = vs_patches(guide), vs_patches(cli_fake)
            assert len(app_patches) == len(cli_patches) == (0 if verb is None else 1), keys
            for a, c in zip(app_patches, cli_patches):
                assert (a.content_type, a.query) == (c.content_type, c.query)
                assert normalized(a.body) == normalized(c.body), keys
            scale = [r.body for r in guide.requests_to("PATCH", "/scale")]
            assert scale == [r.body for r in cli_fake.requests_to("PATCH", "/scale")], keys
            assert replicas(guide) == replicas(cli_fake)
            assert f"{canary}%" in str(app.query_one("#traffic").render())
        assert replicas(guide) == 0
        assert app.state.split.canary_weight == 0
    guard.stop()
    controller.close()
    assert "holderIdentity" not in stored_lease(guide)["spec"]


async def test_the_header_shows_the_owner_and_writes_are_refused(guide, kubeconfig, tmp_path):
    vs = guide_vs()
    vs["metadata"]["ownerReferences"] = FLAGGER
    guide.put_object(vs)
    app, controller, guard = console(write_config(tmp_path, kubeconfig))
    async with app.run_test(size=(220, 40)) as pilot:
        await pilot.pause()
        header = str(app.query_one(StatusHeader).render())
        assert "owned by Flagger Canary x0tta6bl4/x0tta6bl4-app" in header
        guide.clear_requests()
        await pilot.press("plus")
        await settle(pilot)
        assert vs_patches(guide) == []
        assert weights(stored_vs(guide), "default") == [95, 5]
        refused = [e for e in controller.state().events if e.kind == "step" and not e.ok]
        assert refused and "owned by Flagger Canary" in refused[-1].message
    guard.stop()
    controller.close()


async def test_a_console_without_the_lease_is_read_only(guide, kubeconfig, tmp_path):
    put_lease(guide, "alice@laptop pid 7", time.time())
    app, controller, guard = console(write_config(tmp_path, kubeconfig))
    assert controller.read_only
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        banner = str(app.query_one("#banner").render())
        assert "READ-ONLY (alice@laptop pid 7 drives this rollout)" in banner
        guide.clear_requests()
        for key in ("plus", "minus", "w", "p", "r"):
            await pilot.press(key)
            await settle(pilot)
            assert not isinstance(app.screen, (ConfirmScreen, WeightScreen)), key
        assert vs_patches(guide) == []
        # Alice's console died: once her lease expires this one drives.
        age_lease(guide, 16)
        assert guard.check().ours and not controller.read_only
        await pilot.press("plus")
        await settle(pilot)
        assert weights(stored_vs(guide), "default") == [90, 10]
    guard.stop()
    controller.close()


# --- measured ------------------------------------------------------------------------------


def test_measure_api_requests_per_poll(guide, kubeconfig, tmp_path):
    config = write_config(tmp_path, kubeconfig)
    controller = build_controller(load(config), clock=ManualClock(start=time.time()))
    lease = controller.router.driver_lease()
    guard = DriverGuard(controller, lease, holder=HOLDER, duration_s=15)
    guard.check()
    controller.poll_once()  # the first poll also checks the DestinationRules, once
    polls = 20
    guide.clear_requests()
    for _ in range(polls):
        controller.poll_once()
    per_poll = len(guide.requests) / polls
    vs_gets = len([r for r in vs_requests(guide) if r.method == "GET"]) / polls
    assert per_poll == vs_gets == 1.0
    renewals = 5
    guide.clear_requests()
    for _ in range(renewals):
        guard.check()
    per_renewal = len(guide.requests) / renewals
    assert [r.method for r in lease_requests(guide)] == ["GET", "PATCH"] * renewals
    interval = max(1.0, guard.duration_s / 3)
    print(f"\nAPI requests per poll: {per_poll:.2f} (VirtualService GETs per poll: {vs_gets:.2f}); "
          f"lease renewal, on its own timer: {per_renewal:.0f} requests (GET + PATCH) every {interval:.0f} s "
          f"(leaseDurationSeconds {guard.duration_s})")
    guard.stop()
    controller.close()


async def test_measure_key_to_patch_latency(guide, kubeconfig, tmp_path):
    """From just before pilot.press("plus") to the PATCH's arrival at the fake (same monotonic clock)."""
    app, controller, guard = console(write_config(tmp_path, kubeconfig))

    def reset(obj):  # another writer puts the canary back to 5% between samples
        obj["spec"]["http"][1]["route"][0]["weight"] = 95
        obj["spec"]["http"][1]["route"][1]["weight"] = 5

    samples, requests_per_key = [], []
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("plus")  # warm: the first key loads the dialog-free path, the pool is open
        await settle(pilot)
        for _ in range(SAMPLES):
            guide.mutate(G, NS, "virtualservices", VS, reset)
            guide.clear_requests()
            start = time.monotonic()
            await pilot.press("plus")
            await pilot.app.workers.wait_for_complete()
            (patch,) = vs_patches(guide)
            assert patch.status == 200
            samples.append((patch.time - start) * 1000)
            requests_per_key.append([r.method for r in guide.requests])
    guard.stop()
    controller.close()
    median = statistics.median(samples)
    print(f"\nkey '+' to PATCH at the API server: median {median:.1f} ms, p90 "
          f"{statistics.quantiles(samples, n=10)[-1]:.1f} ms, max {max(samples):.1f} ms over {SAMPLES} presses "
          f"(requests per key: {' '.join(requests_per_key[0])})")
    assert median <= LATENCY_GOAL_MS, f"median key-to-PATCH {median:.1f} ms > {LATENCY_GOAL_MS} ms"


def test_every_console_sees_a_change_it_did_not_make(guide, kubeconfig, tmp_path):
    """Alice's console drives, Bob's watches; then someone edits the VirtualService with kubectl."""
    config = write_config(tmp_path, kubeconfig)
    _, alice, alice_guard = console(config, who="alice@laptop")
    bob = build_controller(load(config), clock=ManualClock(start=time.time()), who="bob@bridge")
    bob_guard = DriverGuard(bob, bob.router.driver_lease(), holder="bob@bridge pid 2")
    bob_guard.check()
    bob.poll_once()
    assert not alice.read_only and bob.read_only
    assert alice.step(+1, reason="first step looks clean").ok
    bob.poll_once()
    (seen,) = [e for e in bob.state().events if e.kind == "outside"]
    assert seen.message == "weights changed outside this console: canary 5% -> 10% by alice@laptop (step)"
    assert (seen.who, seen.reason) == ("alice@laptop", "first step looks clean")
    assert bob.state().split.last_change.who == "alice@laptop"
    alice.poll_once()
    assert [e for e in alice.state().events if e.kind == "outside"] == []  # her own change
    # kubectl edit: weights only, the console's note left as it was.
    vs = stored_vs(guide)
    route = next(r for r in vs["spec"]["http"] if r.get("name") == "default")
    route["route"][0]["weight"], route["route"][1]["weight"] = 50, 50
    guide.put_object(vs)
    alice.poll_once()
    (edited,) = [e for e in alice.state().events if e.kind == "outside"]
    assert edited.message == ("weights changed outside this console: canary 10% -> 50% "
                              "with no change note (kubectl, GitOps or another tool?)")
    for guard, controller in ((alice_guard, alice), (bob_guard, bob)):
        guard.stop()
        controller.close()


def test_a_change_to_one_route_names_that_route(guide, kubeconfig, tmp_path):
    guide.put_object(guide_vs(multiregion=True))
    config = write_config(tmp_path, kubeconfig)
    _, alice, alice_guard = console(config, who="alice@laptop")
    bob = build_controller(load(config), clock=ManualClock(start=time.time()), who="bob@bridge")
    bob.poll_once()
    assert alice.set_weight(50, reason="us-east first", route="us-east").ok
    bob.poll_once()
    (seen,) = [e for e in bob.state().events if e.kind == "outside"]
    assert seen.message == ("weights changed outside this console: route us-east: canary 10% -> 50% "
                            "by alice@laptop (set-weight)")
    assert (seen.from_canary, seen.to_canary, seen.reason) == (10, 50, "us-east first")
    alice_guard.stop()
    alice.close()
    bob.close()
