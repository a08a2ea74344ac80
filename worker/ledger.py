"""The upload ledger in Redis: one record per distinct content, claims, intents and outcomes.

Every step that must not interleave with another worker is one Lua script, so a single round
trip both decides and writes. Per upload the pipeline spends three commands here (begin, claim
with the album slot and intent of albums.py, finish); with Celery's six (LPUSH, BRPOP, ZADD+HSET,
ZREM+HDEL: worker/broker.py) and batched task events, ~9.5 per upload (bench/throughput.py).
Only `pid`, `aid` and `owner` of the server's answer are stored, plus our own facts.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from worker.albums import RESERVE_LUA
from worker.registry import PREFIX, FileOutcome, as_text, files_key

if TYPE_CHECKING:
    from redis import Redis

STATS_KEY = f"{PREFIX}:stats"

_BEGIN = """
local pause = redis.call('GET', KEYS[2])
local wait = redis.call('PTTL', KEYS[3])
if pause or wait > 0 then return {0, pause or '', wait} end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {n, '', wait}
"""

# Claim the content and, when the caller names its album series and no earlier intent is
# pending, reserve the album slot in the same round trip (the usual path: one command, not two).
_CLAIM = (
    RESERVE_LUA
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'token', 'lease_until', 'pid', 'aid', 'owner',
                     'intent_aid', 'intent_marker', 'intent_at', 'watch_id', 'path')
if h[1] == 'uploaded' then
  return {'uploaded', h[4], h[5], h[6], h[10] or '', h[11] or '', '', '', 0}
end
if h[2] and h[2] ~= ARGV[1] and tonumber(h[3] or '0') > tonumber(ARGV[2]) then
  return {'busy', h[2], '', '', '', '', '', '', 0}
end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'token', ARGV[1],
           'lease_until', tonumber(ARGV[2]) + tonumber(ARGV[3]))
local rs, rc, rp, re = '', '', 0, 0
if (not h[8] or h[8] == '') and ARGV[4] ~= '' then
  rs, rc, rp, re = reserve(KEYS[2], KEYS[1], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
end
return {'claimed', h[7] or '', h[8] or '', h[9] or '', '', '', rs, rc, rp, re}
"""
)

_FINISH = """
redis.call('HSET', KEYS[1], 'state', 'uploaded', 'pid', ARGV[2], 'aid', ARGV[3],
           'owner', ARGV[4], 'watch_id', ARGV[5], 'path', ARGV[6], 'bytes', ARGV[7],
           'uploaded_at', ARGV[8])
redis.call('HDEL', KEYS[1], 'token', 'lease_until', 'intent_aid', 'intent_marker', 'intent_at')
redis.call('HSET', KEYS[2], ARGV[9], ARGV[10])
redis.call('DEL', KEYS[3])
redis.call('HINCRBY', KEYS[4], ARGV[11], 1)
if ARGV[12] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[12], 1)
  redis.call('HINCRBY', KEYS[4], 'upload_ms_sum', ARGV[13])
end
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'token', 'lease_until')
  if redis.call('HGET', KEYS[1], 'state') == 'claimed' then
    redis.call('HSET', KEYS[1], 'state', 'open')
  end
  if ARGV[2] == '1' then
    redis.call('HDEL', KEYS[1], 'intent_aid', 'intent_marker', 'intent_at')
  end
end
redis.call('DEL', KEYS[2])
return 1
"""

_SETTLE = """
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[3], 1) end
return 1
"""


# Upper bounds (seconds) of the upload-latency histogram; the finish script counts each upload
# in one `upload_le_<bound>` field of the stats hash, so recording it costs no extra command.
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
LATENCY_SUM_FIELD = "upload_ms_sum"
ERROR_FIELD_PREFIX = "error_"


def latency_field(duration_s: float) -> str:
    """The stats field of the histogram bucket this upload duration falls in."""
    bound = next((b for b in LATENCY_BUCKETS_S if duration_s <= b), None)
    return f"upload_le_{bound:g}" if bound is not None else "upload_le_inf"


def content_key(digest: str) -> str:
    """The ledger record of one distinct content."""
    return f"{PREFIX}:content:{digest}"


def deliveries_key(watch_id: str, path: str, size: int, mtime_ns: int) -> str:
    """Counts deliveries of one file version that ended without an outcome (crashes)."""
    digest = hashlib.sha1(f"{watch_id}\0{path}\0{size}\0{mtime_ns}".encode()).hexdigest()
    return f"{PREFIX}:deliveries:{digest}"


@dataclass(frozen=True)
class Begin:
    """Whether a delivery may start: the account's pause and rate window, and crash count."""

    deliveries: int
    pause: dict[str, Any] | None
    rate_wait_ms: int


