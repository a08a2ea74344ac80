"""The one place that touches httpx: send a POST, read a capped reply, translate every fault.

How a fault is classified (the body knows whether it went out whole, see ``streaming``):

* connect error/timeout, pool timeout, write error/timeout, proxy refusal: nothing reached
  the server whole, so nothing was applied -> ``TransientError``;
* read timeout, read error, remote protocol error (server hung up without an answer), a broken
  content encoding: ``TransientError`` if the body was incomplete, otherwise ``OutcomeInDoubt``
  for a call that changes something (upload, createAlbum), ``TransientError`` for a read-only one;
* an unsupported scheme: ``ConfigurationError``.

HTTP statuses without a readable API error in the body (``error_for_status``): 5xx and 408 are
transient (contract §3: a 5xx is treated like code 2); 429 is ``RateLimited``; 413 is
``BadFile``; any other status (3xx, 4xx) means the endpoint or a proxy refused the request,
which no retry will fix -> ``ConfigurationError``.

Our exception is raised outside the handler with a redacted one-line message, so neither its
``__cause__`` nor its ``__context__`` is the httpx exception: that holds the request, and the
request holds the session key and signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from mediapost.errors import (
    BadFile,
    ConfigurationError,
    MalformedResponse,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    TransientError,
)
from mediapost.redaction import Redactor
from mediapost.streaming import StreamedBody

# Faults that happen before the server can have a whole request.
_NOTHING_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.ProxyError,
)


@dataclass(frozen=True)
class Reply:
    """What came back: the HTTP status and at most the capped number of body bytes."""

    status: int
    body: bytes


def post(
    http: httpx.Client,
    url: str,
    body: StreamedBody,
    headers: Mapping[str, str],
    *,
    timeout: httpx.Timeout,
    max_response_bytes: int,
    method: str,
    idempotent: bool,
    redactor: Redactor,
) -> Reply:
    """POST the body with an explicit Content-Length (never chunked); faults become our errors."""
    request = http.build_request(
        "POST",
        url,
        content=body,
        headers={
            **headers,
            "Content-Length": str(body.length),
            # A compressed answer could inflate far past the cap inside a single chunk.
            "Accept-Encoding": "identity",
        },
        timeout=timeout,
    )
    try:
        response = http.send(request, stream=True)
        try:
            content = read_capped(response, max_response_bytes)
        finally:
            response.close()
    except httpx.HTTPError as exc:
        error = transport_error(
            exc,
            method=method,
            idempotent=idempotent,
            body_complete=body.complete,
            redactor=redactor,
        )
    else:
        return Reply(response.status_code, content)
    # Raised outside the handler, so not even __context__ points at the httpx exception.
    raise error


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The response body, refusing to read (or hold) more than ``limit`` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MalformedResponse(f"response declares {declared} bytes, more than {limit}")
    content = bytearray()
    for chunk in response.iter_bytes():
        content += chunk
        if len(content) > limit:
            raise MalformedResponse(f"response larger than {limit} bytes")
    return bytes(content)


def transport_error(
    exc: httpx.HTTPError,
    *,
    method: str,
    idempotent: bool,
    body_complete: bool,
    redactor: Redactor,
) -> MediaPostError:
    """Our exception for an httpx fault, by when it happened (see the module docstring)."""
    detail = redactor(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, _NOTHING_SENT):
        return TransientError(detail, None, method)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(detail, None, method)
    if not body_complete or idempotent:
        return TransientError(detail, None, method)
    return OutcomeInDoubt(detail, None, method)


def error_for_status(status: int, *, method: str) -> MediaPostError:
    """Our exception for a non-2xx status whose body held no API error."""
    detail = f"unexpected HTTP status {status}"
    if status >= 500 or status == 408:
        return TransientError(detail, None, method, http_status=status)
    if status == 429:
        return RateLimited(detail, None, method, http_status=status)
    if status == 413:
        return BadFile("file too large for the server", None, method, http_status=status)
    return ConfigurationError(detail, None, method, http_status=status)
