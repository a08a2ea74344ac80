"""The Prometheus exporter: every scrape reads the workers' shared state from Redis.

Nothing is counted in this process, so one exporter serves any number of workers, and a
restart loses nothing. The counters come from the ledger's stats hash, which the workers'
Lua scripts bump in the same step that records an outcome (the latency histogram included),
so a scrape costs one pipelined round trip; the SCAN that finds album series and accounts
runs at most once a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from worker.ledger import LATENCY_BUCKETS_S, LATENCY_SUM_FIELD
from worker.snapshot import (
    IN_DOUBT,
    OUTCOMES,
    Snapshot,
    discover_accounts,
    discover_series,
    read_snapshot,
)

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric
    from redis import Redis

DEFAULT_PORT = 9808
DISCOVER_EVERY_S = 60.0


def families(snap: Snapshot) -> list[Metric]:
    """The metric families of one snapshot (pure: no I/O)."""
    files = CounterMetricFamily(
        "mediapost_files", "Files with a final outcome, by outcome.", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        files.add_metric([outcome], snap.count(outcome))
    errors = CounterMetricFamily(
        "mediapost_api_errors",
        "API errors that reached the upload pipeline (after the client's own retries), by code.",
        labels=["code"],
    )
    for code, value in snap.errors.items():
        errors.add_metric([code], value)
    doubt = CounterMetricFamily(
        "mediapost_uploads_in_doubt",
        "Uploads whose answer was lost (in_doubt), then found on the server (adopted) or "
        "set aside because their album was unknown (in_doubt_unresolved).",
        labels=["kind"],
    )
    for kind in IN_DOUBT:
        doubt.add_metric([kind], snap.count(kind))
    result: list[Metric] = [
        files,
        errors,
        doubt,
        _latency(snap),
        GaugeMetricFamily(
            "mediapost_queue_depth", "Upload messages waiting in the queue.", value=snap.waiting
        ),
        GaugeMetricFamily(
            "mediapost_in_flight",
            "Upload messages delivered to a worker and not yet acknowledged "
            "(running, or held for a retry countdown).",
            value=snap.in_flight,
        ),
    ]
    result.extend(_albums(snap))
    result.extend(_accounts(snap))
    return result


def _latency(snap: Snapshot) -> HistogramMetricFamily:
    """Cumulative buckets from the per-bucket counts the finish script keeps."""
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound in LATENCY_BUCKETS_S:
        total += snap.count(f"upload_le_{bound:g}")
        buckets.append((f"{bound:g}", total))
    total += snap.count("upload_le_inf")
    buckets.append(("+Inf", total))
    return HistogramMetricFamily(
        "mediapost_upload_seconds",
        "Time from claiming a file to recording its upload (album creation and retries included).",
        buckets=buckets,
        sum_value=snap.count(LATENCY_SUM_FIELD) / 1000,
    )


def _albums(snap: Snapshot) -> Iterator[Metric]:
    fill = GaugeMetricFamily(
        "mediapost_album_fill", "Photos reserved in the series' current album.", labels=["series"]
    )
    limit = GaugeMetricFamily(
        "mediapost_album_limit", "Capacity of the series' current album.", labels=["series"]
    )
    albums = GaugeMetricFamily(
        "mediapost_albums", "Albums the series has used so far.", labels=["series"]
    )
    for s in snap.series:
        fill.add_metric([s.name], s.fill)
        limit.add_metric([s.name], s.limit)
        albums.add_metric([s.name], s.albums)
    yield from (fill, limit, albums)


def _accounts(snap: Snapshot) -> Iterator[Metric]:
    paused = GaugeMetricFamily(
        "mediapost_account_paused",
        "1 while uploads for the account are paused (102 or a configuration error), by code.",
        labels=["account", "code"],
    )
    window = GaugeMetricFamily(
        "mediapost_account_rate_window_seconds",
        "Seconds left in the account's code-4 rate window.",
        labels=["account"],
    )
    for a in snap.accounts:
        if a.pause is not None:
            paused.add_metric([a.account, str(a.pause.code)], 1)
        if a.rate_window_ms > 0:
            window.add_metric([a.account], a.rate_window_ms / 1000)
    yield from (
        paused,
        window,
        GaugeMetricFamily(
            "mediapost_accounts_paused",
            "Accounts whose uploads are paused right now.",
            value=sum(1 for a in snap.accounts if a.pause is not None),
        ),
    )


class RedisCollector(Collector):
    """Reads a snapshot on every scrape; re-finds series and accounts once a minute."""

    def __init__(
        self,
        redis: Redis,
        *,
        accounts: Iterable[str] = (),
        discover_every_s: float = DISCOVER_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.known_accounts = tuple(accounts)  # the configured account: always read directly
        self.discover_every_s = discover_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._found_at: float | None = None
        self._series: list[str] = []
        self._accounts: list[str] = []

    def collect(self) -> Iterator[Metric]:
        """One scrape: Redis up or down, then the families of the snapshot."""
        try:
            snap = self._snapshot()
        except RedisError:
            yield _redis_up(0)
            return
        yield _redis_up(1)
        yield from families(snap)

    def _snapshot(self) -> Snapshot:
        with self._lock:
            now = self.clock()
            if self._found_at is None or now - self._found_at >= self.discover_every_s:
                self._series = discover_series(self.redis)
                self._accounts = discover_accounts(self.redis)
                self._found_at = now
            series, accounts = self._series, [*self._accounts, *self.known_accounts]
        return read_snapshot(self.redis, series, accounts)


def _redis_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "mediapost_redis_up", "1 if the exporter could read Redis on this scrape.", value=value
    )


def serve(
    redis: Redis, *, address: str, port: int, accounts: Iterable[str] = ()
) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics from a daemon thread; returns the server (its port) and the thread."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(redis, accounts=accounts))
    return start_http_server(port, addr=address, registry=registry)