@dataclass(frozen=True)
class Claim:
    """Result of claiming a content: ours (maybe with an earlier intent), busy, or uploaded."""

    status: str
    pid: str = ""
    aid: str = ""
    owner: str = ""
    intent_aid: str = ""
    intent_marker: str = ""
    intent_at: float = 0.0
    watch_id: str = ""  # where the uploaded content came from
    path: str = ""
    reserved: str = ""  # the album slot taken with the claim ("" if none was asked or free)
    position: int = 0
    create_ahead: bool = False  # see albums.RESERVE_LUA

    @property
    def in_doubt(self) -> bool:
        """An earlier attempt wrote its intent and never recorded an outcome."""
        return self.status == "claimed" and bool(self.intent_marker)


class Ledger:
    """Typed access to the ledger's scripts; one instance per worker process."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._begin = redis.register_script(_BEGIN)
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._release = redis.register_script(_RELEASE)
        self._settle = redis.register_script(_SETTLE)

    def begin(self, deliveries: str, pause_key: str, rate_key: str, *, ttl_s: int = 86400) -> Begin:
        """Count a delivery unless the account is paused or rate-limited."""
        n, pause, wait = self._begin(keys=[deliveries, pause_key, rate_key], args=[ttl_s])
        return Begin(int(n), json.loads(pause) if pause else None, int(wait))

    def claim(
        self,
        digest: str,
        token: str,
        *,
        lease_s: int,
        now: float,
        series_key: str = "",
        marker: str = "",
        ahead: tuple[str, int] = ("", 0),
    ) -> Claim:
        """Take the per-content lease (and a slot in `series_key`), or learn it is taken.

        `ahead` is AlbumSeries.ahead_args(): when to ask for the next album to be made ahead.
        """
        reply = self._claim(
            keys=[content_key(digest), series_key or content_key(digest)],
            args=[
                token,
                int(now * 1000),
                lease_s * 1000,
                marker if series_key else "",
                int(now),
                *ahead,
            ],
        )
        status, a, b, c, d, e, rs, rc = (as_text(x) for x in reply[:8])
        if status == "uploaded":
            return Claim(status, pid=a, aid=b, owner=c, watch_id=d, path=e)
        if status == "claimed":
            reserved = rc if rs == "ok" else ""
            return Claim(
                status,
                intent_aid=a,
                intent_marker=b,
                intent_at=float(c or 0),
                reserved=reserved,
                position=int(reply[8] or 0),
                create_ahead=bool(int(reply[9] or 0)),
            )
        return Claim(status)

    def finish(
        self,
        digest: str,
        *,
        pid: str,
        aid: str,
        owner: str,
        watch_id: str,
        relpath: str,
        path: str,
        size: int,
        mtime_ns: int,
        deliveries: str,
        stat: str = "uploaded",
        duration_s: float | None = None,
    ) -> None:
        """Record the upload: the content's pid/aid/owner, the path's outcome, the counters."""
        outcome = FileOutcome(size, mtime_ns, "uploaded", digest).encode()
        bucket = "" if duration_s is None else latency_field(duration_s)
        millis = 0 if duration_s is None else max(int(duration_s * 1000), 0)
        self._finish(
            keys=[content_key(digest), files_key(watch_id), deliveries, STATS_KEY],
            args=[
                "",
                pid,
                aid,
                owner,
                watch_id,
                path,
                size,
                int(time.time()),
                relpath,
                outcome,
                stat,
                bucket,
                millis,
            ],
        )

    def release(self, digest: str, token: str, deliveries: str, *, clear_intent: bool) -> None:
        """Give up the claim (the task will retry); keep the intent if the outcome is unknown."""
        self._release(
            keys=[content_key(digest), deliveries], args=[token, "1" if clear_intent else "0"]
        )

    def settle(
        self,
        watch_id: str,
        relpath: str,
        outcome: FileOutcome | None,
        deliveries: str,
        stat: str = "",
    ) -> None:
        """Record a final outcome that is not an upload (duplicate, set aside, skipped)."""
        self._settle(
            keys=[files_key(watch_id), deliveries, STATS_KEY],
            args=[relpath if outcome else "", outcome.encode() if outcome else "", stat],
        )

    def record(self, digest: str) -> dict[str, str]:
        """The ledger record of a content (for status, tests and the CLI)."""
        raw = self.redis.hgetall(content_key(digest))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    def count(self, stat: str) -> int:
        """A counter from the stats hash (uploaded, duplicate, set_aside, in_doubt, …)."""
        return int(self.redis.hget(STATS_KEY, stat) or 0)

    def incr(self, stat: str, by: int = 1) -> None:
        """Bump a counter that no script bumps (in-doubt cases, adoptions)."""
        self.redis.hincrby(STATS_KEY, stat, by)

    def count_error(self, label: str) -> None:
        """Count an API error that reached the pipeline (rare paths: one extra command)."""
        self.redis.hincrby(STATS_KEY, ERROR_FIELD_PREFIX + label, 1)

    def forget_intent(self, digest: str) -> bool:
        """Drop an unresolved upload intent (an operator retries it); never for an upload."""
        key = content_key(digest)
        if as_text(self.redis.hget(key, "state")) == "uploaded":
            return False
        return bool(self.redis.hdel(key, "intent_aid", "intent_marker", "intent_at"))
