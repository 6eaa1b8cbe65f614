"""Keep secrets (tokens, webhook URLs, passwords) out of everything the console prints or writes.

A webhook URL is a secret as a whole: whoever has it can post to the channel. Error
texts quote it in pieces (an HTTP client names the path: ``Max retries exceeded with
url: /services/T0/B0/XYZ``), so ``url_secrets`` lists the pieces to redact too, and
``redact`` replaces the longest first so no fragment survives.
"""

from __future__ import annotations

import logging
import os
from typing import Iterable, Mapping
from urllib.parse import quote, urlsplit

MASK = "***"

# Path segments shorter than this are not treated as secret on their own
# ("services", "hooks", "api" are not tokens; a token is longer).
_MIN_SEGMENT = 12


def redact(text: object, secrets: Iterable[str | None], mask: str = MASK) -> str:
    """``text`` with every non-empty secret replaced by ``mask`` (longest secrets first)."""
    out = str(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if secret in out:
            out = out.replace(secret, mask)
    return out


def url_secrets(url: str | None) -> list[str]:
    """Everything in ``url`` that must not be shown: the URL itself and its revealing parts.

    The URL, with and without a trailing slash, URL-quoted, without its scheme; its
    path with the query, the path, the query; the userinfo password; and each long
    path segment (webhook tokens are path segments). The scheme and host alone are
    not secret and stay readable in what is left.
    """
    if not url:
        return []
    url = url.strip()
    found = [url, url.rstrip("/"), quote(url, safe=""), quote(url, safe=":/")]
    try:
        parts = urlsplit(url)
    except ValueError:
        return [s for s in found if s]
    if parts.scheme:
        found.append(url.split("://", 1)[-1])
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.path not in ("", "/"):
        found += [path_query, parts.path, parts.path.rstrip("/")]
    if parts.query:
        found += [parts.query, f"?{parts.query}"]
        found += [v for kv in parts.query.split("&") for v in kv.split("=", 1)[1:] if len(v) >= 4]
    if parts.password:
        found.append(parts.password)
    if parts.username and parts.password:
        found.append(f"{parts.username}:{parts.password}")
    found += [seg for seg in parts.path.split("/") if len(seg) >= _MIN_SEGMENT]
    return [s for s in dict.fromkeys(found) if s and s != "/"]


def safe_url(url: str | None) -> str:
    """A URL as it may be shown: scheme and host only, the rest masked (``https://hooks.example/***``)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    return f"{parts.scheme}://{host}{port}/{MASK}"


def describe_exception(exc: BaseException, secrets: Iterable[str | None]) -> str:
    """``Type: message`` of an exception, redacted; never a traceback, never the secret."""
    text = str(exc).strip()
    name = type(exc).__name__
    return redact(f"{name}: {text}" if text else name, secrets)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message (attach to a logger or handler).

    The record's message is rendered once with its arguments and replaced by the
    redacted text, so a secret passed as an argument is masked too.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        masked = redact(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now (handlers reuse exc_text) so the exception's text is masked too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def secrets_from_env(names: Iterable[str | None], environ: Mapping[str, str] | None = None) -> list[str]:
    """What to redact for the environment variables NAMED (webhookEnv, bearerTokenEnv, ...): their
    values, and for URL values their revealing parts. Unset or empty variables give nothing."""
    env = os.environ if environ is None else environ
    found: list[str] = []
    for name in names:
        value = env.get(name) if name else None
        if not value:
            continue
        found.append(value)
        if "://" in value:
            found += url_secrets(value)
    return list(dict.fromkeys(found))
