"""The outbox: dedup, the enqueued index, the requeue rule, and keeping items through outages."""

from __future__ import annotations

import pytest
import redis as redis_lib
from kombu.exceptions import OperationalError
from structlog.testing import capture_logs

from scheduler.enqueue import Backoff, Candidate, Decision, Enqueuer, decide, parse_mark
from worker import registry
from worker.messages import UploadRequest


class Broker:
    """Records published requests; can be switched to fail like an unreachable Redis."""

    def __init__(self) -> None:
        self.sent: list[UploadRequest] = []
        self.down = False

    def __call__(self, request: UploadRequest) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append(request)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def cand(rel: str = "a.jpg", size: int = 10, mtime_ns: int = 1, **kw: bool) -> Candidate:
    """A candidate of watch folder `w`."""
    return Candidate("w", rel, f"/drop/{rel}", size, mtime_ns, **kw)


@pytest.fixture
def broker() -> Broker:
    """A fresh recording broker."""
    return Broker()


@pytest.fixture
def wall() -> Clock:
    """A hand-driven wall clock."""
    return Clock()


@pytest.fixture
def enq(redis_client: redis_lib.Redis, broker: Broker, wall: Clock) -> Enqueuer:
    """An enqueuer on the real test Redis with a one-hour requeue window."""
    return Enqueuer(
        redis_client, broker, requeue_after_s=3600, backoff=Backoff(0.5, 4.0), wall=wall
    )


def test_decide() -> None:
    """New versions are sent; a recent send is skipped; an old one asks for the outcome."""
    assert decide(None, 10, 1, 100.0, 60) is Decision.SEND
    assert decide((10, 2, 90), 10, 1, 100.0, 60) is Decision.SEND
    assert decide((10, 1, 90), 10, 1, 100.0, 60) is Decision.SKIP
    assert decide((10, 1, 30), 10, 1, 100.0, 60) is Decision.CHECK_SETTLED
    assert parse_mark("10:1:90") == (10, 1, 90) and parse_mark("junk") is None


def test_backoff_grows_and_resets() -> None:
    """Waits double up to the cap; the first failure of an outage is flagged once."""
    b = Backoff(0.5, 2.0)
    assert b.failed(0.0) and not b.failed(1.0) and not b.failed(2.0)
    assert 2.0 + 0.75 * 2.0 <= b.retry_at <= 4.0
    assert not b.ready(2.0) and b.ready(4.0)
    assert b.succeeded(5.0) == 5.0 and b.succeeded(6.0) is None


def test_a_storm_for_one_version_is_sent_once(
    enq: Enqueuer, broker: Broker, redis_client: redis_lib.Redis
) -> None:
    """Repeated submits of one version produce one message and one index entry."""
    for _ in range(50):
        enq.submit(cand())
        enq.flush(0.0)
    assert [r.path for r in broker.sent] == ["/drop/a.jpg"]
    assert redis_client.hget(registry.enqueued_key("w"), "a.jpg") == "10:1:1000000"


def test_a_new_version_is_sent_again(enq: Enqueuer, broker: Broker) -> None:
    """Size or mtime changed: that is another file to upload."""
    enq.submit(cand(mtime_ns=1))
    enq.flush(0.0)
    enq.submit(cand(mtime_ns=2))
    enq.flush(0.0)
    assert [r.mtime_ns for r in broker.sent] == [1, 2]


def test_the_index_survives_a_restart(
    redis_client: redis_lib.Redis, broker: Broker, wall: Clock
) -> None:
    """A new process skips what an earlier one sent recently (one HMGET, no publish)."""
    first = Enqueuer(redis_client, broker, requeue_after_s=3600, wall=wall)
    first.submit(cand())
    first.flush(0.0)
    second = Enqueuer(redis_client, broker, requeue_after_s=3600, wall=wall)
    second.submit(cand())
    second.flush(0.0)
    assert len(broker.sent) == 1 and second.pending == 0


