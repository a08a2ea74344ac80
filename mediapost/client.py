"""The MediaPost API client: signed calls over one httpx client, retried by one policy.

Every attempt is built afresh inside the retried function: a new ``call_id``, a new signature,
the file rewound. ``api_key``, ``session_key`` and ``sig`` travel only in the POST body.
Uploads are multipart (the seed's exact layout, the file streamed); every other method is a
form-urlencoded POST (contract §1 Decision).
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeVar
from urllib.parse import urlencode

import httpx

from mediapost.callids import CallIdClock, process_clock
from mediapost.credentials import Credentials
from mediapost.errors import BadFile, MalformedResponse, SessionExpired, error_for
from mediapost.form import layout, new_boundary, normalize_newlines, ordered_fields
from mediapost.imagetypes import SNIFF_BYTES, content_type_for
from mediapost.models import Album, Community, Photo, Session, UploadResult
from mediapost.redaction import Redactor
from mediapost.responses import MAX_RESPONSE_BYTES, ApiFailure, Fields, Payload, parse_response
from mediapost.retrying import RetryPolicy
from mediapost.signing import signature
from mediapost.streaming import DEFAULT_CHUNK, StreamedBody
from mediapost.transport import Reply, error_for_status, post

T = TypeVar("T")

UPLOAD = "up.photos.upload"
CREATE_ALBUM = "up.photos.createAlbum"
GET_ALBUMS = "up.photos.getAlbums"
GET_PHOTOS = "up.photos.get"
GET_COMMUNITIES = "up.community.getList"
CREATE_TOKEN = "up.auth.createToken"  # noqa: S105 - a method name
GET_SESSION = "up.auth.getSession"

FORMATS = ("XML", "JSON")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
FORM_URLENCODED = "application/x-www-form-urlencoded"

FileArg = BinaryIO | str | os.PathLike[str]


class MediaPostClient:
    """One application's (and session's) view of the API; cheap to build around a shared client."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        response_format: str = "XML",
        retry: RetryPolicy | None = None,
        call_ids: CallIdClock | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        url = httpx.URL(endpoint)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("endpoint must be an http(s) URL")
        fmt = response_format.upper()
        if fmt not in FORMATS:
            raise ValueError(f"response_format must be one of {FORMATS}")
        self._endpoint = endpoint
        self._display_endpoint = str(url.copy_with(username=None, password=None, query=None))
        self._credentials = credentials
        self._format = fmt
        self._retry = retry or RetryPolicy()
        self._call_ids = call_ids or process_clock()
        self._max_response_bytes = max_response_bytes
        self._chunk_size = chunk_size
        self._redactor = Redactor(credentials.secret_values())
        self._owns_http = http is None
        if http is not None and timeout is None and connect_timeout is None:
            # Whoever configured the shared client chose its timeouts.
            self._timeout = http.timeout
        else:
            read = DEFAULT_TIMEOUT_S if timeout is None else timeout
            connect = DEFAULT_CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
            self._timeout = httpx.Timeout(read, connect=connect, pool=connect)
        self._http = http if http is not None else self.make_http_client()

    @staticmethod
    def make_http_client(
        *,
        concurrency: int = 1,
        timeout: float = DEFAULT_TIMEOUT_S,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> httpx.Client:
        """The httpx client a process shares between its MediaPost clients (make it after fork)."""
        size = max(concurrency, 1)
        return httpx.Client(
            # The pool wait is short: with one call per thread a wait means a leak.
            timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=connect_timeout),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            follow_redirects=False,  # a redirected POST could carry the session key elsewhere
        )

    @staticmethod
    def default_retry(
        *,
        max_attempts: int = 4,
        max_total_s: float = 30.0,
        initial_wait_s: float = 0.5,
        max_wait_s: float = 8.0,
    ) -> RetryPolicy:
        """The retry policy with these limits and real sleeping (settings name them so)."""
        return RetryPolicy(
            max_attempts=max_attempts,
            budget=max_total_s,
            initial_wait=initial_wait_s,
            max_wait=max_wait_s,
        )

    def with_credentials(self, credentials: Credentials) -> MediaPostClient:
        """A client for other credentials (a new session key) sharing this one's connections."""
        clone = copy.copy(self)
        clone._credentials = credentials
        clone._redactor = Redactor(credentials.secret_values())
        clone._owns_http = False  # closing stays with the original
        return clone

    def close(self) -> None:
        """Close the httpx client if this object made it (a shared one belongs to its owner)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> MediaPostClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MediaPostClient(endpoint={self._display_endpoint!r}, "
            f"credentials={self._credentials!r}, format={self._format!r})"
        )

    # Photos

    def upload(
        self,
        file: FileArg,
        *,
        filename: str,
        content_type: str | None = None,
        aid: str | None = None,
        caption: str | None = None,
    ) -> UploadResult:
        """Upload one image (streamed); OutcomeInDoubt if it went out whole but no answer came."""
        with _open_binary(file) as fh:
            size = _file_size(fh)
            if size == 0:
                raise BadFile("the file is empty", None, UPLOAD)
            if content_type is None:
                fh.seek(0)
                content_type = content_type_for(fh.read(SNIFF_BYTES))
                if content_type is None:
                    raise BadFile("the file is not a recognised image type", None, UPLOAD)
            args: dict[str, str] = {}
            if caption is not None:
                # Multipart values use CRLF; the value is signed exactly as it is sent.
                args["caption"] = normalize_newlines(caption)
            if aid is not None:
                args["aid"] = aid
            image_type = content_type

            def attempt() -> Photo:
                params = self._signed(UPLOAD, args)
                fields = ordered_fields(params)
                boundary = new_boundary([*(value for _, value in fields), filename])
                parts = layout(
                    fields, filename=filename, content_type=image_type, boundary=boundary
                )
                body = StreamedBody(parts.head, fh, size, parts.tail, chunk_size=self._chunk_size)
                headers = {"Content-Type": parts.content_type, "MIME-Version": "1.0"}
                payload = self._exchange(UPLOAD, body, headers, params, idempotent=False)
                return _convert(Photo.from_fields, _one(payload, UPLOAD), UPLOAD)

            photo, attempts = self._retry.run(attempt, method=UPLOAD, idempotent=False)
        return UploadResult(photo=photo, attempts=attempts)

    def create_album(self, name: str, description: str | None = None) -> Album:
        """Create an album; OutcomeInDoubt if the answer was lost (it may exist: look it up)."""
        args = {"name": name}
        if description is not None:
            args["description"] = description
        return self._call(
            CREATE_ALBUM,
            args,
            lambda payload: _convert(Album.from_fields, _one(payload, CREATE_ALBUM), CREATE_ALBUM),
            idempotent=False,
        )

    def get_albums(self, uid: str | None = None, aids: Sequence[str] | None = None) -> list[Album]:
        """Albums by owner and/or ids (read, use, never store: the API's terms)."""
        args: dict[str, str] = {}
        if uid is not None:
            args["uid"] = uid
        if aids is not None:
            args["aids"] = ",".join(aids)
        if not args:
            raise ValueError("get_albums needs uid or aids")
        return self._call(
            GET_ALBUMS, args, lambda p: _convert_list(Album.from_fields, p, GET_ALBUMS)
        )

    def get_photos(
        self,
        aid: str | None = None,
        pids: Sequence[str] | None = None,
        uids: Sequence[str] | None = None,
        page_size: int = 10,
        page_number: int = 1,
    ) -> list[Photo]:
        """One page of the visible photos of an album, of given ids, or of given owners."""
        args: dict[str, str] = {}
        if aid is not None:
            args["aid"] = aid
        if pids is not None:
            args["pids"] = ",".join(pids)
        if uids is not None:
            args["uids"] = ",".join(uids)
        if not args:
            raise ValueError("get_photos needs aid, pids or uids")
        if page_size < 1 or page_number < 1:
            raise ValueError("page_size and page_number start at 1")
        args["pageSize"] = str(page_size)
        args["pageNumber"] = str(page_number)
        return self._call(
            GET_PHOTOS, args, lambda p: _convert_list(Photo.from_fields, p, GET_PHOTOS)
        )

    def iter_album_photos(self, aid: str, page_size: int = 100) -> Iterator[Photo]:
        """Every visible photo of an album, page after page until a short page."""
        seen: set[str] = set()
        page_number = 1
        while True:
            page = self.get_photos(aid=aid, page_size=page_size, page_number=page_number)
            if page and all(photo.pid in seen for photo in page):
                # A server that ignores pageNumber would loop forever; missing photos would
                # make a reconciliation upload twice, so this is an error, not the end.
                raise MalformedResponse("paging did not advance", None, GET_PHOTOS)
            seen.update(photo.pid for photo in page)
            yield from page
            if len(page) < page_size:
                return
            page_number += 1

    # Communities and sessions

    def get_communities(self) -> list[Community]:
        """The communities the application can post to (an undocumented method, contract §4).

        Signed by the application alone, so it also proves key and secret before a session exists.
        """
        return self._call(
            GET_COMMUNITIES,
            {},
            lambda p: _convert_list(Community.from_fields, p, GET_COMMUNITIES),
            with_session=bool(self._credentials.session_key),
        )

    def create_token(self, expires_minutes: int | None = None) -> str:
        """A login token for the user (0 minutes: never expires); no session needed."""
        args = {} if expires_minutes is None else {"expires": str(int(expires_minutes))}
        return self._call(
            CREATE_TOKEN,
            args,
            _token,
            api_key_name="apiKey",
            sig_name="apiSig",
            with_session=False,
        )

    def get_session(self, auth_token: str) -> Session:
        """Exchange an approved login token for a session (key, uid, expiry)."""
        return self._call(
            GET_SESSION,
            {"auth_token": auth_token},
            lambda p: _convert(Session.from_fields, _one(p, GET_SESSION), GET_SESSION),
            with_session=False,
        )

    # Plumbing

    def _signed(
        self,
        method: str,
        args: Mapping[str, str],
        *,
        api_key_name: str = "api_key",
        sig_name: str = "sig",
        with_session: bool = True,
    ) -> dict[str, str]:
        """The full, signed parameter set of one attempt, with a fresh call_id."""
        creds = self._credentials
        params = {"method": method, api_key_name: creds.api_key, "community": creds.community}
        if with_session:
            if not creds.session_key:
                raise SessionExpired("no session key is configured", None, method)
            params["session_key"] = creds.session_key
        params["call_id"] = self._call_ids.next()
        if self._format != "XML":
            params["format"] = self._format
        params.update(args)
        params[sig_name] = signature(params, creds.secret)
        return params

    def _call(
        self,
        method: str,
        args: Mapping[str, str],
        convert: Callable[[Payload], T],
        *,
        idempotent: bool = True,
        api_key_name: str = "api_key",
        sig_name: str = "sig",
        with_session: bool = True,
    ) -> T:
        """A form-urlencoded call, retried by the policy."""

        def attempt() -> T:
            params = self._signed(
                method,
                args,
                api_key_name=api_key_name,
                sig_name=sig_name,
                with_session=with_session,
            )
            body = StreamedBody(urlencode(params).encode("ascii"))
            headers = {"Content-Type": FORM_URLENCODED}
            return convert(self._exchange(method, body, headers, params, idempotent=idempotent))

        result, _ = self._retry.run(attempt, method=method, idempotent=idempotent)
        return result

    def _exchange(
        self,
        method: str,
        body: StreamedBody,
        headers: Mapping[str, str],
        params: Mapping[str, str],
        *,
        idempotent: bool,
    ) -> Payload:
        """Send one attempt and return its payload, or raise what the reply means."""
        # The signature and a login token are as good as credentials for a replay.
        redactor = self._redactor.with_secrets(
            params.get("sig"), params.get("apiSig"), params.get("auth_token")
        )
        reply = post(
            self._http,
            self._endpoint,
            body,
            headers,
            timeout=self._timeout,
            max_response_bytes=self._max_response_bytes,
            method=method,
            idempotent=idempotent,
            redactor=redactor,
        )
        return interpret(
            reply, method=method, redactor=redactor, max_bytes=self._max_response_bytes
        )


def interpret(
    reply: Reply, *, method: str, redactor: Redactor, max_bytes: int = MAX_RESPONSE_BYTES
) -> Payload:
    """The payload of a reply; an API error is told by the body first, the status second."""
    try:
        parsed = parse_response(reply.body, max_bytes=max_bytes)
    except MalformedResponse as exc:
        if not 200 <= reply.status < 300:
            raise error_for_status(reply.status, method=method) from None
        raise MalformedResponse(exc.message, None, method) from None
    if isinstance(parsed, ApiFailure):
        raise error_for(parsed.code, parsed.message, method, redactor=redactor)
    if not 200 <= reply.status < 300:
        raise error_for_status(reply.status, method=method)
    return parsed


def _one(payload: Payload, method: str) -> Fields:
    """The payload of a method that returns one object."""
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, list) and len(payload) == 1:
        return payload[0]
    raise MalformedResponse("expected one object in the response", None, method)


