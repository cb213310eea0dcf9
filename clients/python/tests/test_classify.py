"""The classification table: outcomes and retry hints from HTTP statuses, headers and exceptions."""

from __future__ import annotations

import asyncio
import datetime
import email.message
import email.utils
from typing import Any

import pytest

from breakerbox import Classification, Outcome, classify_exception, classify_http_status, parse_retry_after, retry_after_from_headers
from conftest import HttpError

F, I, S, T = Outcome.FAILURE, Outcome.IGNORED, Outcome.SUCCESS, Outcome.TIMEOUT
#: "now" for HTTP dates: 30 s before the date in the table.
NOW = email.utils.parsedate_to_datetime("Fri, 15 Jan 2027 08:00:00 GMT").timestamp()


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, None, Classification(S)),
        (302, None, Classification(S)),
        (400, None, Classification(I)),
        (401, {"retry-after": "5"}, Classification(I)),
        (404, None, Classification(I)),
        (429, None, Classification(F)),
        (429, {"retry-after-ms": "1500"}, Classification(F, 1.5)),
        (429, {"Retry-After-Ms": "250", "Retry-After": "9"}, Classification(F, 0.25)),
        (429, {"Retry-After": "7"}, Classification(F, 7.0)),
        (503, {"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, Classification(F, 30.0)),
        (429, {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, Classification(F, 360.0)),
        (429, {"x-ratelimit-reset-tokens": "20ms"}, Classification(F, 0.02)),
        (429, {"x-ratelimit-reset": "12"}, Classification(F, 12.0)),
        (429, {"retry-after": "soon", "x-ratelimit-reset-requests": "1m30s"}, Classification(F, 90.0)),
        (429, {"x-ratelimit-reset-requests": "1x"}, Classification(F)),
        (500, None, Classification(F)),
        (502, {}, Classification(F)),
    ],
)
def test_http_status(status: int, headers: Any, expected: Classification) -> None:
    assert classify_http_status(status, headers, now=NOW) == expected


class Response:
    def __init__(self, status_code: int, headers: Any) -> None:
        self.status_code = status_code
        self.headers = headers


class SdkError(Exception):
    """Like openai.APIStatusError: the status on `status_code`, headers on `response`."""

    def __init__(self, status: int, headers: Any = None) -> None:
        super().__init__("sdk error")
        self.status_code = status
        self.response = Response(status, headers or {})


class ResponseOnly(Exception):
    """Like requests.HTTPError: only `response` carries the status."""

    def __init__(self, status: int, headers: Any = None) -> None:
        super().__init__("http error")
        self.response = Response(status, headers or {})


class UrllibLike(Exception):
    """Like urllib.error.HTTPError: `code` and an email.message.Message of headers."""

    def __init__(self, code: int, headers: email.message.Message) -> None:
        super().__init__("urllib")
        self.code = code
        self.headers = headers


class APITimeoutError(Exception):
    """Named like openai's and anthropic's timeout errors (not a TimeoutError subclass)."""


class ReadTimeout(Exception):
    """Named like httpx.ReadTimeout."""


def message(**headers: str) -> email.message.Message:
    m = email.message.Message()
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    return m


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (RuntimeError("boom"), Classification(F)),
        (TimeoutError(), Classification(T)),
        (asyncio.TimeoutError(), Classification(T)),
        (APITimeoutError(), Classification(T)),
        (ReadTimeout(), Classification(T)),
        (KeyboardInterrupt(), Classification(I)),
        (asyncio.CancelledError(), Classification(I)),
        (HttpError(404), Classification(I)),
        (HttpError(429, {"retry-after-ms": "2000"}), Classification(F, 2.0)),
        (HttpError(200), Classification(F)),
        (SdkError(529, {"retry-after": "3"}), Classification(F, 3.0)),
        (SdkError(422), Classification(I)),
        (ResponseOnly(503, {"Retry-After": "4"}), Classification(F, 4.0)),
        (ResponseOnly(403), Classification(I)),
        (UrllibLike(429, message(Retry_After="8")), Classification(F, 8.0)),
        (UrllibLike(400, message()), Classification(I)),
    ],
)
def test_exceptions(err: BaseException, expected: Classification) -> None:
    assert classify_exception(err) == expected


def test_a_retry_after_attribute_wins() -> None:
    err = HttpError(429, {"Retry-After": "9"})
    err.retry_after = datetime.timedelta(seconds=2)  # type: ignore[attr-defined]
    assert classify_exception(err) == Classification(F, 2.0)


def test_retry_after_values() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == 6.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=20.0) == 0.0
    assert parse_retry_after("-3") is None
    assert parse_retry_after("later") is None
    assert retry_after_from_headers(None) is None
    assert retry_after_from_headers({"x-ratelimit-remaining-requests": "0"}) is None
