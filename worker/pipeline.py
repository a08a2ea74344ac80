"""The life of one file in a worker: validate, hash, claim, place in an album, upload, record.

This is the imperative shell around the pure pieces (validation, album decisions, error
classes). It raises :class:`RetryLater` when the file must wait (rate window, paused account,
another worker holding the same content, an outage longer than the client's retry budget);
the Celery task turns that into a countdown retry. Everything else ends in an outcome.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

from config.settings import Settings, WatchFolder
from mediapost.client import MediaPostClient
from mediapost.credentials import Credentials
from mediapost.errors import (
    AlbumFull,
    AlbumInvalid,
    BadFile,
    ConfigurationError,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    SessionExpired,
    TransientError,
    UnknownApiError,
)
from worker import account
from worker.albums import DEFAULT_ALBUM, AlbumSeries, Slot, album_name, series_key
from worker.digest import content_digest, photo_marker
from worker.disposal import after_upload, set_aside
from worker.ledger import Claim, Ledger, content_key, deliveries_key
from worker.messages import UploadRequest
from worker.registry import FileOutcome, as_text
from worker.slots import SlotsClosed, UploadSlots
from worker.validation import FileFacts, Rejected, open_for_upload

log = structlog.get_logger(__name__)

MAX_ROLLOVERS = 5
CREATE_MARK_TTL_S = 86400  # how long a started album creation is remembered
BUSY_RETRY_S = 5.0


class RetryLater(Exception):
    """The file must wait; the task retries after `countdown` seconds."""

    def __init__(self, countdown: float, reason: str) -> None:
        super().__init__(reason)
        self.countdown = countdown
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended (the task's small, secret-free result)."""

    status: str
    reason: str = ""
    pid: str = ""
    aid: str = ""
    owner: str = ""


def render_caption(template: str, path: Path, marker: str) -> str:
    """The caption from the folder's template, with our marker appended."""
    text = template.format(stem=path.stem, name=path.name, folder=path.parent.name).strip()
    return f"{text} {marker}" if text else marker


def backoff(retries: int, *, base: float = 10.0, cap: float = 300.0) -> float:
    """Countdown for the n-th task-level retry: exponential with full jitter, capped."""
    return random.uniform(base / 2, min(cap, base * 2**retries))


def error_label(exc: MediaPostError) -> str | None:
    """The metrics label of an API error: its code, or the kind of transport fault."""
    if exc.code is not None:
        return str(exc.code)
    if isinstance(exc, OutcomeInDoubt):
        return "no_answer"
    if isinstance(exc, TransientError):
        return "transport"
    return None  # the client itself refused (an unreadable file, say): not an API error


