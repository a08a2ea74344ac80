"""The MediaPost API client: signed, retried, streamed calls and a small error tree."""

from mediapost.callids import CallIdClock
from mediapost.client import MediaPostClient
from mediapost.credentials import Credentials
from mediapost.errors import (
    AlbumFull,
    AlbumInvalid,
    BadFile,
    CallIdRejected,
    ConfigurationError,
    FileChanged,
    MalformedResponse,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    SessionExpired,
    TransientError,
    UnknownApiError,
    error_for,
)
from mediapost.imagetypes import content_type_for
from mediapost.models import Album, Community, Photo, Session, UploadResult
from mediapost.redaction import Redactor
from mediapost.retrying import RetryPolicy
from mediapost.signing import signature

__all__ = [
    "Album",
    "AlbumFull",
    "AlbumInvalid",
    "BadFile",
    "CallIdClock",
    "CallIdRejected",
    "Community",
    "ConfigurationError",
    "Credentials",
    "FileChanged",
    "MalformedResponse",
    "MediaPostClient",
    "MediaPostError",
    "OutcomeInDoubt",
    "Photo",
    "RateLimited",
    "Redactor",
    "RetryPolicy",
    "Session",
    "SessionExpired",
    "TransientError",
    "UnknownApiError",
    "UploadResult",
    "content_type_for",
    "error_for",
    "signature",
]
