"""Webhook notifications (Slack-compatible incoming webhooks): rollback, promotion, steps, failing checks.

``on_event`` is what the controller calls: it only puts the event on a bounded
queue (dropping the oldest when full; the next message says so) and returns, so
a slow or dead receiver never holds up the controller. A daemon worker posts
``{"text": ..., "blocks": [...]}`` with the standard library (urllib: it logs
nothing and its errors do not quote the URL), trying up to ``retries`` times with
exponential backoff on connection errors, timeouts, 5xx, 408 and 429 (Retry-After
is honoured, within reason); other 4xx are final. A delivery that fails calls
``on_failure("webhook delivery failed after 3 tries: HTTP 500")``.

The webhook URL is a secret: it never appears in a message, a log line, an
exception or the notifier's repr; every error text is redacted with
``secrets.url_secrets(url)`` before it goes anywhere.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections import deque
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from tui.model import Event, utc_iso
from tui.operations.secrets import describe_exception, redact, url_secrets

log = logging.getLogger(__name__)

NOTIFY_KINDS: tuple[str, ...] = ("rollback", "promote", "step", "check-failed")

# Controller event kind -> notification kind.
EVENT_KINDS: dict[str, str] = {
    "rollback": "rollback",
    "promote": "promote",
    "set-weight": "step",
    "step": "step",
    "auto-step": "step",
    "outside": "step",
    "check": "check-failed",
    "alarm": "check-failed",  # a routed canary serving nothing: as urgent as a failed check
}

MAX_BACKOFF_S = 60.0
REPEAT_REFUSAL_S = 300.0
RETRYABLE_STATUS = frozenset({408, 429})

FailureCallback = Callable[[str], None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: never re-post the payload somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's signature
        return None


def _slack_escape(text: str) -> str:
    """Slack reads &, < and > as markup: escape them in what people typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: int | None) -> str:
    return "?" if value is None else f"{value}%"


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: use our own backoff


