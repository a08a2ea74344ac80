"""The watchdog side of the watcher: turn events into small records on a local queue, nothing else.

An exception escaping a handler kills watchdog's observer thread, so the handler does no I/O and
catches everything; all decisions are taken by the watcher loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from queue import SimpleQueue

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

log = structlog.get_logger(__name__)


class Kind(StrEnum):
    """The events the watcher acts on."""

    CLOSED = "closed"
    MOVED = "moved"
    CREATED = "created"
    MODIFIED = "modified"
    ATTRIB = "attrib"
    DELETED = "deleted"
    DIR_CREATED = "dir_created"
    DIR_MOVED = "dir_moved"
    LOST = "lost"


_KINDS: dict[type[FileSystemEvent], Kind] = {
    FileClosedEvent: Kind.CLOSED,
    FileMovedEvent: Kind.MOVED,
    FileCreatedEvent: Kind.CREATED,
    FileModifiedEvent: Kind.MODIFIED,
    FileAttribEvent: Kind.ATTRIB,
    FileDeletedEvent: Kind.DELETED,
    DirCreatedEvent: Kind.DIR_CREATED,
    DirMovedEvent: Kind.DIR_MOVED,
    EventsLostEvent: Kind.LOST,
}

# Scheduling with this filter also keeps IN_OPEN / IN_CLOSE_NOWRITE off the inotify mask, so
# our own open-to-check and the workers' reads produce no events.
EVENT_FILTER: list[type[FileSystemEvent]] = list(_KINDS)


@dataclass(frozen=True, slots=True)
class FsEvent:
    """One event; `dest` is set only for moves, `src` is empty for a move from outside."""

    watch_id: str
    kind: Kind
    src: str
    dest: str = ""
    synthetic: bool = False


@dataclass(frozen=True, slots=True)
class LimitAlarm:
    """watchdog could not add a watch while running (inotify limit): that subtree is blind."""

    path: str


class QueueingHandler(FileSystemEventHandler):
    """Puts each relevant event of one watch folder on the loop's queue."""

    def __init__(self, watch_id: str, queue: SimpleQueue[object]) -> None:
        super().__init__()
        self.watch_id = watch_id
        self._queue = queue

    def dispatch(self, event: FileSystemEvent) -> None:
        """Called on watchdog's thread: enqueue and return, never raise."""
        try:
            kind = _KINDS.get(type(event))
            if kind is not None:
                self._queue.put(
                    FsEvent(
                        self.watch_id,
                        kind,
                        os.fsdecode(event.src_path),
                        os.fsdecode(event.dest_path),
                        event.is_synthetic,
                    )
                )
        except Exception:
            log.exception("watch.handler_error", watch_id=self.watch_id)
