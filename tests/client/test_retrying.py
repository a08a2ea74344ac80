"""The retry policy: what is retried, with which waits, until when; each attempt rebuilt."""

from __future__ import annotations

import io

import httpx
import pytest
from structlog.testing import capture_logs

from mediapost import (
    BadFile,
    ConfigurationError,
    OutcomeInDoubt,
    RateLimited,
    RetryPolicy,
    SessionExpired,
    TransientError,
)

from .fakes import PHOTO_XML, SECRET, SESSION_KEY, FakeTime, Server, client_for, error_xml, ok

JPEG = b"\xff\xd8\xff\xe0" + b"image-bytes" * 10
ALBUMS = b'<photos_getAlbums_response list="true"></photos_getAlbums_response>'


def _multipart_value(body: bytes, name: str) -> bytes:
    marker = f'name="{name}"\r\n\r\n'.encode()
    start = body.index(marker) + len(marker)
    return body[start : body.index(b"\r\n", start)]


def test_codes_1_and_2_are_retried_to_success_with_a_new_call_id_and_sig() -> None:
    """Each attempt is rebuilt: fresh call_id, fresh signature, the whole file again."""
    server = Server(
        [ok(error_xml(1, "Unknown error")), ok(error_xml(2, "Unavailable")), ok(PHOTO_XML)]
    )
    time = FakeTime()
    result = client_for(server, time=time).upload(io.BytesIO(JPEG), filename="x.jpg")

    assert result.attempts == 3
    assert result.photo.pid == "940915697041656"
    bodies = [request.content for request in server.requests]
    call_ids = [_multipart_value(body, "call_id") for body in bodies]
    sigs = [_multipart_value(body, "sig") for body in bodies]
    assert [float(c) for c in call_ids] == sorted({float(c) for c in call_ids})
    assert len(set(sigs)) == 3
    assert all(b"\r\n\r\n" + JPEG + b"\r\n--" in body for body in bodies)
    assert time.sleeps == [1.0, 2.0]


def test_connect_errors_are_retried() -> None:
    """Nothing was sent, so a retry is safe for any method, uploads included."""
    server = Server([httpx.ConnectError("refused"), ok(PHOTO_XML)])
    result = client_for(server).upload(io.BytesIO(JPEG), filename="x.jpg")
    assert result.attempts == 2


def test_call_id_rejection_is_retried_at_once() -> None:
    """103 gets a new call_id and no wait; other waits keep their backoff."""
    server = Server([ok(error_xml(103, "call_id too low")), ok(error_xml(2, "busy")), ok(ALBUMS)])
    time = FakeTime()
    client_for(server, time=time).get_albums(uid="1")
    assert time.sleeps == [0.0, 2.0]
    assert len({server.form(n)["call_id"] for n in range(3)}) == 3


@pytest.mark.parametrize(
    ("code", "cls"),
    [(100, BadFile), (104, ConfigurationError), (4, RateLimited), (102, SessionExpired)],
)
def test_permanent_and_caller_handled_codes_are_not_retried(code: int, cls: type) -> None:
    """Bad parameter, bad signature, rate limit and expired session go straight to the caller."""
    server = Server([ok(error_xml(code, "no"))])
    time = FakeTime()
    with pytest.raises(cls):
        client_for(server, time=time).upload(io.BytesIO(JPEG), filename="x.jpg")
    assert len(server.requests) == 1
    assert time.sleeps == []


def test_attempt_cap_stops_retrying_and_reports_the_count() -> None:
    """After max_attempts the last error is raised as itself (not RetryError)."""
    server = Server([ok(error_xml(2, "down"))])
    time = FakeTime()
    with pytest.raises(TransientError) as caught:
        client_for(server, time=time, attempts=4).get_albums(uid="1")
    assert type(caught.value) is TransientError
    assert caught.value.code == 2
    assert caught.value.attempts == 4
    assert len(server.requests) == 4
    assert time.sleeps == [1.0, 2.0, 4.0]


def test_total_time_budget_stops_before_a_wait_that_would_cross_it() -> None:
    """With 5 s of budget: waits of 1 and 2 s fit, the next 4 s would not."""
    server = Server([ok(error_xml(2, "down"))])
    time = FakeTime()
    with pytest.raises(TransientError) as caught:
        client_for(server, time=time, attempts=10, budget=5.0).get_albums(uid="1")
    assert time.sleeps == [1.0, 2.0]
    assert caught.value.attempts == 3


