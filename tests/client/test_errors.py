"""Every error code of contract §5 lands in the class that tells the caller what to do."""

from __future__ import annotations

import pickle

import pytest

from mediapost.errors import (
    AlbumFull,
    AlbumInvalid,
    BadFile,
    CallIdRejected,
    ConfigurationError,
    MalformedResponse,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    SessionExpired,
    TransientError,
    UnknownApiError,
    error_for,
)
from mediapost.redaction import Redactor


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (1, TransientError),
        (2, TransientError),
        (4, RateLimited),
        (5, ConfigurationError),
        (100, BadFile),
        (101, ConfigurationError),
        (102, SessionExpired),
        (103, CallIdRejected),
        (104, ConfigurationError),
        (112, ConfigurationError),
        (120, AlbumInvalid),
        (321, AlbumFull),
        (324, BadFile),
        (3, UnknownApiError),
        (200, UnknownApiError),
        (9999, UnknownApiError),
    ],
)
def test_each_code_maps_to_its_class(code: int, cls: type[MediaPostError]) -> None:
    """The exact class (not just a base) for each documented code; others are unknown."""
    exc = error_for(code, "message", "up.photos.upload")
    assert type(exc) is cls
    assert exc.code == code
    assert exc.method == "up.photos.upload"


def test_call_id_rejection_is_transient_and_malformed_is_in_doubt() -> None:
    """103 is retried like a transient fault; a malformed answer means reconcile."""
    assert issubclass(CallIdRejected, TransientError)
    assert issubclass(MalformedResponse, OutcomeInDoubt)
    assert not issubclass(OutcomeInDoubt, TransientError)


def test_message_carries_code_and_server_text() -> None:
    """``str`` is what a log line shows."""
    exc = error_for(2, "The service is not available at this time.", "up.photos.get")
    assert str(exc) == "2: The service is not available at this time."
    assert repr(exc) == (
        "TransientError(code=2, method='up.photos.get', http_status=None, "
        "message='The service is not available at this time.')"
    )


def test_message_loses_control_characters_and_newlines() -> None:
    """A server message cannot forge a log line or colour a terminal."""
    exc = error_for(1, "bad\nlevel=info event=forged\x1b[31m\u202e", None)
    assert "\n" not in str(exc)
    assert "\x1b" not in str(exc)
    assert "\u202e" not in str(exc)
    assert str(exc) == "1: bad level=info event=forged [31m"


def test_error_for_redacts_the_message() -> None:
    """A secret echoed in error_msg is masked."""
    exc = error_for(104, "bad sig for secret hunter2", "m", redactor=Redactor(["hunter2"]))
    assert str(exc) == "104: bad sig for secret ***"


def test_errors_survive_pickling_with_their_attributes() -> None:
    """Celery stores exceptions: code, method and message come back intact."""
    exc = error_for(321, "Album is full", "up.photos.upload")
    exc.attempts = 3
    clone = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    assert type(clone) is AlbumFull
    assert (clone.code, clone.method, clone.attempts, str(clone)) == (
        321,
        "up.photos.upload",
        3,
        "321: Album is full",
    )