class UploadPipeline:
    """Uploads one file per call; one instance per worker process."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        albums: AlbumSeries,
        *,
        folder_for: Callable[[str], WatchFolder | None],
        credentials: Callable[[], Credentials],
        client_for: Callable[[Credentials], MediaPostClient],
        upload_slots: UploadSlots,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.albums = albums
        self.folder_for = folder_for
        self.credentials = credentials
        self.client_for = client_for
        self.clock = clock
        self.upload_slots = upload_slots

    def run(self, request: UploadRequest, token: str, retries: int = 0) -> Outcome:
        """Take one delivery of a file to a final outcome, or raise RetryLater."""
        folder = self.folder_for(request.watch_id)
        path = Path(request.path)
        if folder is None:
            log.error("file.unknown_folder", watch_id=request.watch_id, file=request.path)
            return Outcome("skipped", "unknown watch folder")
        try:
            relpath = str(path.relative_to(folder.path))
        except ValueError:
            log.error("file.outside_folder", watch_id=folder.id, file=request.path)
            return Outcome("skipped", "outside its watch folder")
        creds = self.credentials()
        acct = account.account_id(self.settings.endpoint, creds)
        dkey = deliveries_key(folder.id, relpath, request.size, request.mtime_ns)
        try:
            self._pass_gates(acct, creds, dkey, folder, path, relpath, request)
        except _Settled as settled:
            return settled.outcome

        try:
            fh, facts = open_for_upload(
                path,
                folder.path,
                max_bytes=self.settings.max_file_bytes,
                max_pixels=self.settings.max_image_pixels,
            )
        except Rejected as rejected:
            if not rejected.final:
                self.ledger.settle(folder.id, relpath, None, dkey)
                log.info("file.gone", file=relpath, watch_id=folder.id)
                return Outcome("skipped", rejected.reason)
            return self._set_aside(folder, path, relpath, request, rejected.reason, dkey)
        with fh:
            if (facts.size, facts.mtime_ns) != (request.size, request.mtime_ns):
                # Still being written, or replaced: the watcher queues the settled version.
                self.ledger.settle(folder.id, relpath, None, dkey)
                log.info("file.changed_since_queued", file=relpath, watch_id=folder.id)
                return Outcome("skipped", "the file changed after it was queued")
            digest = content_digest(fh)
            claim = self.ledger.claim(
                digest,
                token,
                lease_s=self.settings.worker.claim_lease_s,
                now=self.clock(),
                series_key=series_key(folder.album_series),
                marker=photo_marker(digest),
                ahead=self.albums.ahead_args(),
            )
            if claim.status == "uploaded":
                return self._already_uploaded(folder, path, relpath, facts, digest, claim, dkey)
            if (
                claim.in_doubt
                and (wait := claim.intent_at + self.in_doubt_grace - self.clock()) > 0
            ):
                self.ledger.release(digest, token, dkey, clear_intent=False)
                raise RetryLater(wait + random.uniform(0, 1), "an upload in doubt may still land")
            if claim.status == "busy":
                self.ledger.settle(folder.id, relpath, None, dkey)
                raise RetryLater(BUSY_RETRY_S + random.uniform(0, 5), "same content in flight")
            upload = _Upload(self, folder, path, relpath, facts, digest, token, dkey, creds, acct)
            return upload.run(fh, claim, retries)

    def _pass_gates(
        self,
        acct: str,
        creds: Credentials,
        dkey: str,
        folder: WatchFolder,
        path: Path,
        relpath: str,
        request: UploadRequest,
    ) -> None:
        """Wait while the account is paused or rate-limited; give up on crash loops."""
        redis = self.ledger.redis
        for _ in range(2):
            begin = self.ledger.begin(dkey, account.pause_key(acct), account.rate_key(acct))
            if begin.pause is None:
                break
            pause = account.Pause.from_dict(begin.pause)
            if not pause.lifted_by(creds):
                raise RetryLater(
                    self.settings.worker.pause_retry_s, f"account paused: {pause.reason}"
                )
            if account.resume(redis, acct):
                log.warning("account.resumed", account=acct, after=pause.reason)
        else:
            raise RetryLater(self.settings.worker.pause_retry_s, "account paused")
        if begin.rate_wait_ms > 0:
            raise RetryLater(begin.rate_wait_ms / 1000 + random.uniform(0, 1), "rate window")
        if begin.deliveries > self.settings.worker.max_deliveries:
            reason = (
                f"processing this file ended abnormally {begin.deliveries - 1} times "
                "(worker crash or time limit); set aside so it cannot block the queue"
            )
            self._set_aside(folder, path, relpath, request, reason, dkey)
            raise _Settled(Outcome("set_aside", reason))

    def _set_aside(
        self,
        folder: WatchFolder,
        path: Path,
        relpath: str,
        request: UploadRequest,
        reason: str,
        dkey: str,
        digest: str = "",
    ) -> Outcome:
        where = set_aside(path, folder, reason)
        outcome = FileOutcome(request.size, request.mtime_ns, "set_aside", digest)
        self.ledger.settle(folder.id, relpath, outcome, dkey, stat="set_aside")
        log.warning(
            "file.set_aside", file=relpath, watch_id=folder.id, reason=reason, moved_to=str(where)
        )
        return Outcome("set_aside", reason)

    @property
    def in_doubt_grace(self) -> float:
        """How long after sending an upload in doubt we wait before looking for it."""
        grace = self.settings.worker.in_doubt_grace_s
        return self.settings.http_timeout_s if grace is None else grace

    def _already_uploaded(
        self,
        folder: WatchFolder,
        path: Path,
        relpath: str,
        facts: FileFacts,
        digest: str,
        claim: Claim,
        dkey: str,
    ) -> Outcome:
        """The content is on the server: a duplicate, or this very file redelivered after a
        crash before the ack (then it is recorded as uploaded, not as its own duplicate)."""
        same_file = (claim.watch_id, claim.path) == (folder.id, str(path))
        status = "uploaded" if same_file else "duplicate"
        outcome = FileOutcome(facts.size, facts.mtime_ns, status, digest)
        self.ledger.settle(folder.id, relpath, outcome, dkey, stat="" if same_file else status)
        log.info(
            "photo.already_recorded" if same_file else "photo.duplicate",
            file=relpath,
            digest=digest,
            pid=claim.pid,
            aid=claim.aid,
            owner=claim.owner,
            watch_id=folder.id,
        )
        after_upload(path, folder)
        return Outcome(status, pid=claim.pid, aid=claim.aid, owner=claim.owner)


class _Settled(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


class _Upload:
    """The album-and-upload part for one claimed content (state of one delivery)."""

    def __init__(
        self,
        pipeline: UploadPipeline,
        folder: WatchFolder,
        path: Path,
        relpath: str,
        facts: FileFacts,
        digest: str,
        token: str,
        dkey: str,
        creds: Credentials,
        acct: str,
    ) -> None:
        self.p = pipeline
        self.folder, self.path, self.relpath, self.facts = folder, path, relpath, facts
        self.digest, self.token, self.dkey, self.creds, self.acct = digest, token, dkey, creds, acct
        self.client = pipeline.client_for(creds)
        self.marker = photo_marker(digest)
        self.started = pipeline.clock()
        self.attempts = 0
        # While an upload's outcome is unknown its intent must survive whatever fails next (the
        # album listing that would settle it, a rate limit, a 102): only a look settles it.
        self.in_doubt = False

    def run(self, fh: BinaryIO, claim: Claim, retries: int) -> Outcome:
        """Reconcile an earlier intent if any, then upload with album rollover."""
        try:
            if claim.in_doubt:
                self.in_doubt = True
                adopted = self._reconcile(claim.intent_aid, claim.intent_marker)
                if adopted is not None:
                    return adopted
            series = self.folder.album_series
            first = Slot(series, claim.reserved, claim.position, claim.create_ahead)
            return self._upload(fh, first if claim.reserved else None)
        except RetryLater:
            raise
        except (TransientError, OutcomeInDoubt) as exc:
            self._count_error(exc)
            self._release(clear_intent=isinstance(exc, TransientError))
            raise RetryLater(backoff(retries), f"service unavailable: {exc}") from None
        except RateLimited as exc:
            self._count_error(exc)
            self._release(clear_intent=True)
            window = self.p.settings.worker.rate_window_s
            account.enter_rate_window(self.p.ledger.redis, self.acct, window)
            log.warning("account.rate_limited", account=self.acct, window_s=window)
            raise RetryLater(window + random.uniform(0, window / 5), "rate window") from None
        except (SessionExpired, ConfigurationError) as exc:
            self._count_error(exc)
            self._release(clear_intent=True)
            self._pause(exc)
            raise RetryLater(
                self.p.settings.worker.pause_retry_s, f"account paused: {exc}"
            ) from None
        except (BadFile, UnknownApiError) as exc:
            self._count_error(exc)
            self._release(clear_intent=True)
            return self._set_aside(f"the server refused the file: {exc}")

    def _upload(self, fh: BinaryIO, reserved: Slot | None) -> Outcome:
        mode = self.folder.album_mode
        for _ in range(MAX_ROLLOVERS):
            if reserved is not None:
                slot, reserved = reserved, None  # taken together with the claim
            else:
                slot, _created = self.p.albums.reserve(
                    self.folder.album_series,
                    mode=mode,
                    content_key=content_key(self.digest),
                    marker=self.marker,
                    create_album=self._create_album,
                )
            if slot.create_ahead:
                self._create_ahead(slot)
            caption = render_caption(self.folder.caption_template, self.path, self.marker)
            try:
                with self.p.upload_slots.slot():
                    result = self.client.upload(
                        fh,
                        filename=self.path.name,
                        content_type=self.facts.content_type,
                        aid=slot.aid,
                        caption=caption,
                    )
            except SlotsClosed:
                # Nothing was sent: give the file back for the next worker to upload.
                self.p.albums.release(slot)
                self._release(clear_intent=True)
                raise RetryLater(0.0, "the worker is stopping") from None
            except AlbumFull as exc:
                self._count_error(exc)
                log.info("album.full", series=slot.series, aid=slot.album, file=self.relpath)
                self.p.albums.mark_full(slot)
                continue
            except AlbumInvalid as exc:
                self._count_error(exc)
                log.warning("album.invalid", series=slot.series, aid=slot.album)
                self.p.albums.forget(slot)
                continue
            except OutcomeInDoubt as exc:
                self._count_error(exc)
                self.p.ledger.incr("in_doubt")
                log.warning("upload.in_doubt", file=self.relpath, aid=slot.album, error=str(exc))
                self.in_doubt = True
                # The server may still be storing it: look for it in the album after a grace.
                self._release(clear_intent=False)
                grace = self.p.in_doubt_grace
                raise RetryLater(grace + random.uniform(0, 1), "upload in doubt") from None
            except MediaPostError:
                self.p.albums.release(slot)
                raise
            self.attempts += result.attempts
            photo = result.photo
            if slot.album == DEFAULT_ALBUM:
                self.p.ledger.redis.hsetnx(f"mp:series:{slot.series}", "default_aid", photo.aid)
            return self._record(photo.pid, photo.aid, photo.owner, position=slot.position)
        raise RetryLater(30.0, "album rollover did not settle")

    def _create_ahead(self, slot: Slot) -> None:
        """Make the next album now, so no upload waits for it when this one fills up."""
        try:
            self.p.albums.make_next(slot, self._create_album)
        except MediaPostError as exc:  # the rollover at the full album tries again
            self._count_error(exc)
            log.warning("album.create_ahead_failed", series=slot.series, error=str(exc))

    def _create_album(self, n: int) -> str:
        name = album_name(self.folder.album_name_template, self.folder.path.name, n)
        redis = self.p.ledger.redis
        series = self.folder.album_series
        # A creation whose answer was lost (or a crash before the album was installed) left the
        # album on the server: adopt it rather than make a second, empty one. This needs our
        # user id, known once the account created an album. Only an earlier attempt at this
        # album number can have left one, so the listing (an API call that stalls every upload
        # slot waiting for the album) is skipped on a first attempt, as in every normal rollover.
        tried = f"{series_key(series)}:creating:{n}"
        first_attempt = redis.set(tried, self.token, nx=True, ex=CREATE_MARK_TTL_S)
        owner = as_text(redis.get(account.owner_key(self.acct)))
        if owner and not first_attempt:
            ours = set(self.p.albums.albums(series))
            for found in self.client.get_albums(uid=owner):
                if found.name == name and found.aid not in ours:
                    log.warning("album.adopted", series=series, aid=found.aid, name=name, n=n)
                    return found.aid
        album = self.client.create_album(name)
        if album.owner and album.owner != owner:
            redis.set(account.owner_key(self.acct), album.owner)
        log.info(
            "album.created",
            series=self.folder.album_series,
            aid=album.aid,
            name=name,
            n=n,
            owner=album.owner,
        )
        return album.aid

    def _reconcile(self, album: str, marker: str) -> Outcome | None:
        """Look for our photo in the album we meant; adopt it if the server has it."""
        aid = album
        if album == DEFAULT_ALBUM:
            state = self.p.albums.state(self.folder.album_series)
            aid = state.get("default_aid", "")
        if not aid:
            reason = (
                "outcome in doubt: the upload to the default album may or may not have been "
                "stored and its album is unknown; check the gallery, then `mediapost retry-failed`"
            )
            self.p.ledger.incr("in_doubt_unresolved")
            log.error("upload.in_doubt_unresolved", file=self.relpath, digest=self.digest)
            self._release(clear_intent=False)
            return self._set_aside(reason)
        for photo in self.client.iter_album_photos(aid):
            if marker in (photo.caption or ""):
                self.p.ledger.incr("adopted")
                log.info("upload.adopted", file=self.relpath, pid=photo.pid, aid=photo.aid)
                return self._record(photo.pid, photo.aid, photo.owner, adopted=True)
        log.info("upload.in_doubt_absent", file=self.relpath, aid=aid)
        self.in_doubt = False
        self.p.albums.release(Slot(self.folder.album_series, album, 0))
        return None

    def _record(
        self, pid: str, aid: str, owner: str, *, position: int = 0, adopted: bool = False
    ) -> Outcome:
        self.p.ledger.finish(
            self.digest,
            pid=pid,
            aid=aid,
            owner=owner,
            watch_id=self.folder.id,
            relpath=self.relpath,
            path=str(self.path),
            size=self.facts.size,
            mtime_ns=self.facts.mtime_ns,
            deliveries=self.dkey,
            duration_s=self.p.clock() - self.started,
        )
        log.info(
            "photo.uploaded",
            pid=pid,
            aid=aid,
            owner=owner,
            file=self.relpath,
            watch_id=self.folder.id,
            digest=self.digest,
            bytes=self.facts.size,
            attempts=max(self.attempts, 1),
            duration_s=round(self.p.clock() - self.started, 4),
            album_position=position,
            adopted=adopted,
        )
        after_upload(self.path, self.folder)
        return Outcome("uploaded", pid=pid, aid=aid, owner=owner)

    def _set_aside(self, reason: str) -> Outcome:
        request = UploadRequest(
            self.folder.id, str(self.path), self.facts.size, self.facts.mtime_ns
        )
        return self.p._set_aside(
            self.folder, self.path, self.relpath, request, reason, self.dkey, self.digest
        )

    def _count_error(self, exc: MediaPostError) -> None:
        label = error_label(exc)
        if label is not None:
            self.p.ledger.count_error(label)

    def _release(self, *, clear_intent: bool) -> None:
        clear = clear_intent and not self.in_doubt
        self.p.ledger.release(self.digest, self.token, self.dkey, clear_intent=clear)

    def _pause(self, exc: MediaPostError) -> None:
        if isinstance(exc, SessionExpired):
            reason = "session key invalid or expired (102): run `mediapost auth` or set a new key"
        else:
            reason = f"configuration error ({exc}): fix the key, secret or endpoint"
        pause = account.Pause(
            reason, exc.code or 0, account.credentials_fingerprint(self.creds), self.p.clock()
        )
        if account.pause(self.p.ledger.redis, self.acct, pause):
            log.critical("account.paused", account=self.acct, code=exc.code, reason=reason)
