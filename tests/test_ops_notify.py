"""The webhook notifier against a real HTTP receiver on 127.0.0.1: payloads, retries, failures, secrecy."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui.config import from_mapping
from tui.model import Event
from tui.operations.notify import NOTIFY_KINDS, WebhookNotifier, from_env

T0 = datetime(2027, 1, 15, 8, 0, 0, tzinfo=timezone.utc)
TOKEN = "T0CANARY/B0CONSOLE/xoxbSeCrEtT0kEn4e8f9a2c71d"
PATH = f"/services/{TOKEN}"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that gave up (timeout tests): expected
        pass


class Receiver:
    """A Slack-like incoming webhook: records each POST; answers from `statuses` (then 200), or hangs."""

    def __init__(self, statuses=(), hang=False):
        self.statuses = list(statuses)
        self.hang = hang
        self.release = threading.Event()
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver.lock:
                    receiver.requests.append((self.path, body, dict(self.headers)))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.hang:
                    receiver.release.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    @property
    def bodies(self):
        with self.lock:
            return [body for _, body, _ in self.requests]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def failures():
    return []


def notifier(url, failures, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 2.0)
    return WebhookNotifier(url, "x0tta6bl4-app", on_failure=failures.append, **kw)


def ev(kind, frm=None, to=None, reason="", who="sre@bridge", ok=True, message=""):
    return Event(at=T0, kind=kind, message=message or f"canary {frm}% -> {to}%", who=who,
                 from_canary=frm, to_canary=to, reason=reason, ok=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_payload_for_each_kind(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    n.on_event(ev("rollback", 25, 0, reason="auto-rollback: error rate", who="automation"))
    n.on_event(ev("promote", 50, 100, reason="all checks passed"))
    n.on_event(ev("set-weight", 5, 10, reason="manual"))
    n.on_event(ev("step", 10, 15, reason="key +"))
    n.on_event(ev("auto-step", 15, 20, reason="auto: step 3 baked", who="automation"))
    n.on_event(ev("check", who="", ok=False, message="check failed: error rate: canary 5.00% > 1.00%"))
    n.on_event(ev("alarm", who="", ok=False, message="the canary served nothing for 10s while routed 5%: down"))
    n.on_event(ev("alarm", who="", message="the canary serves again"))
    assert n.close(5)
    texts = [b["text"] for b in rx.bodies]
    assert len(texts) == 8
    assert "x0tta6bl4-app" in texts[0] and "ROLLED BACK 25% → 0%" in texts[0]
    assert "by automation" in texts[0] and "auto-rollback: error rate" in texts[0]
    assert "PROMOTED 50% → 100%" in texts[1] and "all checks passed" in texts[1]
    assert "canary weight 5% → 10% (set-weight) by sre@bridge" in texts[2]
    assert "10% → 15% (step)" in texts[3]
    assert "15% → 20% (auto-step) by automation" in texts[4]
    assert "check failed: error rate: canary 5.00% &gt; 1.00%" in texts[5]  # Slack escaping
    assert texts[6].startswith(":warning: x0tta6bl4-app: the canary served nothing for 10s while routed 5%: down")
    assert texts[7].startswith(":white_check_mark: x0tta6bl4-app: the canary serves again")
    assert all("2027-01-15T08:00:00Z" in t for t in texts)
    for path, body, headers in rx.requests:
        assert path == PATH
        assert headers["Content-Type"].startswith("application/json")
        assert body["blocks"][0]["text"] == {"type": "mrkdwn", "text": body["text"]}
        assert body["blocks"][1]["type"] == "context"
    assert failures == [] and n.sent == 8


def test_events_that_make_no_notification(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    for e in (ev("info", message="poll recovered"), ev("auto", message="automation on"),
              ev("fault", message="injected fault: errors"), ev("error", message="poll failed", ok=False),
              ev("step", 5, 10, ok=False, message="step refused: read-only"),
              ev("rollback", None, None, message="canary scaled to 0 replicas")):
        n.on_event(e)
    assert n.close(5)
    assert rx.requests == []


def test_a_refused_rollback_is_notified(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    n.on_event(ev("rollback", 25, 0, reason="auto-rollback", who="automation", ok=False,
                  message="rollback refused: cannot read the split: timeout"))
    assert n.close(5)
    (body,) = rx.bodies
    assert "rollback REFUSED (cannot read the split: timeout)" in body["text"]


def test_automations_retries_of_a_refused_rollback_are_announced_once_per_5_minutes(receiver_factory, failures):
    """Automation retries a rollback every 10 s while the API is down: one message, not six a minute."""
    from dataclasses import replace
    from datetime import timedelta

    rx = receiver_factory()
    n = notifier(rx.url, failures)
    down = ev("rollback", 25, 0, reason="auto-rollback", who="automation", ok=False,
              message="rollback refused: cannot read the split: timeout")
    for i in range(31):  # five minutes of attempts, 10 s apart, then one more
        n.on_event(replace(down, at=T0 + timedelta(seconds=10 * i)))
    n.on_event(replace(down, at=T0 + timedelta(seconds=320), message="rollback refused: forbidden"))
    n.on_event(ev("rollback", 25, 0, reason="auto-rollback", who="automation"))  # through at last
    assert n.close(5)
    texts = [b["text"] for b in rx.bodies]
    assert len(texts) == 4, texts
    assert ["REFUSED (cannot read the split: timeout)" in t for t in texts] == [True, True, False, False]
    assert "REFUSED (forbidden)" in texts[2] and "ROLLED BACK" in texts[3]


def test_only_the_configured_kinds(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures, kinds=("rollback", "check-failed"), blocks=False)
    n.on_event(ev("step", 5, 10))
    n.on_event(ev("promote", 50, 100))
    n.on_event(ev("rollback", 10, 0))
    assert n.close(5)
    (body,) = rx.bodies
    assert "ROLLED BACK" in body["text"] and "blocks" not in body
    with pytest.raises(ValueError, match="unknown notification kinds"):
        WebhookNotifier(rx.url, "app", kinds=("deploy",))


def test_retries_on_500_then_succeeds(receiver_factory, failures):
    rx = receiver_factory(statuses=[500, 503])
    n = notifier(rx.url, failures, retries=3)
    n.on_event(ev("promote", 50, 100))
    assert n.close(5)
    assert len(rx.requests) == 3
    assert rx.bodies[0] == rx.bodies[2]  # the same message again
    assert failures == [] and (n.sent, n.failed) == (1, 0)


def test_fails_after_n_tries_and_says_so_without_the_url(receiver_factory, failures):
    rx = receiver_factory(statuses=[500] * 10)
    n = notifier(rx.url, failures, retries=3)
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    assert len(rx.requests) == 3
    assert failures == ["webhook delivery failed after 3 tries: HTTP 500"]
    assert n.failed == 1


def test_backoff_grows_between_tries(receiver_factory, failures):
    rx = receiver_factory(statuses=[500] * 3)
    n = notifier(rx.url, failures, retries=3, backoff=0.1)
    start = time.monotonic()
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    assert time.monotonic() - start >= 0.3  # 0.1 + 0.2


def test_a_client_error_is_not_retried(receiver_factory, failures):
    rx = receiver_factory(statuses=[404])
    n = notifier(rx.url, failures, retries=3)
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    assert len(rx.requests) == 1
    assert failures == ["webhook delivery failed after 1 try: HTTP 404"]


def test_too_many_requests_is_retried(receiver_factory, failures):
    rx = receiver_factory(statuses=[429])
    n = notifier(rx.url, failures, retries=2)
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    assert len(rx.requests) == 2 and failures == []


def test_on_event_never_blocks_even_when_the_receiver_hangs(receiver_factory, failures):
    rx = receiver_factory(hang=True)
    n = notifier(rx.url, failures, timeout=5.0, queue_size=50)
    n.on_event(ev("step", 0, 1))
    deadline = time.monotonic() + 5
    while not rx.requests and time.monotonic() < deadline:  # the worker is now stuck in the POST
        time.sleep(0.01)
    assert rx.requests
    events = [ev("step", i % 100, (i + 1) % 100) for i in range(1000)]
    start = time.perf_counter()
    for e in events:
        n.on_event(e)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05, f"1000 on_event calls took {elapsed * 1000:.1f} ms"
    assert len(n._queue) == 50  # bounded: the oldest were dropped
    assert n.dropped_total == 950
    assert not n.close(0.2)  # still hanging: close gives up in time, the daemon worker is left behind
    assert any("not delivered before shutdown" in f for f in failures)


def test_a_full_queue_drops_the_oldest_and_the_next_message_says_so(receiver_factory, failures):
    rx = receiver_factory(hang=True)
    n = notifier(rx.url, failures, queue_size=2)
    n.on_event(ev("step", 0, 1))
    deadline = time.monotonic() + 5
    while not rx.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(1, 6):
        n.on_event(ev("step", i, i + 1))
    rx.hang = False
    rx.release.set()
    assert n.close(5)
    texts = [b["text"] for b in rx.bodies]
    assert len(texts) == 3  # the first, then the two newest
    assert "4% → 5%" in texts[1] and "[3 earlier notifications dropped: the queue was full]" in texts[1]
    assert "5% → 6%" in texts[2]
    assert "webhook queue full: 3 older notifications dropped" in failures


def test_close_drains_the_queue(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    for i in range(20):
        n.on_event(ev("step", i, i + 1))
    assert n.close(5)
    assert len(rx.requests) == 20
    n.on_event(ev("step", 1, 2))  # after close: ignored
    time.sleep(0.05)
    assert len(rx.requests) == 20


def test_flush_waits_for_delivery(receiver_factory, failures):
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    n.on_event(ev("promote", 50, 100))
    assert n.flush(5)
    assert len(rx.requests) == 1
    n.close(1)


def _all_texts(failures, caplog, n, extra=()):
    return "\n".join([*failures, caplog.text, repr(n), str(n.__dict__.get("rollout")), *extra])


def _assert_secret_absent(text):
    assert TOKEN not in text
    for part in TOKEN.split("/"):
        assert part not in text
    assert "/services/" not in text


def test_secrecy_on_http_errors(receiver_factory, failures, caplog):
    caplog.set_level(logging.DEBUG)
    rx = receiver_factory(statuses=[500] * 5)
    n = notifier(rx.url, failures, retries=2)
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    assert failures == ["webhook delivery failed after 2 tries: HTTP 500"]
    _assert_secret_absent(_all_texts(failures, caplog, n))


def test_secrecy_when_the_receiver_is_unreachable(failures, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}{PATH}"
    n = notifier(url, failures, retries=2)
    n.on_event(ev("rollback", 25, 0))
    assert n.close(5)
    (message,) = failures
    assert message.startswith("webhook delivery failed after 2 tries: ConnectionRefusedError")
    _assert_secret_absent(_all_texts(failures, caplog, n))


def test_secrecy_on_timeouts(receiver_factory, failures, caplog):
    caplog.set_level(logging.DEBUG)
    rx = receiver_factory(hang=True)
    n = notifier(rx.url, failures, retries=2, timeout=0.2)
    n.on_event(ev("rollback", 25, 0))
    assert n.flush(5)
    (message,) = failures
    assert message.startswith("webhook delivery failed after 2 tries:") and "timed out" in message
    _assert_secret_absent(_all_texts(failures, caplog, n))
    rx.release.set()
    n.close(1)


def test_secrecy_of_construction_errors_and_the_payload(receiver_factory, failures):
    with pytest.raises(ValueError) as info:
        WebhookNotifier(f"ftp://hooks.example{PATH}", "app")
    _assert_secret_absent(str(info.value))
    rx = receiver_factory()
    n = notifier(rx.url, failures)
    n.on_event(ev("rollback", 25, 0, reason=f"someone pasted {rx.url} here"))
    assert n.close(5)
    _assert_secret_absent(json.dumps(rx.bodies))
    _assert_secret_absent(repr(n))


def test_a_broken_on_failure_callback_does_not_kill_the_worker(receiver_factory):
    rx = receiver_factory(statuses=[404, 200])

    def broken(message):
        raise RuntimeError("callback bug")

    n = WebhookNotifier(rx.url, "app", on_failure=broken, backoff=0.01)
    n.on_event(ev("rollback", 25, 0))
    n.on_event(ev("promote", 0, 100))
    assert n.close(5)
    assert len(rx.requests) == 2 and n.sent == 1


def test_from_env(receiver_factory, failures):
    rx = receiver_factory()
    n, message = WebhookNotifier.from_env("CANARY_WEBHOOK_URL", "app", environ={})
    assert n is None
    assert message == ("webhook notifications off: the environment variable CANARY_WEBHOOK_URL "
                       "(notify.webhookEnv) is not set")
    assert from_env("CANARY_WEBHOOK_URL", "app", environ={}) == (None, message)
    n, message = WebhookNotifier.from_env(None, "app", environ={})
    assert n is None and "notify.webhookEnv is not set" in message
    n, message = WebhookNotifier.from_env("HOOK", "app", environ={"HOOK": f"not a url {TOKEN}"})
    assert n is None and message.startswith("webhook notifications off: HOOK:")
    _assert_secret_absent(message)
    n, message = WebhookNotifier.from_env("HOOK", "app", environ={"HOOK": rx.url}, on_failure=failures.append,
                                          kinds=("promote",))
    assert n is not None and n.kinds == ("promote",)
    assert "HOOK" in message
    _assert_secret_absent(message)
    n.on_event(ev("promote", 50, 100))
    assert n.close(5) and len(rx.requests) == 1


def test_from_config_uses_webhook_env_and_on(receiver_factory, failures):
    rx = receiver_factory()
    config = from_mapping({"name": "x0tta6bl4-app",
                           "notify": {"webhookEnv": "CANARY_WEBHOOK_URL", "on": ["rollback"]}})
    n, _ = WebhookNotifier.from_config(config, environ={"CANARY_WEBHOOK_URL": rx.url})
    assert n is not None and n.kinds == ("rollback",) and n.rollout == "x0tta6bl4-app"
    n.close(1)
    default = from_mapping({"name": "app", "notify": {"webhookEnv": "X"}})
    n, _ = WebhookNotifier.from_config(default, environ={"X": rx.url})
    assert n.kinds == NOTIFY_KINDS
    n.close(1)
    n, message = WebhookNotifier.from_config(from_mapping({"name": "app"}), environ={})
    assert n is None and "notify.webhookEnv" in message


def test_a_real_controller_notifies_without_waiting(receiver_factory, failures):
    from tests.conftest import make_demo_controller

    rx = receiver_factory(hang=True)
    n = notifier(rx.url, failures, timeout=5.0)
    controller, clock = make_demo_controller()
    try:
        controller.subscribe(n.on_event)
        start = time.perf_counter()
        assert controller.set_weight(20, reason="more").ok
        assert controller.rollback(reason="stop").ok
        assert time.perf_counter() - start < 1.0  # the hanging receiver does not hold the controller
    finally:
        controller.close()
    rx.hang = False
    rx.release.set()
    assert n.close(5)
    texts = [b["text"] for b in rx.bodies]
    assert len(texts) == 3 and "5% → 20%" in texts[0] and "ROLLED BACK 20% → 0%" in texts[1]
    # whoever uses the x-canary header learns that its requests now fail
    assert texts[2].startswith(":warning: x0tta6bl4-app: route canary-header (headers x-canary exact")
