"""Which files still have a message in Redis, and which acknowledgements went missing.

kombu's Redis transport keeps every delivered message (running, reserved, or held for a retry's
countdown) in the `unacked` hash until the worker acknowledges it. A Redis outage can lose two
things: a message taken off the queue in the instant Redis went away, before kombu recorded it
as unacknowledged (the file then has no message anywhere), and the acknowledgement of a message
whose work was done (its entry then stays for the visibility timeout, an hour, and the queue
never looks drained). The rescan asks this module for both; it reads kombu's two keys and the
per-file outcomes, never the (possibly long) queue itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from worker import registry
from worker.broker import UNACKED_INDEX_KEY, UNACKED_KEY
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest

if TYPE_CHECKING:
    from redis import Redis


@dataclass(frozen=True)
class InFlight:
    """The queue's length, the files with a live message, and entries whose work is done."""

    queued: int
    paths: frozenset[str]
    done_tags: tuple[str, ...]


def upload_request(raw: str | bytes) -> UploadRequest | None:
    """The upload request in one `unacked` entry ([message, exchange, routing key]), if any."""
    try:
        message = json.loads(raw)[0]
        if message["headers"]["task"] != UPLOAD_TASK:
            return None
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _args, kwargs, _embed = json.loads(body)
        return UploadRequest.from_kwargs(kwargs)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def in_flight(redis: Redis, roots: Mapping[str, str]) -> InFlight:
    """Read the queue's length and the unacknowledged messages (of folders under `roots`)."""
    pipe = redis.pipeline(transaction=True)
    pipe.llen(UPLOAD_QUEUE)
    pipe.hgetall(UNACKED_KEY)
    queued, entries = pipe.execute()
    live: dict[str, UploadRequest] = {}
    for tag, raw in entries.items():
        request = upload_request(raw)
        if request is not None and request.watch_id in roots:
            live[tag.decode() if isinstance(tag, bytes) else str(tag)] = request
    done: list[str] = []
    for wid, root in roots.items():
        mine = [(t, r) for t, r in live.items() if r.watch_id == wid]
        versions = [(r.path.removeprefix(root + "/"), r.size, r.mtime_ns) for _, r in mine]
        still_open = {v[0] for v in registry.unsettled(redis, wid, versions)}
        done += [t for (t, _), v in zip(mine, versions, strict=True) if v[0] not in still_open]
    paths = frozenset(r.path for t, r in live.items() if t not in done)
    return InFlight(int(queued), paths, tuple(done))


def forget_acknowledged(redis: Redis, tags: Iterable[str]) -> None:
    """Drop entries whose file has its outcome: what the lost acknowledgement would have done."""
    tags = list(tags)
    if tags:
        pipe = redis.pipeline(transaction=True)
        pipe.hdel(UNACKED_KEY, *tags)
        pipe.zrem(UNACKED_INDEX_KEY, *tags)
        pipe.execute()