def _convert(build: Callable[[Fields], T], fields: Fields, method: str) -> T:
    """Build a model; a missing field is a malformed response."""
    try:
        return build(fields)
    except ValueError as exc:
        raise MalformedResponse(str(exc), None, method) from None


def _convert_list(build: Callable[[Fields], T], payload: Payload, method: str) -> list[T]:
    """Build a list of models; an empty root or a lone object is accepted (liberal)."""
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = [payload] if payload else []
    elif payload == "":
        items = []
    else:
        raise MalformedResponse("expected a list in the response", None, method)
    return [_convert(build, fields, method) for fields in items]


def _token(payload: Payload) -> str:
    """The token: the root's bare text, or (liberal) an object's ``auth_token``/``token``."""
    if isinstance(payload, dict):
        payload = payload.get("auth_token") or payload.get("token") or ""
    if isinstance(payload, str) and payload:
        return payload
    raise MalformedResponse("no token in the response", None, CREATE_TOKEN)


def _open_binary(file: FileArg) -> AbstractContextManager[BinaryIO]:
    """Open a path for reading (and close it after), or use the caller's file as it is."""
    if isinstance(file, str | os.PathLike):
        return Path(file).open("rb")
    if isinstance(file, io.TextIOBase):
        raise TypeError("upload needs a binary file")
    return nullcontext(file)


def _file_size(fh: BinaryIO) -> int:
    """The file's size by fstat (or by seeking for in-memory files); it must be seekable."""
    if not fh.seekable():
        raise ValueError("upload needs a seekable file: each retry re-sends it from the start")
    try:
        return os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return fh.seek(0, os.SEEK_END)
