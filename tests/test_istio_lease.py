"""The driver lease (coordination.k8s.io/v1) and the progression annotation, against the fake API server."""

from __future__ import annotations

import json
import time

import pytest

from istio_fixtures import (  # noqa: F401 - fixtures are used by name
    CallSpy,
    CONFIG,
    COORD,
    G,
    LAST_CHANGE,
    LEASE,
    LEASES_PATH,
    MICROTIME_RE,
    NS,
    PROGRESSION,
    VS,
    VS_PATH,
    NoMetrics,
    ScriptedEvaluator,
    age_lease,
    annotation,
    change,
    fast_policy,
    fk,
    guide,
    guide_vs,
    kubeconfig,
    lease_requests,
    make_router,
    put_lease,
    run_polls,
    stored_lease,
    stored_vs,
    vs_patches,
    vs_requests,
    weights,
    write_config,
)
from tui.backends.base import BackendError, ConflictError
from tui.backends.istio.lease import KubeLease, lease_name, parse_time
from tui.clock import ManualClock
from tui.config import load
from tui.controller import RolloutController
from tui.backends.base import LeaseStatus
from tui.controller.driver import DriverGuard
from tui.controller.progression import Progress

ALICE = "alice@laptop pid 101"
BOB = "bob@desk pid 202"


def controller_for(router, who="sre@bridge"):
    return RolloutController(load(CONFIG), router, NoMetrics(), who=who)


# --- the name -----------------------------------------------------------------------------


def test_lease_name_is_a_dns_label(guide, make_router):
    lease = make_router().driver_lease()
    assert (lease.namespace, lease.name) == (NS, LEASE)
    assert lease.describe() == f"Lease {NS}/{LEASE}"
    assert lease_name("x0tta6bl4-app") == LEASE
    assert lease_name("App.V2") == "canary-console-app-v2-" + lease_name("App.V2")[-8:]
    assert lease_name("app.v2") != lease_name("app-v2")  # cleaned names keep apart
    long = lease_name("a" * 250)
    assert len(long) <= 63 and long[-1].isalnum() and long.startswith("canary-console-aaa")
    assert not guide.requests_to(path_contains="/leases")  # building the lease sends nothing


# --- acquire, renew, respect, take over, release -----------------------------------------


