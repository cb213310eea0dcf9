"""How a guarded call's result counts for its circuit, and the dependency's
own back-off hint, read from HTTP statuses and headers.

Exceptions of HTTP clients and LLM SDKs (httpx, requests, urllib, openai,
anthropic) are recognized by their attributes, without importing them: a
status in `status_code`, `status` or `response.status_code` / `response.status`,
headers in `headers` or `response.headers`.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import re
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable


class Outcome(IntEnum):
    """breakerbox.v1.Outcome: how a call counts."""

    SUCCESS = 1
    FAILURE = 2
    TIMEOUT = 3
    #: Says nothing about the dependency (the caller's own bad request): not counted.
    IGNORED = 4


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    #: Seconds the dependency asked to wait (429/503 headers), or None.
    retry_after: float | None = None


#: A classifier: how an exception raised by the guarded function counts.
Classifier = Callable[[BaseException], Classification]

_TIMEOUT_NAMES = ("Timeout", "TimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "APITimeoutError")


def classify_http_status(status: int, headers: Any = None, *, now: float | None = None) -> Classification:
    """429 and 5xx are FAILURE with the headers' retry hint; other 4xx are
    IGNORED (the request was wrong, not the dependency); the rest SUCCESS."""
    if status == 429 or status >= 500:
        return Classification(Outcome.FAILURE, retry_after_from_headers(headers, now=now))
    if 400 <= status < 500:
        return Classification(Outcome.IGNORED)
    return Classification(Outcome.SUCCESS)


def classify_exception(err: BaseException) -> Classification:
    """The default classifier: timeouts are TIMEOUT; an error with an HTTP
    status follows `classify_http_status` (a 2xx/3xx status still FAILURE: it
    was raised); Ctrl-C, SystemExit and task cancellation are IGNORED (the
    caller gave up, the dependency did not fail); anything else FAILURE."""
    if not isinstance(err, Exception) or isinstance(err, asyncio.CancelledError):
        return Classification(Outcome.IGNORED)
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)) or any(t.__name__ in _TIMEOUT_NAMES for t in type(err).__mro__):
        return Classification(Outcome.TIMEOUT)
    hint = _retry_after_attribute(err)
    status = http_status_of(err)
    if status is not None:
        c = classify_http_status(status, headers_of(err))
        if c.outcome == Outcome.SUCCESS:
            return Classification(Outcome.FAILURE, hint)
        return Classification(c.outcome, hint if hint is not None else c.retry_after)
    return Classification(Outcome.FAILURE, hint)


def http_status_of(err: object) -> int | None:
    """The HTTP status an error carries (`status_code`, `status`, `code`, or the same on `response`)."""
    for source in (err, getattr(err, "response", None)):
        if source is None:
            continue
        for name in ("status_code", "status", "code"):
            value = getattr(source, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
    return None


def headers_of(err: object) -> Any:
    """The response headers an error carries (`headers` or `response.headers`), or None."""
    for source in (err, getattr(err, "response", None)):
        headers = getattr(source, "headers", None) if source is not None else None
        if headers is not None:
            return headers
    return None


def header(headers: Any, name: str) -> str | None:
    """Header `name` (case-insensitive) of a dict, httpx/requests headers or an email.message.Message."""
    if headers is None:
        return None
    items = getattr(headers, "items", None)
    if callable(items):
        for key, value in items():
            if isinstance(key, str) and key.lower() == name:
                return value if isinstance(value, str) else str(value)
        return None
    get = getattr(headers, "get", None)
    value = get(name) if callable(get) else None
    return value if isinstance(value, str) else None


def retry_after_from_headers(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI, Anthropic), then
    `Retry-After` (seconds or an HTTP date), then the longest
    `x-ratelimit-reset-*` ("1s", "6m0s", "20ms", or plain seconds); None
    when none is present and valid."""
    ms = _number(header(headers, "retry-after-ms"))
    if ms is not None:
        return ms / 1000
    value = header(headers, "retry-after")
    if value is not None:
        parsed = parse_retry_after(value, now=now)
        if parsed is not None:
            return parsed
    resets = [_reset_seconds(v) for k, v in _items(headers) if k.startswith("x-ratelimit-reset")]
    found = [r for r in resets if r is not None]
    return max(found) if found else None


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """An HTTP Retry-After value ("120" or "Wed, 21 Oct 2026 07:28:00 GMT") in seconds from `now` (epoch s)."""
    number = _number(value)
    if number is not None:
        return number
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _reset_seconds(value: str) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s") or plain seconds."""
    number = _number(value)
    if number is not None:
        return number
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def _items(headers: Any) -> list[tuple[str, str]]:
    items = getattr(headers, "items", None)
    if not callable(items):
        return []
    return [(k.lower(), v) for k, v in items() if isinstance(k, str) and isinstance(v, str)]


def _retry_after_attribute(err: BaseException) -> float | None:
    hint = getattr(err, "retry_after", None)
    if isinstance(hint, datetime.timedelta):
        return max(hint.total_seconds(), 0.0)
    if isinstance(hint, (int, float)) and not isinstance(hint, bool):
        return max(float(hint), 0.0)
    return None