class WebhookNotifier:
    """Posts rollout notifications to one incoming webhook, off the caller's thread.

    ``retries`` is the number of tries per notification (3: the first try and two retries).
    """

    def __init__(self, url: str, rollout: str, kinds: Iterable[str] = NOTIFY_KINDS,
                 on_failure: FailureCallback | None = None, retries: int = 3, timeout: float = 5.0,
                 backoff: float = 1.0, queue_size: int = 100, blocks: bool = True) -> None:
        url = (url or "").strip()
        scheme = urlsplit(url).scheme.lower() if url else ""
        if scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError("webhook URL must be an http(s) URL with a host")  # never quote the value
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in NOTIFY_KINDS]
        if unknown:
            raise ValueError(f"unknown notification kinds {unknown}; expected some of {list(NOTIFY_KINDS)}")
        if retries < 1:
            raise ValueError("retries must be at least 1")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._url = url
        self._secrets = url_secrets(url)
        self.rollout = rollout
        self.kinds = kinds
        self.on_failure = on_failure
        self.retries = int(retries)
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.queue_size = int(queue_size)
        self.blocks = blocks
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._queue: deque[tuple[str, Event]] = deque()
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._worker: threading.Thread | None = None
        self._closing = False
        self._refusals: dict[str, tuple[str, datetime]] = {}  # kind -> (last refusal announced, when)
        self._busy = False
        self._dropped = 0
        self.sent = 0
        self.failed = 0
        self.dropped_total = 0

    def __repr__(self) -> str:  # the URL is a secret: never in a repr
        return f"WebhookNotifier(rollout={self.rollout!r}, kinds={self.kinds!r}, url=<secret>)"

    # --- building -----------------------------------------------------------

    @classmethod
    def from_env(cls, env_name: str | None, rollout: str, environ: Mapping[str, str] | None = None,
                 **kwargs: Any) -> tuple["WebhookNotifier | None", str]:
        """The notifier for the URL held by the environment variable NAMED ``env_name``.

        Returns (notifier, message) or (None, why not): one clear line, naming the
        variable, never its value.
        """
        if not env_name:
            return None, "webhook notifications off: notify.webhookEnv is not set"
        env = os.environ if environ is None else environ
        value = (env.get(env_name) or "").strip()
        if not value:
            return None, (f"webhook notifications off: the environment variable {env_name} "
                          "(notify.webhookEnv) is not set")
        try:
            notifier = cls(value, rollout, **kwargs)
        except ValueError as exc:
            return None, f"webhook notifications off: {env_name}: {redact(exc, url_secrets(value))}"
        return notifier, (f"webhook notifications on ({', '.join(notifier.kinds)}), "
                          f"URL from the environment variable {env_name}")

    @classmethod
    def from_config(cls, config: Any, environ: Mapping[str, str] | None = None,
                    **kwargs: Any) -> tuple["WebhookNotifier | None", str]:
        """``from_env`` with the config's ``notify.webhookEnv`` and ``notify.on``."""
        notify = getattr(config, "notify", None) or {}
        kinds = notify.get("on")
        if kinds is not None:
            kwargs.setdefault("kinds", tuple(kinds))
        return cls.from_env(notify.get("webhookEnv"), config.name, environ=environ, **kwargs)

    # --- the controller's side: never blocks ------------------------------------

    def kind_of(self, event: Event) -> str | None:
        """The notification an event makes, or None."""
        kind = EVENT_KINDS.get(event.kind)
        if kind is None or kind not in self.kinds:
            return None
        if kind == "check-failed":
            return kind
        if not event.ok:
            # A refused promote or rollback matters (automation could not roll back!);
            # a refused step does not. Automation retries every 10 s while the API is down: the
            # same refusal is announced once per REPEAT_REFUSAL_S, not at every attempt.
            if kind not in ("rollback", "promote"):
                return None
            why = event.message.split(" refused: ", 1)[-1]
            last = self._refusals.get(kind)
            if last is not None and last[0] == why and (event.at - last[1]).total_seconds() < REPEAT_REFUSAL_S:
                return None
            self._refusals[kind] = (why, event.at)
            return kind
        if event.to_canary is None:
            return None  # the rollback's follow-up (canary scaled to 0): one message per rollback
        return kind

    def on_event(self, event: Event) -> None:
        """Queue a notification for the event if it makes one. O(1), never waits on the network."""
        kind = self.kind_of(event)
        if kind is None:
            return
        with self._cond:
            if self._closing:
                return
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self._dropped += 1
                self.dropped_total += 1
            self._queue.append((kind, event))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="canary-webhook", daemon=True)
                self._worker.start()
            self._cond.notify()

    # --- messages -------------------------------------------------------------

    def text(self, kind: str, event: Event) -> str:
        who = event.who or "someone"
        reason = f" Reason: {event.reason}" if event.reason else ""
        when = utc_iso(event.at)
        change = f"{_pct(event.from_canary)} → {_pct(event.to_canary)}"
        if kind == "check-failed" and event.kind == "alarm" and event.ok:
            body = f":white_check_mark: {self.rollout}: {event.message}"  # the alarm is over
        elif kind == "check-failed":
            body = f":warning: {self.rollout}: {event.message}"
        elif not event.ok:
            why = event.message.split(" refused: ", 1)[-1]
            body = f":warning: {self.rollout}: {event.kind} REFUSED ({why}), asked by {who}.{reason}"
        elif kind == "rollback":
            body = f":rotating_light: {self.rollout}: canary ROLLED BACK {change} by {who}.{reason}"
        elif kind == "promote":
            body = f":white_check_mark: {self.rollout}: canary PROMOTED {change} by {who}.{reason}"
        else:
            body = f":arrow_right: {self.rollout}: canary weight {change} ({event.kind}) by {who}.{reason}"
        return redact(f"{body} ({when})", self._secrets)

    def payload(self, kind: str, event: Event, dropped: int = 0) -> dict[str, Any]:
        """The JSON body: ``text`` (every client shows it) and, with blocks on, Block Kit sections."""
        text = self.text(kind, event)
        if dropped:
            text += f" [{dropped} earlier notification{'s' if dropped != 1 else ''} dropped: the queue was full]"
        text = _slack_escape(text)
        body: dict[str, Any] = {"text": text}
        if self.blocks:
            body["blocks"] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(
                    f"canary-console · {self.rollout} · {kind} · {utc_iso(event.at)}")}]},
            ]
        return body

    # --- the worker -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._abort.is_set() or (self._closing and not self._queue):
                    self._queue.clear()
                    self._cond.notify_all()
                    return
                kind, event = self._queue.popleft()
                dropped, self._dropped = self._dropped, 0
                self._busy = True
            try:
                if dropped:
                    self._report(f"webhook queue full: {dropped} older notification"
                                 f"{'s' if dropped != 1 else ''} dropped")
                self._deliver(self.payload(kind, event, dropped))
            except Exception as exc:  # a bug here must not kill the worker, nor leak the URL
                self.failed += 1
                self._report(f"webhook notification failed: {describe_exception(exc, self._secrets)}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, payload: dict[str, Any]) -> bool:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        last = "no attempt"
        tries = 0
        for tries in range(1, self.retries + 1):
            ok, last, retryable, wait_hint = self._post_once(data)
            if ok:
                self.sent += 1
                return True
            if not retryable or tries == self.retries:
                break
            delay = min(MAX_BACKOFF_S, max(self.backoff * 2 ** (tries - 1), wait_hint or 0.0))
            if self._abort.wait(delay):
                break
        self.failed += 1
        self._report(f"webhook delivery failed after {tries} {'try' if tries == 1 else 'tries'}: {last}")
        return False

    def _post_once(self, data: bytes) -> tuple[bool, str, bool, float | None]:
        """(delivered, what went wrong, worth retrying, server's Retry-After)."""
        request = urllib.request.Request(
            self._url, data=data, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "canary-console"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
                return True, "", False, None
        except urllib.error.HTTPError as exc:
            code, hint = exc.code, _retry_after(exc.headers)
            exc.close()
            return False, f"HTTP {code}", code >= 500 or code in RETRYABLE_STATUS, hint
        except urllib.error.URLError as exc:
            cause = exc.reason if isinstance(exc.reason, BaseException) else exc
            return False, describe_exception(cause, self._secrets), True, None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return False, describe_exception(exc, self._secrets), True, None

    def _report(self, message: str) -> None:
        message = redact(message, self._secrets)
        log.warning("%s", message)
        if self.on_failure is not None:
            try:
                self.on_failure(message)
            except Exception:  # a broken callback must not stop the worker
                log.warning("webhook on_failure callback raised")

    # --- shutting down ------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued notification was delivered or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking notifications, deliver what is queued within ``timeout``; True if all were.

        What is still queued (or retrying) after ``timeout`` is dropped; the worker is a
        daemon thread and never keeps the process alive.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            worker = self._worker
        if worker is None:
            return True
        worker.join(timeout)
        if worker.is_alive():
            self._abort.set()
            with self._cond:
                left = len(self._queue) + (1 if self._busy else 0)
                self._cond.notify_all()
            if left:
                self._report(f"webhook: {left} notification{'s' if left != 1 else ''} not delivered "
                             "before shutdown")
            return False
        return True


def from_env(env_name: str | None, rollout: str, environ: Mapping[str, str] | None = None,
             **kwargs: Any) -> tuple[WebhookNotifier | None, str]:
    """``WebhookNotifier.from_env``: (notifier, message), or (None, why not) when the variable is unset."""
    return WebhookNotifier.from_env(env_name, rollout, environ=environ, **kwargs)
