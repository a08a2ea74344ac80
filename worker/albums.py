"""Album series: which album the next photo goes to, shared atomically by all workers.

A series is a chain of albums ("Holiday 1", "Holiday 2", …) that one watch folder fills.
Its state in Redis is the current album, how many slots of it are reserved, and its limit.
A slot is reserved by a Lua script (and the upload's intent written in the same step); when
the album is full exactly one worker creates the next one under a lease, the others wait.
So that they need not wait, the next album is created ahead while the current one still has
a few free slots, but only when the queue holds more files than those slots: then it will be
used, and no empty album is left behind at the end of a batch. The reservation that finds the
current album full takes the album made ahead. The decisions (names, limits, when to create
ahead, what a reply means) are pure functions below the class.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from worker.registry import PREFIX, as_text

if TYPE_CHECKING:
    from redis import Redis

REGULAR_LIMIT = 60
DEFAULT_ALBUM_LIMIT = 1000
DEFAULT_ALBUM = "@default"  # the application's default album: upload with no aid

# The reservation step, shared with the ledger's claim script (which reserves in the same round
# trip when it can): take a slot in the series' current album (moving on to the album created
# ahead when the current one is full or gone) and write the upload's intent. The fourth value
# says whether this worker should create the next album ahead: none is ready, fewer than
# `ahead` slots are left after this one, and the queue holds more files than that. (The
# series' album list is `<series>:albums`, named here rather than passed as a key: one Redis.)
RESERVE_LUA = """
local function reserve(series, content, marker, now, queue, ahead)
  local s = redis.call('HMGET', series, 'cur', 'count', 'limit', 'next', 'next_n')
  local cur, count, limit, nxt = s[1] or '', tonumber(s[2] or '0'), tonumber(s[3] or '0'), s[4]
  if nxt and nxt ~= '' and (cur == '' or count >= limit) then
    cur, count, limit = nxt, 0, REGULAR_LIMIT
    redis.call('HSET', series, 'cur', cur, 'count', 0, 'limit', limit, 'n', s[5] or '0')
    redis.call('HDEL', series, 'next', 'next_n')
    redis.call('RPUSH', series .. ':albums', cur)
    nxt = nil
  end
  if cur == '' then return 'need', '', 0, 0 end
  if count >= limit then return 'full', cur, count, 0 end
  redis.call('HINCRBY', series, 'count', 1)
  redis.call('HSET', content, 'intent_aid', cur, 'intent_marker', marker, 'intent_at', now)
  local free, early = limit - count - 1, 0
  if (not nxt or nxt == '') and queue ~= '' and free < tonumber(ahead) then
    if redis.call('LLEN', queue) > free then early = 1 end
  end
  return 'ok', cur, count + 1, early
end
""".replace("REGULAR_LIMIT", str(REGULAR_LIMIT))

_RESERVE = (
    RESERVE_LUA
    + """
local status, cur, position, early = reserve(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return {status, cur, position, early}
"""
)

# Keep an album created ahead as the series' next one, unless one is already there.
_STASH = """
local nxt = redis.call('HGET', KEYS[1], 'next')
if nxt and nxt ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'next', ARGV[1], 'next_n', ARGV[2])
return 1
"""

_INSTALL = """
local cur = redis.call('HGET', KEYS[1], 'cur') or ''
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'count', 0, 'limit', ARGV[3], 'n', ARGV[4])
if ARGV[2] ~= '@default' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return 1
"""

_ADJUST = """
local cur = redis.call('HGET', KEYS[1], 'cur') or ''
if cur ~= ARGV[1] then return 0 end
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or '0')
if ARGV[2] == 'full' then redis.call('HSET', KEYS[1], 'count', limit)
elseif ARGV[2] == 'forget' then redis.call('HSET', KEYS[1], 'cur', '', 'count', 0)
elseif ARGV[2] == 'release' then
  if count > 0 then redis.call('HINCRBY', KEYS[1], 'count', -1) end
elseif ARGV[2] == 'sync' then
  local size = tonumber(ARGV[3])
  if size > count then redis.call('HSET', KEYS[1], 'count', math.min(size, limit)) end
end
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def series_key(series: str) -> str:
    """The state of one album series."""
    return f"{PREFIX}:series:{series}"


def series_albums_key(series: str) -> str:
    """Every album the series created, in order (for status and reconciliation)."""
    return f"{PREFIX}:series:{series}:albums"


def _lease_key(series_state_key: str) -> str:
    """Held by the one worker creating the series' next album."""
    return f"{series_state_key}:creating"


def album_name(template: str, folder: str, n: int) -> str:
    """The name of the n-th album of a series, from the folder's template."""
    return template.format(folder=folder, n=n)


def first_album(mode: str) -> tuple[str, int] | None:
    """Where a new series starts: the default album (no aid, 1000) or a created album."""
    return (DEFAULT_ALBUM, DEFAULT_ALBUM_LIMIT) if mode == "default" else None


def next_number(n: int, current: str) -> int:
    """The number of the next created album; the default album does not count as one."""
    return n + 1 if current != DEFAULT_ALBUM or n > 0 else 1


@dataclass(frozen=True)
class Slot:
    """A reserved place in an album: `aid` is None for the application's default album."""

    series: str
    album: str  # the aid, or DEFAULT_ALBUM
    position: int
    create_ahead: bool = False  # this reservation should have the next album made now

    @property
    def aid(self) -> str | None:
        """The aid to send, or None for the default album."""
        return None if self.album == DEFAULT_ALBUM else self.album


