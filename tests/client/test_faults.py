"""Transport faults and HTTP statuses become our errors, by whether anything was applied."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import httpx
import pytest

from mediapost import (
    BadFile,
    ConfigurationError,
    MalformedResponse,
    MediaPostClient,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    TransientError,
)

from .fakes import CREDENTIALS, PHOTO_XML, Server, client_for, error_xml, ok

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 100
Call = Callable[[MediaPostClient], object]


def _upload(client: MediaPostClient) -> object:
    return client.upload(io.BytesIO(JPEG), filename="x.jpg", aid="1")


def _create_album(client: MediaPostClient) -> object:
    return client.create_album("Holidays")


def _get_photos(client: MediaPostClient) -> object:
    return client.get_photos(aid="1")


NOT_SENT = [
    httpx.ConnectError("connection refused"),
    httpx.ConnectTimeout("connect timed out"),
    httpx.PoolTimeout("pool timed out"),
    httpx.WriteError("broken pipe"),
    httpx.WriteTimeout("write timed out"),
]
NO_ANSWER = [
    httpx.ReadTimeout("read timed out"),
    httpx.ReadError("connection reset by peer"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
]


@pytest.mark.parametrize("fault", NOT_SENT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("call", [_upload, _create_album, _get_photos])
def test_faults_before_the_request_went_out_whole_are_transient(
    fault: Exception, call: Call
) -> None:
    """Connect, pool and write faults: nothing can have been applied, for any method."""
    with pytest.raises(TransientError) as caught:
        call(client_for(Server([fault]), attempts=1))
    assert type(caught.value) is TransientError
    assert type(fault).__name__ in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@pytest.mark.parametrize("fault", NO_ANSWER, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("call", [_upload, _create_album])
def test_no_answer_to_a_whole_request_that_changes_something_is_in_doubt(
    fault: Exception, call: Call
) -> None:
    """Read timeout, reset or hang-up after the body: the photo or album may exist."""
    server = Server([fault])
    with pytest.raises(OutcomeInDoubt) as caught:
        call(client_for(server, attempts=5))
    assert type(caught.value) is OutcomeInDoubt
    assert len(server.requests) == 1  # never blindly re-sent


@pytest.mark.parametrize("fault", NO_ANSWER, ids=lambda e: type(e).__name__)
def test_no_answer_to_a_read_only_call_is_transient(fault: Exception) -> None:
    """Reading again is harmless, so the same faults are simply transient."""
    with pytest.raises(TransientError):
        _get_photos(client_for(Server([fault]), attempts=1))


class _HangUpMidBody(httpx.BaseTransport):
    """Reads part of the body, then the server goes away (httpcore then reports no WriteError)."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        stream = iter(request.stream)
        self.bytes_read += len(next(stream))
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_connection_dropped_before_the_body_completed_is_transient_for_an_upload() -> None:
    """Half a body cannot have been stored, whatever the exception class says."""
    transport = _HangUpMidBody()
    client = client_for(Server([ok(PHOTO_XML)]), attempts=1, transport=transport)
    with pytest.raises(TransientError):
        client.upload(io.BytesIO(JPEG), filename="x.jpg")
    assert transport.bytes_read > 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(status: int) -> None:
    """A 5xx without an API error in the body is treated like code 2 (contract §3)."""
    with pytest.raises(TransientError) as caught:
        _upload(client_for(Server([ok(b"<html>oops</html>", status)]), attempts=1))
    assert caught.value.http_status == status
    assert caught.value.code is None


def test_an_api_error_body_wins_over_the_http_status() -> None:
    """A 503 carrying error_response code 4 is a rate limit, not a generic 5xx."""
    with pytest.raises(RateLimited) as caught:
        _upload(client_for(Server([ok(error_xml(4, "Too many calls"), 503)]), attempts=1))
    assert caught.value.code == 4


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (408, TransientError),
        (429, RateLimited),
        (413, BadFile),
        (400, ConfigurationError),
        (403, ConfigurationError),
        (404, ConfigurationError),
        (301, ConfigurationError),
    ],
)
def test_other_statuses_map_to_what_the_caller_should_do(
    status: int, cls: type[MediaPostError]
) -> None:
    """408 retry, 429 wait, 413 set the file aside, anything else is a setup problem."""
    with pytest.raises(cls) as caught:
        _upload(client_for(Server([ok(b"", status)]), attempts=1))
    assert type(caught.value) is cls
    assert caught.value.http_status == status


def test_garbage_answer_to_an_upload_is_in_doubt_and_not_retried() -> None:
    """A 200 that does not parse: the photo may exist, so reconcile."""
    server = Server([ok(b"<html>maintenance</html")])
    with pytest.raises(MalformedResponse):
        _upload(client_for(server))
    assert len(server.requests) == 1


def test_upload_answer_without_ids_is_malformed() -> None:
    """A success without pid/aid/owner cannot be recorded: reconcile."""
    with pytest.raises(MalformedResponse, match="pid"):
        _upload(
            client_for(
                Server([ok(b"<photos_upload_response><aid>1</aid></photos_upload_response>")])
            )
        )


def test_garbage_answer_to_a_read_only_call_is_retried_then_reported() -> None:
    """An idempotent call tries again; if it stays garbage the caller gets MalformedResponse."""
    server = Server([ok(b"not xml")])
    with pytest.raises(MalformedResponse) as caught:
        _get_photos(client_for(server, attempts=3))
    assert len(server.requests) == 3
    assert caught.value.attempts == 3


def test_declared_oversized_response_is_refused_without_reading() -> None:
    """A Content-Length past the cap is refused before any byte is read."""

    def body() -> Iterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    big = httpx.Response(200, headers={"Content-Length": "10000000"}, content=body())
    with pytest.raises(MalformedResponse, match="declares"):
        _upload(client_for(Server([big]), max_response_bytes=1000))


def test_streamed_response_stops_being_read_past_the_cap() -> None:
    """Without a Content-Length the reader stops one chunk past the cap."""
    pulled = []

    def body() -> Iterator[bytes]:
        for n in range(1000):
            pulled.append(n)
            yield b"<" * 1024

    with pytest.raises(MalformedResponse, match="larger than"):
        _upload(client_for(Server([httpx.Response(200, content=body())]), max_response_bytes=4096))
    assert len(pulled) <= 5


def test_an_unsupported_scheme_in_the_endpoint_is_refused_at_construction() -> None:
    """Configuration mistakes surface before the first call."""
    with pytest.raises(ValueError, match="http"):
        MediaPostClient("ftp://example/api.php", CREDENTIALS)
