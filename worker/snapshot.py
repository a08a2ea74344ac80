"""A read-only view of the service's state in Redis, for `mediapost status` and the metrics.

Everything the workers keep there that an operator asks about: the queue, the outcome and
error counters of the ledger, each album series, and account pauses and rate windows. The
fixed part is read in one pipelined round trip; finding series and accounts needs a SCAN, so
callers that poll (the metrics exporter) pass the names they found a while ago instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from worker.account import Pause, pause_key, rate_key
from worker.albums import DEFAULT_ALBUM, series_albums_key, series_key
from worker.broker import UNACKED_KEY
from worker.ledger import ERROR_FIELD_PREFIX, STATS_KEY
from worker.messages import UPLOAD_QUEUE
from worker.registry import PREFIX, as_text

if TYPE_CHECKING:
    from redis import Redis

OUTCOMES = ("uploaded", "duplicate", "set_aside")
IN_DOUBT = ("in_doubt", "in_doubt_unresolved", "adopted")
SCAN_COUNT = 5000


@dataclass(frozen=True)
class SeriesState:
    """One album series: its current album, how full it is, and how many albums it has."""

    name: str
    album: str  # the current aid, DEFAULT_ALBUM, or "" before the first upload
    fill: int
    limit: int
    albums: int
    default_aid: str = ""

    @property
    def album_label(self) -> str:
        """The current album as a person reads it."""
        if self.album == DEFAULT_ALBUM:
            return f"default album {self.default_aid}".rstrip()
        return self.album or "(none yet)"


@dataclass(frozen=True)
class AccountState:
    """One account's gates: a pause (with its reason) and the rest of a code-4 window."""

    account: str
    pause: Pause | None
    rate_window_ms: int

    @property
    def blocked(self) -> bool:
        """True when uploads for this account wait."""
        return self.pause is not None or self.rate_window_ms > 0


@dataclass(frozen=True)
class Snapshot:
    """What Redis says at one moment."""

    waiting: int
    in_flight: int
    stats: dict[str, int]
    series: tuple[SeriesState, ...] = ()
    accounts: tuple[AccountState, ...] = field(default_factory=tuple)

    def count(self, name: str) -> int:
        """A ledger counter (0 if never bumped)."""
        return self.stats.get(name, 0)

    @property
    def errors(self) -> dict[str, int]:
        """API errors that reached the pipeline, by code (or transport / no_answer)."""
        return {
            name.removeprefix(ERROR_FIELD_PREFIX): value
            for name, value in sorted(self.stats.items())
            if name.startswith(ERROR_FIELD_PREFIX)
        }


def discover_series(redis: Redis) -> list[str]:
    """Names of every album series in Redis (a SCAN: do not call it on every poll)."""
    names = set()
    for raw in redis.scan_iter(match=f"{PREFIX}:series:*", count=SCAN_COUNT):
        name = as_text(raw).split(":", 2)[2]
        if ":" not in name:  # not the album list or the creation lock
            names.add(name)
    return sorted(names)


def discover_accounts(redis: Redis) -> list[str]:
    """Accounts with a pause or a rate window right now (a SCAN)."""
    found = set()
    for pattern in (pause_key("*"), rate_key("*")):
        for raw in redis.scan_iter(match=pattern, count=SCAN_COUNT):
            found.add(as_text(raw).rsplit(":", 1)[1])
    return sorted(found)


def read_snapshot(
    redis: Redis,
    series: Sequence[str] | None = None,
    accounts: Iterable[str] | None = None,
) -> Snapshot:
    """Read the state in one round trip (plus SCANs when series or accounts are not given)."""
    names = discover_series(redis) if series is None else list(series)
    account_ids = sorted(set(discover_accounts(redis) if accounts is None else accounts))
    pipe = redis.pipeline(transaction=False)
    pipe.llen(UPLOAD_QUEUE)
    pipe.hlen(UNACKED_KEY)
    pipe.hgetall(STATS_KEY)
    for name in names:
        pipe.hgetall(series_key(name))
        pipe.llen(series_albums_key(name))
    for account in account_ids:
        pipe.get(pause_key(account))
        pipe.pttl(rate_key(account))
    replies = pipe.execute()
    waiting, in_flight, raw_stats = replies[0], replies[1], replies[2]
    rest = replies[3:]
    series_states = [
        _series_state(name, rest[2 * i], rest[2 * i + 1]) for i, name in enumerate(names)
    ]
    rest = rest[2 * len(names) :]
    account_states = [
        AccountState(account, _pause(rest[2 * i]), max(int(rest[2 * i + 1]), 0))
        for i, account in enumerate(account_ids)
    ]
    return Snapshot(
        waiting=int(waiting),
        in_flight=int(in_flight),
        stats={as_text(k): _int(v) for k, v in raw_stats.items()},
        series=tuple(s for s in series_states if s is not None),
        accounts=tuple(account_states),
    )


def _series_state(name: str, raw: dict[object, object], albums: int) -> SeriesState | None:
    state = {as_text(k): as_text(v) for k, v in raw.items()}
    if not state:
        return None  # vanished since discovery
    default_aid = state.get("default_aid", "")
    return SeriesState(
        name=name,
        album=state.get("cur", ""),
        fill=_int(state.get("count")),
        limit=_int(state.get("limit")),
        albums=int(albums) + (1 if default_aid else 0),
        default_aid=default_aid,
    )


def _pause(raw: object) -> Pause | None:
    if not raw:
        return None
    try:
        return Pause.from_dict(json.loads(as_text(raw)))
    except (ValueError, KeyError, TypeError):
        return Pause("unreadable pause record", 0, "", 0.0)


def _int(value: object) -> int:
    try:
        return int(as_text(value) or 0)
    except ValueError:
        return 0
