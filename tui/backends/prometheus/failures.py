"""What went wrong with a Prometheus query, in a few words an operator can act on.

`describe_failure` turns an exception from requests or prometheus-api-client into a short
reason ("connection refused", "timed out after 1.0s", "HTTP 401: unauthorized (check
metrics.auth)"); `severity` picks which of several failed queries to report (the most
basic failure explains the others). requests is passed in because it is imported lazily.
The texts are not redacted here: the source redacts its credentials from them.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any


def fmt_seconds(seconds: float) -> str:
    return f"{seconds:.1f}s" if float(seconds * 10).is_integer() else f"{seconds:g}s"


def is_transport(exc: BaseException, requests: Any) -> bool:
    return isinstance(exc, requests.RequestException) and not isinstance(exc, requests.exceptions.InvalidJSONError)


def severity(exc: BaseException, requests: Any) -> int:
    """Which failure to report when several queries failed: the most basic one."""
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        return 0
    if isinstance(exc, requests.Timeout):
        return 1
    if isinstance(exc, requests.RequestException):
        return 2
    return 3


_API_ERROR = re.compile(r"^HTTP Status Code (\d+) \((.*)\)$", re.S)


def describe_failure(exc: BaseException, timeout: float, requests: Any) -> str:
    """A short operator-facing reason (not yet redacted)."""
    if isinstance(exc, requests.exceptions.InvalidJSONError):  # a 200 that is not the API (a login page)
        return "the answer is not Prometheus API JSON"
    if isinstance(exc, requests.Timeout):
        return f"timed out after {fmt_seconds(timeout)}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: " + _first_line(_innermost(exc))
    if isinstance(exc, requests.ConnectionError):
        text = _chain_text(exc)
        low = text.lower()
        if "refused" in low:
            return "connection refused"
        if "timed out" in low or "timeout" in low:
            return f"timed out after {fmt_seconds(timeout)}"
        if "name or service not known" in low or "nodename nor servname" in low or "resolution" in low:
            return "cannot resolve the host"
        if "reset" in low or "aborted" in low or "remotedisconnected" in low:
            return "connection reset"
        return "connection failed: " + _first_line(_innermost(exc))
    if isinstance(exc, requests.RequestException):
        return f"{type(exc).__name__}: " + _first_line(_innermost(exc))
    m = _API_ERROR.match(str(exc))
    if m:
        return _api_error(int(m.group(1)), m.group(2))
    if isinstance(exc, ValueError):  # includes JSON decode errors: not the Prometheus API
        return "the answer is not Prometheus API JSON"
    if isinstance(exc, (KeyError, TypeError, IndexError)):
        return "the answer is not shaped like a Prometheus API result"
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _api_error(code: int, body_repr: str) -> str:
    detail = ""
    try:
        body = ast.literal_eval(body_repr)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    except (ValueError, SyntaxError):
        text = body_repr
    try:
        payload = json.loads(text)
        detail = str(payload.get("error") or payload.get("errorType") or "")
    except (ValueError, AttributeError):
        detail = text.strip()
    if code in (401, 403):
        detail = ("unauthorized" if code == 401 else "forbidden") + " (check metrics.auth)" + (
            f": {_first_line(detail)}" if detail else "")
    return f"HTTP {code}" + (f": {_first_line(detail)}" if detail else "")


def _first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _chain_text(exc: BaseException) -> str:
    parts, seen = [], set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        parts.append(f"{type(e).__name__}: {e}")
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__] if isinstance(e, BaseException) else [])
        if isinstance(e, BaseException):
            stack.extend(a for a in e.args if isinstance(a, BaseException))
    return " | ".join(parts)


def _innermost(exc: BaseException) -> str:
    e: Any = exc
    for _ in range(10):
        nxt = getattr(e, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = e.args[0] if e.args and isinstance(e.args[0], BaseException) else None
        if nxt is None or nxt is e:
            break
        e = nxt
    return str(e)