def test_the_lease_is_created_with_our_holder(guide, make_router):
    before = time.time()
    status = make_router().driver_lease().try_acquire(ALICE, 15)
    assert status.ours and status.holder == ALICE
    assert before + 15 <= status.expires_at <= time.time() + 15
    lease = stored_lease(guide)
    spec = lease["spec"]
    assert spec["holderIdentity"] == ALICE and spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert MICROTIME_RE.match(spec["acquireTime"]) and spec["renewTime"] == spec["acquireTime"]
    assert lease["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "canary-console"}
    reqs = lease_requests(guide)
    assert [(r.method, r.path, r.status) for r in reqs] == [
        ("GET", f"{LEASES_PATH}/{LEASE}", 404), ("POST", LEASES_PATH, 201)]
    assert reqs[1].query.get("fieldManager") == ["canary-console"]


def test_our_lease_is_renewed(guide, make_router):
    lease = make_router().driver_lease()
    lease.try_acquire(ALICE, 15)
    first = stored_lease(guide)
    time.sleep(0.002)
    guide.clear_requests()
    status = lease.try_acquire(ALICE, 15)
    renewed = stored_lease(guide)
    assert status.ours and status.holder == ALICE
    assert parse_time(renewed["spec"]["renewTime"]) > parse_time(first["spec"]["renewTime"])
    assert MICROTIME_RE.match(renewed["spec"]["renewTime"])
    assert int(renewed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert renewed["spec"]["acquireTime"] == first["spec"]["acquireTime"]
    assert renewed["spec"]["leaseTransitions"] == 0
    get, patch = guide.requests
    assert (get.method, patch.method, patch.content_type) == ("GET", "PATCH", "application/json-patch+json")
    assert patch.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": first["metadata"]["resourceVersion"]},
        {"op": "test", "path": "/spec/holderIdentity", "value": ALICE},
        {"op": "replace", "path": "/spec/renewTime", "value": renewed["spec"]["renewTime"]},
    ]


def test_a_second_driver_respects_the_lease_and_watches_read_only(guide, make_router):
    first = controller_for(make_router(), who="alice@laptop")
    second = controller_for(make_router(), who="bob@desk")
    g1 = DriverGuard(first, first.router.driver_lease(), holder=ALICE)
    g2 = DriverGuard(second, second.router.driver_lease(), holder=BOB)
    assert g1.check().ours and not first.read_only
    status = g2.check()
    assert not status.ours and status.holder == ALICE and status.expires_at > time.time()
    assert second.read_only and second.state().mode == "READ-ONLY"
    assert second.state().read_only_reason == f"{ALICE} drives this rollout"
    guide.clear_requests()
    refused = second.set_weight(20, reason="t")
    assert not refused.ok and refused.message == "read-only: writes are disabled"
    assert not guide.requests  # refused before any request
    assert first.set_weight(20, reason="t").ok
    assert weights(stored_vs(guide), "default") == [80, 20]
    assert stored_lease(guide)["spec"]["holderIdentity"] == ALICE


def test_an_expired_lease_is_taken_over(guide, make_router):
    first = controller_for(make_router(), who="alice@laptop")
    second = controller_for(make_router(), who="bob@desk")
    g1 = DriverGuard(first, first.router.driver_lease(), holder=ALICE, duration_s=15)
    g2 = DriverGuard(second, second.router.driver_lease(), holder=BOB, duration_s=15)
    g1.check()
    assert not g2.check().ours
    age_lease(guide, 14)  # renewTime + 15 s is still ahead
    assert not g2.check().ours
    age_lease(guide, 2)  # now it is behind: alice stopped renewing
    assert g2.check().ours and not second.read_only
    lease = stored_lease(guide)["spec"]
    assert lease["holderIdentity"] == BOB and lease["leaseTransitions"] == 1
    assert lease["acquireTime"] == lease["renewTime"] and MICROTIME_RE.match(lease["acquireTime"])
    # Alice comes back: she lost it, and her console turns read-only at once.
    status = g1.check()
    assert not status.ours and status.holder == BOB
    assert first.read_only and first.read_only_reason == f"{BOB} drives this rollout"
    assert any(e.message.startswith("lost the lease") for e in first.state().events)


def test_a_free_lease_is_taken(guide, make_router):
    put_lease(guide, None, time.time(), transitions=3)
    status = make_router().driver_lease().try_acquire(BOB, 15)
    assert status.ours
    assert stored_lease(guide)["spec"]["leaseTransitions"] == 4


def test_the_lease_is_released_on_stop(guide, make_router):
    first = controller_for(make_router(), who="alice@laptop")
    second = controller_for(make_router(), who="bob@desk")
    g1 = DriverGuard(first, first.router.driver_lease(), holder=ALICE)
    g2 = DriverGuard(second, second.router.driver_lease(), holder=BOB)
    assert g1.start().ours
    assert not g2.check().ours
    g1.stop()
    lease = stored_lease(guide)
    assert lease is not None and "holderIdentity" not in lease["spec"]  # free, not deleted
    released = guide.requests_to("PATCH", f"/leases/{LEASE}")[-1].body
    assert released[-1] == {"op": "remove", "path": "/spec/holderIdentity"}
    assert released[0]["path"] == "/metadata/resourceVersion"
    assert g2.check().ours and not second.read_only  # at once, no waiting for expiry
    assert stored_lease(guide)["spec"]["holderIdentity"] == BOB


def test_release_leaves_another_holders_lease_alone(guide, make_router):
    lease = make_router().driver_lease()
    put_lease(guide, BOB, time.time())
    guide.clear_requests()
    lease.release(ALICE)
    assert [r.method for r in guide.requests] == ["GET"]
    assert stored_lease(guide)["spec"]["holderIdentity"] == BOB


@pytest.mark.parametrize("start", ["missing", "expired"])
def test_a_takeover_race_has_one_winner(guide, make_router, start):
    """Both see the lease free; Bob's write lands between Alice's read and Alice's write."""
    if start == "expired":
        put_lease(guide, "carol@gone pid 1", time.time() - 60)
    alice, bob = make_router().driver_lease(), make_router().driver_lease()
    raced = []

    def bob_wins(request):
        raced.append((request.method, bob.try_acquire(BOB, 15)))

    guide.before_next_write(bob_wins, path_contains="/leases")
    status = alice.try_acquire(ALICE, 15)
    (method, bob_status), = raced
    assert method == ("POST" if start == "missing" else "PUT")
    assert bob_status.ours and bob_status.holder == BOB
    assert not status.ours and status.holder == BOB  # Alice re-read once and says who won
    lease = stored_lease(guide)["spec"]
    assert lease["holderIdentity"] == BOB
    assert lease["leaseTransitions"] == (0 if start == "missing" else 1)
    alice_writes = [r for r in lease_requests(guide) if r.method in ("POST", "PUT") and
                    (r.body or {}).get("spec", {}).get("holderIdentity") == ALICE]
    assert [r.status for r in alice_writes] == [409]
    # And the next round still respects Bob.
    assert not alice.try_acquire(ALICE, 15).ours


def test_a_renewal_race_is_lost_cleanly(guide, make_router):
    alice = make_router().driver_lease()
    alice.try_acquire(ALICE, 15)
    age_lease(guide, 60)  # alice paused (a laptop lid) long enough to expire
    bob = make_router().driver_lease()
    guide.before_next_write(lambda _r: bob.try_acquire(BOB, 15), path_contains=f"/leases/{LEASE}")
    status = alice.try_acquire(ALICE, 15)  # alice's renewal races bob's takeover
    assert not status.ours and status.holder == BOB
    assert stored_lease(guide)["spec"]["holderIdentity"] == BOB


def test_a_lease_deleted_under_a_renewal_is_created_again(guide, make_router):
    lease = make_router().driver_lease()
    lease.try_acquire(ALICE, 15)
    guide.before_next_write(lambda _r: guide.delete_object(COORD, NS, "leases", LEASE),
                            path_contains=f"/leases/{LEASE}")
    guide.clear_requests()
    status = lease.try_acquire(ALICE, 15)
    assert status.ours
    assert [(r.method, r.status) for r in guide.requests] == [
        ("GET", 200), ("PATCH", 404), ("GET", 404), ("POST", 201)]
    assert stored_lease(guide)["spec"]["holderIdentity"] == ALICE


def test_a_renewal_that_conflicts_with_a_label_edit_is_retried(guide, make_router):
    lease = make_router().driver_lease()
    lease.try_acquire(ALICE, 15)
    first = stored_lease(guide)["spec"]["renewTime"]
    guide.before_next_write(lambda _r: guide.mutate(
        COORD, NS, "leases", LEASE, lambda o: o["metadata"].setdefault("labels", {}).update({"x": "y"})))
    guide.clear_requests()
    time.sleep(0.002)
    assert lease.try_acquire(ALICE, 15).ours
    assert [(r.method, r.status) for r in guide.requests] == [
        ("GET", 200), ("PATCH", 422), ("GET", 200), ("PATCH", 200)]
    lease_obj = stored_lease(guide)
    assert lease_obj["spec"]["renewTime"] > first and lease_obj["metadata"]["labels"]["x"] == "y"


def test_forbidden_leases_make_the_console_read_only(guide, make_router):
    controller = controller_for(make_router())
    guide.deny("get", COORD, "leases", namespace=NS)
    guard = DriverGuard(controller, controller.router.driver_lease(), holder=ALICE)
    assert guard.check() == LeaseStatus(False, None)
    assert controller.read_only
    assert controller.read_only_reason == ("lease unavailable: forbidden: cannot get leases.coordination.k8s.io "
                                           "in namespace x0tta6bl4 (see configs/rbac.yaml)")
    assert not controller.set_weight(20, reason="t").ok
    guide.clear_denials()
    guide.deny("create", COORD, "leases")
    assert not guard.check().ours
    assert controller.read_only_reason.startswith("lease unavailable: forbidden: cannot create leases."
                                                  "coordination.k8s.io in namespace x0tta6bl4")
    guide.clear_denials()
    assert guard.check().ours and not controller.read_only


def test_every_lease_call_passes_a_request_timeout(guide, make_router):
    router = make_router(timeout=2.5)
    seen = []

    router.kube.coordination = CallSpy(router.kube.coordination, seen)
    lease = router.driver_lease()
    lease.try_acquire(ALICE, 15)
    lease.try_acquire(ALICE, 15)
    age_lease(guide, 60)
    lease.try_acquire(BOB, 15)
    lease.release(BOB)
    assert {name for name, _ in seen} == {"read_namespaced_lease", "create_namespaced_lease",
                                         "patch_namespaced_lease", "replace_namespaced_lease"}
    assert all(timeout == 2.5 for _, timeout in seen), seen


def test_lease_timeout_is_a_backend_error(guide, make_router):
    lease = make_router(timeout=0.3).driver_lease()
    guide.delay(5, method="GET", path_contains="/leases")
    start = time.monotonic()
    with pytest.raises(BackendError, match="did not answer within 0.3s"):
        lease.try_acquire(ALICE, 15)
    assert time.monotonic() - start < 2
    guide.clear_delays()


def test_a_clock_injected_lease_expires_on_its_own_clock(guide, make_router):
    now = [time.time()]
    router = make_router()
    alice = KubeLease(router.kube, NS, LEASE, now=lambda: now[0])
    bob = KubeLease(router.kube, NS, LEASE, now=lambda: now[0])
    assert alice.try_acquire(ALICE, 10).ours
    now[0] += 9.9
    assert not bob.try_acquire(BOB, 10).ours
    now[0] += 0.2
    assert bob.try_acquire(BOB, 10).ours


# --- the progression annotation ----------------------------------------------------------


def test_save_progress_writes_one_annotation_only(guide, make_router):
    router = make_router()
    router.read()
    before = stored_vs(guide)
    guide.clear_requests()
    router.save_progress({"enabled": True, "step": 2, "since": 1.5})
    (req,) = guide.requests
    assert req.method == "PATCH" and req.content_type == "application/json-patch+json"
    rv = before["metadata"]["resourceVersion"]
    assert req.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/annotations",
         "value": {PROGRESSION: '{"enabled":true,"since":1.5,"step":2}'}},
    ]
    after = stored_vs(guide)
    assert after["spec"] == before["spec"]
    assert annotation(after, PROGRESSION) == {"enabled": True, "step": 2, "since": 1.5}
    # With annotations present: only its own key, added then replaced.
    router.set_canary_weight(10, change(10, 5))
    router.save_progress({"enabled": True, "step": 1})
    router.save_progress({"enabled": False, "step": 1})
    ops = [p.body[-1] for p in vs_patches(guide)[-2:]]
    assert [(o["op"], o["path"]) for o in ops] == [("replace", "/metadata/annotations/canary-console~1progression")] * 2
    vs = stored_vs(guide)
    assert annotation(vs, PROGRESSION) == {"enabled": False, "step": 1}
    assert annotation(vs, LAST_CHANGE)["to"] == 10
    assert weights(vs, "default") == [90, 10]


