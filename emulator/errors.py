"""MediaPost error codes and the exception that carries one out of a method handler."""

from __future__ import annotations

UNKNOWN = 1
SERVICE_UNAVAILABLE = 2
REQUEST_LIMIT = 4
REMOTE_ADDRESS = 5
BAD_PARAMETER = 100
UNKNOWN_API_KEY = 101
BAD_SESSION = 102
BAD_CALL_ID = 103
BAD_SIGNATURE = 104
UNKNOWN_METHOD = 112
BAD_ALBUM = 120
ALBUM_FULL = 321
BAD_IMAGE = 324

MESSAGES: dict[int, str] = {
    UNKNOWN: "An unknown error occurred. Please resubmit the request.",
    SERVICE_UNAVAILABLE: "The service is not available at this time.",
    REQUEST_LIMIT: "The application has reached the maximum number of requests allowed. "
    "More requests are allowed once the time window has completed.",
    REMOTE_ADDRESS: "The request came from a remote address not allowed by this application.",
    BAD_PARAMETER: "One of the parameters specified was missing or invalid.",
    UNKNOWN_API_KEY: "The api key submitted is not associated with any known application.",
    BAD_SESSION: "The session key was improperly submitted or has reached its timeout. "
    "Direct the user to log in again to obtain another key.",
    BAD_CALL_ID: "The call_id was not greater than the previous call_id for this session.",
    BAD_SIGNATURE: "Incorrect signature.",
    UNKNOWN_METHOD: "Unknown method.",
    BAD_ALBUM: "Invalid album id.",
    ALBUM_FULL: "Album is full.",
    BAD_IMAGE: "Missing or invalid image file.",
}


def message_for(code: int, detail: str | None = None) -> str:
    """The standard message for a code, with a detail appended so a human can see what was wrong."""
    base = MESSAGES.get(code, "An error occurred.")
    return f"{base} {detail}" if detail else base


class ApiError(Exception):
    """A MediaPost error response: the handler raises it, the endpoint renders it with HTTP 200."""

    def __init__(self, code: int, detail: str | None = None, *, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else message_for(code, detail)
        super().__init__(f"{code}: {self.message}")
