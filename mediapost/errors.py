"""What can go wrong in a MediaPost call, as one exception tree sorted by what the caller does.

Our exception hierarchy (API codes of contract §5 in brackets):

* MediaPostError
  + TransientError           [1, 2, HTTP 5xx, connect/pool/write faults] retry with backoff
    - CallIdRejected         [103] retry at once with a new call_id
  + OutcomeInDoubt           request sent, no usable answer: reconcile, never blindly resend
    - MalformedResponse      unparseable, oversized or wrongly shaped answer
  + RateLimited              [4] every worker waits for the rate window
  + SessionExpired           [102] pause until a new session key is configured
  + AlbumFull                [321] roll over to a new album
  + AlbumInvalid             [120] forget the album, roll over to a new one
  + BadFile                  [100, 324] set the file aside with the reason
    - FileChanged            the local file changed or became unreadable while being sent
  + ConfigurationError       [5, 101, 104, 112] stop and alert an operator
  + UnknownApiError          [any other code] set the file aside with code and message

Messages are sanitized on construction; the server's ``request_args`` echo never reaches one.
"""

from __future__ import annotations

from mediapost.redaction import Redactor, strip_control


class MediaPostError(Exception):
    """Base of every error the client raises; ``code`` is the API's code when it sent one."""

    code: int | None
    method: str | None
    http_status: int | None
    attempts: int

    def __init__(
        self,
        message: str = "",
        code: int | None = None,
        method: str | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        message = strip_control(message)
        # Only the message goes into args: pickling (Celery) rebuilds with cls(message) and then
        # restores the attributes from __dict__.
        super().__init__(message)
        self.message = message
        self.code = code
        self.method = method
        self.http_status = http_status
        self.attempts = 1

    def __str__(self) -> str:
        if self.code is not None:
            return f"{self.code}: {self.message}"
        if self.http_status is not None:
            return f"HTTP {self.http_status}: {self.message}"
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, method={self.method!r}, "
            f"http_status={self.http_status!r}, message={self.message!r})"
        )


class TransientError(MediaPostError):
    """Nothing was applied and the service may recover: retry the call with backoff."""


class CallIdRejected(TransientError):
    """The call_id was not above the session's last one (103): retry at once with a new one."""


class OutcomeInDoubt(MediaPostError):
    """The request went out whole but no usable answer came back: reconcile before resending."""


class MalformedResponse(OutcomeInDoubt):
    """The answer could not be read (garbage, DTD, oversized, wrong shape): reconcile."""


class RateLimited(MediaPostError):
    """The application's request limit is reached (4): every worker waits for the window."""


class SessionExpired(MediaPostError):
    """The session key is invalid or timed out (102): keep the file, wait for a new key."""


class AlbumFull(MediaPostError):
    """The target album holds its maximum (321): roll over to a new album and upload there."""


class AlbumInvalid(MediaPostError):
    """The album id is unknown (120): forget that album, roll over to a new one, retry."""


class BadFile(MediaPostError):
    """The server (100, 324) or the client refused this file: set it aside with the reason."""


class FileChanged(BadFile):
    """The local file changed or failed to read mid-send; nothing was stored: re-check it."""


class ConfigurationError(MediaPostError):
    """Key, secret, address or endpoint is wrong (5, 101, 104, 112): stop and alert."""


class UnknownApiError(MediaPostError):
    """A code the contract does not list: set the file aside with the code and message."""


ERROR_CLASSES: dict[int, type[MediaPostError]] = {
    1: TransientError,
    2: TransientError,
    4: RateLimited,
    5: ConfigurationError,
    100: BadFile,
    101: ConfigurationError,
    102: SessionExpired,
    103: CallIdRejected,
    104: ConfigurationError,
    112: ConfigurationError,
    120: AlbumInvalid,
    321: AlbumFull,
    324: BadFile,
}


def error_for(
    code: int, message: str, method: str | None, *, redactor: Redactor | None = None
) -> MediaPostError:
    """The exception for an API error code (contract §5), its message redacted."""
    cls = ERROR_CLASSES.get(code, UnknownApiError)
    return cls(redactor(message) if redactor else message, code, method)