def test_save_progress_keeps_other_annotations(guide, make_router):
    vs = guide_vs()
    vs["metadata"]["annotations"] = {"team": "bridge"}
    guide.put_object(vs)
    router = make_router()
    router.save_progress({"step": 0})
    (patch,) = vs_patches(guide)
    assert patch.body[-1] == {"op": "add", "path": "/metadata/annotations/canary-console~1progression",
                              "value": '{"step":0}'}
    assert stored_vs(guide)["metadata"]["annotations"]["team"] == "bridge"


def test_weight_writes_never_drop_the_progression_annotation(guide, make_router):
    router = make_router()
    router.save_progress({"enabled": True, "step": 0})
    guide.clear_requests()
    for target in (10, 15, 0):
        router.set_canary_weight(target, change(target))
        assert annotation(stored_vs(guide), PROGRESSION) == {"enabled": True, "step": 0}
    for p in vs_patches(guide):
        paths = [op["path"] for op in p.body if op["op"] != "test"]
        assert "/metadata/annotations" not in paths and "/metadata" not in paths
        assert paths[-1] == "/metadata/annotations/canary-console~1last-change"


def test_save_progress_conflict_is_reread_and_retried(guide, make_router):
    router = make_router()
    router.read()
    guide.before_next_write(lambda _r: guide.mutate(
        G, NS, "virtualservices", VS, lambda o: o["metadata"].setdefault("labels", {}).update({"x": "y"})))
    guide.clear_requests()
    router.save_progress({"step": 3})
    assert [(r.method, r.status) for r in guide.requests] == [("PATCH", 422), ("GET", 200), ("PATCH", 200)]
    vs = stored_vs(guide)
    assert annotation(vs, PROGRESSION) == {"step": 3} and vs["metadata"]["labels"]["x"] == "y"
    guide.before_next_write(lambda _r: guide.mutate(G, NS, "virtualservices", VS, lambda o: None), times=10)
    with pytest.raises(ConflictError, match="storing the progression state"):
        router.save_progress({"step": 4})
    guide.clear_write_hooks()