def test_an_old_unsettled_send_is_requeued_but_a_settled_one_is_not(
    enq: Enqueuer, broker: Broker, wall: Clock, redis_client: redis_lib.Redis
) -> None:
    """After the requeue window a lost message is sent again, unless the outcome is final."""
    enq.submit(cand("lost.jpg"))
    enq.submit(cand("done.jpg"))
    enq.flush(0.0)
    registry.record_outcome(redis_client, "w", "done.jpg", registry.FileOutcome(10, 1, "uploaded"))
    wall.t += 3601
    enq.submit(cand("lost.jpg"))
    enq.submit(cand("done.jpg"))
    enq.flush(1.0)
    assert [r.path for r in broker.sent] == ["/drop/lost.jpg", "/drop/done.jpg", "/drop/lost.jpg"]


def test_nothing_is_dropped_while_the_broker_is_down(enq: Enqueuer, broker: Broker) -> None:
    """Items stay pending, retries back off, the outage is logged once, recovery once."""
    broker.down = True
    with capture_logs() as logs:
        for i in range(5):
            enq.submit(cand(f"{i}.jpg"))
        enq.flush(0.0)
        assert enq.pending == 5
        assert enq.flush(0.1) == 0  # backing off: not even tried
        enq.flush(10.0)
        broker.down = False
        assert enq.flush(20.0) == 5
    assert enq.pending == 0 and len(broker.sent) == 5
    events = [e["event"] for e in logs if e["event"].startswith("watch.enqueue_")]
    assert events == ["watch.enqueue_failed", "watch.enqueue_recovered"]


def test_a_file_that_went_away_is_not_sent(enq: Enqueuer, broker: Broker) -> None:
    """A pending file that is moved or deleted before the flush is dropped."""
    enq.submit(cand())
    enq.discard("w", "a.jpg")
    enq.flush(0.0)
    assert broker.sent == []


def test_folders_are_published_before_their_files(
    enq: Enqueuer, broker: Broker, redis_client: redis_lib.Redis, tmp_path: object
) -> None:
    """Workers find the folder's settings in Redis before the first message of that folder."""
    from config.settings import WatchFolder

    folder = WatchFolder(path=tmp_path, id="w")  # type: ignore[arg-type]
    enq.register_folder(folder)
    broker.down = True
    enq.submit(cand())
    enq.flush(0.0)
    assert registry.load_watch_folder(redis_client, "w") is not None  # Redis itself was up
    broker.down = False
    enq.flush(100.0)
    assert len(broker.sent) == 1


def test_a_forgotten_path_is_sent_again_by_the_next_rescan(
    enq: Enqueuer, broker: Broker, redis_client: redis_lib.Redis
) -> None:
    """`registry.forget_paths` (retry) wins over this process's memory of the send."""
    enq.submit(cand())
    enq.flush(0.0)
    registry.forget_paths(redis_client, "w", ["a.jpg"])
    assert not enq.submit(cand())  # an event: memory says sent
    assert enq.submit(cand(settled_checked=True))  # a rescan: Redis decides
    enq.flush(1.0)
    assert len(broker.sent) == 2


def test_a_file_that_comes_back_is_looked_up_again(enq: Enqueuer, broker: Broker) -> None:
    """Moved away then back (e.g. out of .failed): memory is dropped, the index decides."""
    enq.submit(cand())
    enq.flush(0.0)
    enq.discard("w", "a.jpg")
    assert enq.submit(cand())
    enq.flush(1.0)
    assert len(broker.sent) == 1  # the index still holds this version: skipped there


def test_a_backlog_drains_over_several_flushes(
    redis_client: redis_lib.Redis, broker: Broker, wall: Clock
) -> None:
    """One flush publishes a few batches, so the loop can serve events in between."""
    enq = Enqueuer(redis_client, broker, requeue_after_s=3600, batch_size=2, wall=wall)
    for i in range(10):
        enq.submit(cand(f"{i}.jpg"))
    assert enq.flush(0.0, max_batches=4) == 8
    assert enq.flush(0.0) == 2 and enq.pending == 0
