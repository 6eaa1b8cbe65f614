"""One driver at a time: the lease holder writes; another console watches read-only and takes over later."""

from tests.conftest import make_demo_controller
from tui.backends.base import LeaseStatus
from tui.controller.driver import DriverGuard, InProcessLease


class ExpiringLease(InProcessLease):
    """In-process lease whose clock the test moves."""

    def __init__(self):
        super().__init__(now=lambda: self.now)
        self.now = 1000.0


def test_second_console_watches_read_only_and_says_who_drives():
    lease = ExpiringLease()
    first, _ = make_demo_controller()
    second, _ = make_demo_controller()
    g1 = DriverGuard(first, lease, duration_s=15, holder="alice@a pid 1")
    g2 = DriverGuard(second, lease, duration_s=15, holder="bob@b pid 2")
    assert g1.check().ours and not first.read_only
    status = g2.check()
    assert not status.ours and status.holder == "alice@a pid 1"
    assert second.read_only and second.state().mode == "READ-ONLY"
    assert second.state().read_only_reason == "alice@a pid 1 drives this rollout"
    assert not second.set_weight(20, reason="t").ok


def test_takeover_after_release_or_expiry():
    lease = ExpiringLease()
    first, _ = make_demo_controller()
    second, _ = make_demo_controller()
    g1 = DriverGuard(first, lease, holder="alice")
    g2 = DriverGuard(second, lease, holder="bob")
    g1.check()
    g2.check()
    g1.stop()  # released
    assert g2.check().ours and not second.read_only
    # expiry: bob stops renewing (died); alice takes over after the duration
    g1b = DriverGuard(first, lease, holder="alice")
    assert not g1b.check().ours
    lease.now += 16
    assert g1b.check().ours
    # and bob, coming back, has lost it: read-only at once
    assert not g2.check().ours and second.read_only
    assert any(e.message.startswith("lost the lease") for e in second.state().events)


def test_forced_read_only_stays_read_only_even_when_holding():
    controller, _ = make_demo_controller(read_only=True)
    DriverGuard(controller, InProcessLease(), holder="x").check()
    assert controller.read_only


def test_unreadable_lease_means_read_only():
    class Broken:
        def try_acquire(self, holder, duration_s):
            raise RuntimeError("403 forbidden")

        def release(self, holder):
            pass

        def describe(self):
            return "broken"

    controller, _ = make_demo_controller()
    status = DriverGuard(controller, Broken(), holder="x").check()
    assert status == LeaseStatus(False, None)
    assert controller.read_only and "lease unavailable" in controller.read_only_reason