def test_load_progress_one_get_at_most(guide, make_router):
    make_router().save_progress({"enabled": True, "step": 4, "since": 10.0})
    router = make_router()
    guide.clear_requests()
    assert router.load_progress() == {"enabled": True, "step": 4, "since": 10.0}
    assert [(r.method, r.path) for r in guide.requests] == [("GET", f"/apis/{G}/v1{VS_PATH}")]
    router.read()
    guide.clear_requests()
    assert router.load_progress()["step"] == 4
    assert guide.requests == []  # from the last read: no request


def test_load_progress_none_and_garbage(guide, make_router):
    assert make_router().load_progress() is None
    guide.mutate(G, NS, "virtualservices", VS,
                 lambda o: o["metadata"].setdefault("annotations", {}).update({PROGRESSION: "{not json"}))
    with pytest.raises(BackendError, match="canary-console/progression .* is not a JSON object"):
        make_router().load_progress()


def test_forbidden_progress_write_is_visible_not_fatal(guide, make_router):
    controller = controller_for(make_router())
    guide.deny("patch", G, "virtualservices")
    controller.autopilot._save(Progress(enabled=True))
    assert any("could not store progression state: forbidden: cannot patch virtualservices" in e.message
               for e in controller.state().events)


# --- a driver dies; another resumes the progression --------------------------------------