class AlbumWaitTimeout(Exception):
    """Another worker is creating the next album and did not finish in time."""


class AlbumSeries:
    """Reserve slots in a series, rolling over to a new album exactly once when full."""

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lock_ttl_s: float = 120.0,
        wait_s: float = 150.0,
        queue: str = "",
        create_ahead: int = 0,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.sleep = sleep
        self.lock_ttl_s = lock_ttl_s
        self.wait_s = wait_s
        self.queue = queue  # the upload queue's key: its length is the backlog
        self.create_ahead = create_ahead  # free slots left at which to make the next album
        self._reserve = redis.register_script(_RESERVE)
        self._stash = redis.register_script(_STASH)
        self._install = redis.register_script(_INSTALL)
        self._adjust = redis.register_script(_ADJUST)
        self._unlock = redis.register_script(_UNLOCK)

    def reserve(
        self,
        series: str,
        *,
        mode: str,
        content_key: str,
        marker: str,
        create_album: Callable[[int], str],
    ) -> tuple[Slot, bool]:
        """A slot in the series' current album; creates the next album when needed.

        `create_album(n)` makes album number n on the server and returns its aid.
        Returns the slot and whether this call created an album.
        """
        created = False
        deadline = self.clock() + self.wait_s
        key = series_key(series)
        while True:
            status, current, position, early = self._reserve(
                keys=[key, content_key],
                args=[marker, int(self.clock()), *self.ahead_args()],
            )
            status, current = as_text(status), as_text(current)
            if status == "ok":
                return Slot(series, current, int(position), bool(int(early))), created
            if status == "need" and (start := first_album(mode)) is not None:
                self._install(
                    keys=[key, series_albums_key(series)], args=["", start[0], start[1], 0]
                )
                continue
            if self._roll_over(series, current, create_album):
                created = True
            elif self.clock() > deadline:
                raise AlbumWaitTimeout(f"series {series!r}: the next album did not appear")

    def ahead_args(self) -> tuple[str, int]:
        """The reservation script's arguments for creating ahead: queue key, threshold."""
        return (self.queue, self.create_ahead) if self.create_ahead > 0 else ("", 0)

    def make_next(self, slot: Slot, create_album: Callable[[int], str]) -> str | None:
        """Create the album after `slot`'s while it still has room; None if not needed now.

        Under the series' creation lease, as a rollover; the album waits in the series'
        `next` field until a reservation finds the current album full.
        """
        key = series_key(slot.series)
        with self._creation_lease(key) as won:
            if not won or (number := self._number_to_create(key, slot.album)) is None:
                return None  # another creation is under way, or none is needed any more
            aid = create_album(number)
            self._stash(keys=[key], args=[aid, number])
            return aid

    @contextmanager
    def _creation_lease(self, key: str) -> Iterator[bool]:
        """The series' lease on creating its next album: whether we hold it (then released)."""
        lock, token = _lease_key(key), uuid.uuid4().hex
        won = bool(self.redis.set(lock, token, nx=True, px=int(self.lock_ttl_s * 1000)))
        try:
            yield won
        finally:
            if won:
                self._unlock(keys=[lock], args=[token])

    def _number_to_create(self, key: str, current: str) -> int | None:
        """The next album's number, or None if `current` was replaced or one made ahead waits."""
        cur, n, nxt = (as_text(v) for v in self.redis.hmget(key, "cur", "n", "next"))
        return None if cur != current or nxt else next_number(int(n or 0), current)

    def _roll_over(self, series: str, seen: str, create_album: Callable[[int], str]) -> bool:
        """Create the next album if we win the lease; otherwise wait until it changes."""
        key = series_key(series)
        with self._creation_lease(key) as won:
            if won:
                number = self._number_to_create(key, seen)
                if number is None:
                    return False  # a new album was installed, or one made ahead waits
                aid = create_album(number)
                self._install(
                    keys=[key, series_albums_key(series)], args=[seen, aid, REGULAR_LIMIT, number]
                )
                return True
        lock = _lease_key(key)
        # Bounded poll: the winner's album creation is one API call.
        for _ in range(int(self.lock_ttl_s / 0.05)):
            if as_text(self.redis.hget(key, "cur")) != seen or not self.redis.exists(lock):
                return False
            self.sleep(0.05)
        return False

    def mark_full(self, slot: Slot) -> None:
        """The server said 321: no more photos go to this album."""
        self._adjust(keys=[series_key(slot.series)], args=[slot.album, "full", 0])

    def forget(self, slot: Slot) -> None:
        """The server said 120: the album is gone; the next reserve starts a new one."""
        self._adjust(keys=[series_key(slot.series)], args=[slot.album, "forget", 0])

    def release(self, slot: Slot) -> None:
        """The upload will not happen into this slot: give it back, so no hole remains."""
        self._adjust(keys=[series_key(slot.series)], args=[slot.album, "release", 0])

    def sync(self, series: str, aid: str, server_size: int) -> None:
        """Others may add photos to our album: never count fewer than the server holds."""
        self._adjust(keys=[series_key(series)], args=[aid, "sync", server_size])

    def state(self, series: str) -> dict[str, str]:
        """The series' current album, count, limit and number (for status)."""
        return {as_text(k): as_text(v) for k, v in self.redis.hgetall(series_key(series)).items()}

    def albums(self, series: str) -> list[str]:
        """Every album the series created."""
        return [as_text(a) for a in self.redis.lrange(series_albums_key(series), 0, -1)]