def test_slow_attempts_count_against_the_budget() -> None:
    """An attempt that itself takes longer than the budget is not followed by another."""
    time = FakeTime()

    def slow_failure(request: httpx.Request) -> httpx.Response:
        time.now += 40.0
        return ok(error_xml(2, "down"))

    server = Server([slow_failure])
    with pytest.raises(TransientError):
        client_for(server, time=time, attempts=10).get_albums(uid="1")
    assert len(server.requests) == 2  # 40 s, then 1 s wait + 40 s crosses the 60 s budget
    assert time.sleeps == [1.0]


def test_upload_read_timeout_is_in_doubt_and_never_retried() -> None:
    """The body went out whole; re-sending could store the photo twice."""
    server = Server([httpx.ReadTimeout("timed out"), ok(PHOTO_XML)])
    time = FakeTime()
    with capture_logs() as logs, pytest.raises(OutcomeInDoubt) as caught:
        client_for(server, time=time).upload(io.BytesIO(JPEG), filename="x.jpg")
    assert caught.value.attempts == 1
    assert len(server.requests) == 1
    assert time.sleeps == []
    assert [log for log in logs if log["event"] == "api.retry"] == []


def test_read_only_calls_retry_a_read_timeout() -> None:
    """Reading again is harmless."""
    server = Server([httpx.ReadTimeout("timed out"), ok(ALBUMS)])
    assert client_for(server).get_albums(uid="1") == []
    assert len(server.requests) == 2


def test_each_retry_is_logged_without_secrets() -> None:
    """One ``api.retry`` warning per retry with method, attempt, code and wait."""
    server = Server(
        [
            ok(error_xml(2, f"down for {SESSION_KEY}", {"session_key": SESSION_KEY})),
            httpx.ConnectTimeout("slow"),
            ok(ALBUMS),
        ]
    )
    with capture_logs() as logs:
        client_for(server).get_albums(uid="1")
    assert logs == [
        {
            "event": "api.retry",
            "log_level": "warning",
            "method": "up.photos.getAlbums",
            "attempt": 1,
            "code": 2,
            "error": "TransientError",
            "wait_s": 1.0,
        },
        {
            "event": "api.retry",
            "log_level": "warning",
            "method": "up.photos.getAlbums",
            "attempt": 2,
            "code": None,
            "error": "TransientError",
            "wait_s": 2.0,
        },
    ]
    assert SECRET not in repr(logs) and SESSION_KEY not in repr(logs)


def test_waits_are_drawn_with_full_jitter_in_a_doubling_window_capped_at_max() -> None:
    """Each wait is uniform in [0, min(max, initial * 2**(n-1))]."""
    windows: list[tuple[float, float]] = []
    time = FakeTime()

    def draw(low: float, high: float) -> float:
        windows.append((low, high))
        return high / 2

    policy = RetryPolicy(
        max_attempts=6,
        initial_wait=0.5,
        max_wait=3.0,
        budget=1000.0,
        sleep=time.sleep,
        clock=time.clock,
        jitter=draw,
    )

    def always_down() -> None:
        raise TransientError("down", 2, "m")

    with pytest.raises(TransientError):
        policy.run(always_down, method="m", idempotent=True)
    # tenacity draws a wait before deciding to stop, so the last draw is never slept.
    assert windows[:5] == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (0.0, 3.0)]
    assert time.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_default_jitter_stays_inside_its_window() -> None:
    """The real random draw never exceeds the window (so never the max)."""
    time = FakeTime()
    policy = RetryPolicy(
        max_attempts=8, initial_wait=1.0, max_wait=4.0, sleep=time.sleep, clock=time.clock
    )

    def always_down() -> None:
        raise TransientError("down", 1, "m")

    with pytest.raises(TransientError):
        policy.run(always_down, method="m", idempotent=True)
    highs = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(time.sleeps) == len(highs)
    assert all(0.0 <= wait <= high for wait, high in zip(time.sleeps, highs, strict=True))


def test_unexpected_exceptions_are_not_retried() -> None:
    """A bug in our code is not a transient fault."""
    calls = []

    def buggy() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        RetryPolicy(sleep=lambda s: None).run(buggy, method="m", idempotent=True)
    assert calls == [1]