def test_a_dead_driver_leaves_traffic_and_a_new_one_resumes_the_progression(guide, kubeconfig, tmp_path):
    from tui.assembly import build_controller

    config = load(write_config(tmp_path, kubeconfig))
    clock = ManualClock(start=time.time())

    first = build_controller(config, clock=clock, who="alice@laptop")
    first.evaluator = ScriptedEvaluator()
    fast_policy(first, bake_s=60.0)
    g1 = DriverGuard(first, first.router.driver_lease(), holder=ALICE, duration_s=15)
    assert g1.check().ours
    assert first.toggle_auto().ok
    run_polls(first, clock, 130)
    vs = stored_vs(guide)
    assert weights(vs, "default") == [85, 15]
    assert Progress.from_dict(annotation(vs, PROGRESSION)).step == 2
    assert annotation(vs, LAST_CHANGE)["to"] == 15
    # Alice's console dies: no release, no more renewals. Nothing moves the traffic.
    del g1
    first.close()
    assert weights(stored_vs(guide), "default") == [85, 15]

    second = build_controller(config, clock=clock, who="bob@desk")
    second.evaluator = ScriptedEvaluator()
    fast_policy(second, bake_s=60.0)
    g2 = DriverGuard(second, second.router.driver_lease(), holder=BOB, duration_s=15)
    assert not g2.check().ours and second.read_only  # alice's lease has not expired yet
    run_polls(second, clock, 10)
    assert weights(stored_vs(guide), "default") == [85, 15]  # read-only: no progression
    age_lease(guide, 16)
    assert g2.check().ours and not second.read_only
    assert second.resume_automation()
    assert second.state().mode == "AUTO"
    assert any("resumed automatic progression at step 3/10 (15%)" in e.message for e in second.state().events)
    # The bake of step 3 started on alice's watch (the stored `since`): 58 s after it, not yet...
    run_polls(second, clock, 38)
    assert weights(stored_vs(guide), "default") == [85, 15]
    # ...60 s after it, the next step.
    run_polls(second, clock, 2)
    vs = stored_vs(guide)
    assert weights(vs, "default") == [80, 20]
    note = annotation(vs, LAST_CHANGE)
    assert (note["who"], note["action"], note["from"], note["to"]) == ("automation", "auto-step", 15, 20)
    assert Progress.from_dict(annotation(vs, PROGRESSION)).step == 3
    g2.stop()
    second.close()
    assert "holderIdentity" not in stored_lease(guide)["spec"]


def test_lease_and_progress_requests_are_counted(guide, make_router):
    """What the lease costs: one GET and one PATCH per renewal, nothing on the VirtualService."""
    router = make_router()
    lease = router.driver_lease()
    lease.try_acquire(ALICE, 15)
    guide.clear_requests()
    for _ in range(5):
        lease.try_acquire(ALICE, 15)
    assert [r.method for r in guide.requests] == ["GET", "PATCH"] * 5
    assert not vs_requests(guide)
    assert json.dumps(stored_lease(guide)["spec"]["holderIdentity"]) == json.dumps(ALICE)
