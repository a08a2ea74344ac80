"""The acceptance points of the watcher: real files, real observers, real Redis, real producer."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import redis as redis_lib
from structlog.testing import capture_logs

from config.settings import WatchFolder
from tests.proxy import TcpProxy
from tests.scheduler.conftest import FAST, StartWatcher
from tests.scheduler.uploads import Consumer, counts, wait_for_queue, wait_until

CHUNK = b"\xff" * 4096


def write_in_chunks(path: Path, chunks: int, pause_s: float) -> float:
    """Write a file through one handle with pauses; returns the time of the last write."""
    last = 0.0
    with path.open("wb") as fh:
        for _ in range(chunks):
            fh.write(CHUNK)
            fh.flush()
            last = time.time()
            time.sleep(pause_s)  # the scenario: a slow writer, not synchronisation
    return last


def test_a_file_written_in_chunks_is_queued_once_after_its_last_write(
    start_watcher: StartWatcher, drop: Path, redis_url: str
) -> None:
    """Native observer: pauses longer than the quiet period do not make a half file ready."""
    consumer = Consumer(redis_url).start()
    start_watcher(WatchFolder(path=drop, quiet_period_s=0.2))
    last_write = write_in_chunks(drop / "slow.jpg", chunks=8, pause_s=0.3)
    wait_until(lambda: len(consumer.arrivals) >= 1, 5, "the slow file")
    consumer.stop()
    [(arrived, kwargs)] = consumer.arrivals
    assert arrived >= last_write
    assert kwargs["size"] == 8 * len(CHUNK)
    assert kwargs["mtime_ns"] == (drop / "slow.jpg").stat().st_mtime_ns


def test_polling_uses_the_quiet_period_after_the_last_write(
    start_watcher: StartWatcher, drop: Path, redis_url: str
) -> None:
    """Polling observer (no close events): queued once, no earlier than quiet after the end."""
    quiet = 0.6
    consumer = Consumer(redis_url).start()
    folder = WatchFolder(path=drop, quiet_period_s=quiet, observer="polling", poll_interval_s=0.1)
    start_watcher(folder)
    last_write = write_in_chunks(drop / "slow.jpg", chunks=10, pause_s=0.2)
    wait_until(lambda: len(consumer.arrivals) >= 1, 5, "the slow file")
    consumer.stop()
    [(arrived, kwargs)] = consumer.arrivals
    assert arrived >= last_write + quiet
    assert kwargs["size"] == 10 * len(CHUNK)


def test_a_file_moved_in_is_queued_once(
    start_watcher: StartWatcher, drop: Path, tmp_path: Path, redis_client: redis_lib.Redis
) -> None:
    """A rename into the folder (and a whole directory moved in) counts as finished."""
    options = replace(FAST, rescan_interval_s=0.3)
    folder = WatchFolder(path=drop, quiet_period_s=30.0)  # only "moved in" can make them ready
    run = start_watcher(folder, options=options)
    outside = tmp_path / "outside"
    (outside / "album").mkdir(parents=True)
    (outside / "one.jpg").write_bytes(b"1" * 100)
    for n in ("a", "b", "c"):
        (outside / "album" / f"{n}.jpg").write_bytes(b"2" * 50)
    (outside / "one.jpg").rename(drop / "one.jpg")
    (outside / "album").rename(drop / "album")
    wait_for_queue(redis_client, 4, timeout=5)
    run.wait_rescans(run.rescans() + 2)
    assert counts(redis_client) == Counter(
        {str(drop / p): 1 for p in ("one.jpg", "album/a.jpg", "album/b.jpg", "album/c.jpg")}
    )


def test_a_part_file_renamed_to_jpg_is_queued_once_under_its_final_name(
    start_watcher: StartWatcher, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """Temporary names (.part, .crdownload, rsync dot-temps) are ignored until renamed."""
    start_watcher(WatchFolder(path=drop, quiet_period_s=0.2))
    for temp, final in (
        ("a.jpg.part", "a.jpg"),
        ("Unconfirmed 1.crdownload", "b.jpg"),
        (".c.jpg.Xq81aZ", "c.jpg"),
    ):
        write_in_chunks(drop / temp, chunks=3, pause_s=0.25)  # pauses exceed the quiet period
        (drop / temp).rename(drop / final)
    wait_for_queue(redis_client, 3, timeout=5)
    assert counts(redis_client) == Counter({str(drop / n): 1 for n in ("a.jpg", "b.jpg", "c.jpg")})


def test_files_dropped_while_stopped_are_all_queued_at_start(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """The start-up scan finds 500 files that arrived while the watcher was down."""
    for i in range(500):
        (drop / f"{i:03}.jpg").write_bytes(b"x" * (i + 1))
    start_watcher(folder)
    wait_for_queue(redis_client, 500, timeout=15)
    c = counts(redis_client)
    assert len(c) == 500 and set(c.values()) == {1}


def test_a_burst_of_1000_files_is_queued_exactly_once_each(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """Counted at the queue after one more full rescan: no file twice, none missing."""
    options = replace(FAST, rescan_interval_s=1.0)
    run = start_watcher(folder, options=options)
    for i in range(1000):
        (drop / f"{i:04}.jpg").write_bytes(b"b" * 1000)
    wait_for_queue(redis_client, 1000, timeout=20)
    done = run.rescans()
    run.wait_rescans(done + 2)
    c = counts(redis_client)
    assert len(c) == 1000 and set(c.values()) == {1}


def test_an_event_storm_on_one_file_queues_it_once(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """Re-closing, chmod-ing and touching with the same mtime never queue it again."""
    options = replace(FAST, rescan_interval_s=0.5)
    run = start_watcher(folder, options=options)
    path = drop / "storm.jpg"
    path.write_bytes(b"s" * 500)
    wait_for_queue(redis_client, 1)
    st = path.stat()
    for i in range(200):
        with path.open("ab"):
            pass  # IN_CLOSE_WRITE without a change
        path.chmod(0o644 if i % 2 else 0o600)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    (drop / "marker.jpg").write_bytes(b"m")
    wait_for_queue(redis_client, 2)
    done = run.rescans()
    run.wait_rescans(done + 2)
    assert counts(redis_client)[str(path)] == 1


def test_odd_entries_are_skipped_with_one_log_line_each(
    start_watcher: StartWatcher,
    folder: WatchFolder,
    drop: Path,
    tmp_path: Path,
    redis_client: redis_lib.Redis,
) -> None:
    """Symlink leaving the root, FIFO, image-named directory: logged once, never queued."""
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    options = replace(FAST, rescan_interval_s=0.3)
    with capture_logs() as logs:
        run = start_watcher(folder, options=options)
        (drop / "link.jpg").symlink_to(tmp_path / "secret.jpg")
        os.mkfifo(drop / "pipe.jpg")
        (drop / "album.jpg").mkdir()
        (drop / "evil\nname.jpg").write_bytes(b"e")
        (drop / "ok.jpg").write_bytes(b"ok")
        wait_for_queue(redis_client, 2)
        done = run.rescans()
        run.wait_rescans(done + 2)  # the rescans see them again, and stay quiet
    skipped = [
        (e["file"], e["reason"], e.get("target_outside_root"))
        for e in logs
        if e["event"] == "watch.skipped"
    ]
    assert sorted(skipped) == [
        ("album.jpg", "directory", None),
        ("link.jpg", "symlink", True),
        ("pipe.jpg", "fifo", None),
    ]
    assert counts(redis_client) == Counter(
        {str(drop / "ok.jpg"): 1, str(drop / "evil\nname.jpg"): 1}
    )
    enqueued = [e["file"] for e in logs if e["event"] == "watch.enqueued"]
    assert "evil\\nname.jpg" in enqueued


def test_post_upload_moves_into_done_are_ignored(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """Files renamed into .done (as workers do) are never queued again; new drops still are."""
    start_watcher(folder)
    for i in range(20):
        (drop / f"{i}.jpg").write_bytes(b"d")
    wait_for_queue(redis_client, 20)
    (drop / ".done" / "sub").mkdir(parents=True)
    for i in range(20):
        (drop / f"{i}.jpg").rename(drop / ".done" / "sub" / f"{i}.jpg")
    (drop / "new.jpg").write_bytes(b"n")
    wait_for_queue(redis_client, 21)
    assert len(counts(redis_client)) == 21


def test_restarting_does_not_requeue_but_a_stale_unsettled_file_is(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """The enqueued index makes restarts idempotent; after requeue_after_s, unsettled goes again."""
    from worker import registry

    for name in ("lost.jpg", "uploaded.jpg"):
        (drop / name).write_bytes(b"x" * 10)
    first = start_watcher(folder)
    wait_for_queue(redis_client, 2)
    first.halt()
    second = start_watcher(folder)
    second.wait_rescans(1)
    assert redis_client.llen("mediapost.uploads") == 2
    second.halt()
    st = (drop / "uploaded.jpg").stat()
    outcome = registry.FileOutcome(st.st_size, st.st_mtime_ns, "uploaded")
    registry.record_outcome(redis_client, folder.id, "uploaded.jpg", outcome)
    options = replace(FAST, requeue_after_s=0.0)
    start_watcher(folder, options=options)
    wait_for_queue(redis_client, 3)
    assert counts(redis_client) == Counter(
        {str(drop / "lost.jpg"): 2, str(drop / "uploaded.jpg"): 1}
    )


@pytest.mark.parametrize(
    "outage_s", [pytest.param(1.5, id="1.5s"), pytest.param(10.0, id="10s", marks=pytest.mark.slow)]
)
def test_redis_unreachable_during_a_burst_loses_nothing(
    start_watcher: StartWatcher,
    folder: WatchFolder,
    drop: Path,
    redis_client: redis_lib.Redis,
    outage_s: float,
) -> None:
    """Redis cut (proxy refusing and resetting) mid-burst: every file is queued once it is back."""
    proxy = TcpProxy(("127.0.0.1", 6379))
    proxy.up()
    db = redis_client.connection_pool.connection_kwargs["db"]
    url = f"redis://127.0.0.1:{proxy.port}/{db}"
    with capture_logs() as logs:
        start_watcher(folder, url=url)
        for i in range(150):
            (drop / f"before-{i:03}.jpg").write_bytes(b"b" * 100)
        wait_for_queue(redis_client, 50)
        proxy.down()
        cut = time.monotonic()
        i = 0
        while time.monotonic() - cut < outage_s:
            (drop / f"during-{i:03}.jpg").write_bytes(b"d" * 100)
            i += 1
            time.sleep(0.01)  # the scenario: files keep arriving during the outage
        proxy.up()
        expected = {str(drop / f"before-{n:03}.jpg") for n in range(150)}
        expected |= {str(drop / f"during-{n:03}.jpg") for n in range(i)}
        wait_until(lambda: set(counts(redis_client)) >= expected, 20, "every file after the outage")
    proxy.down()
    c = counts(redis_client)
    assert set(c) == expected
    # A publish cut after Redis stored it but before the reply came back is sent again: at most
    # one such duplicate per cut. The workers' ledger absorbs it.
    assert sum(c.values()) - len(c) <= 1
    outage_logs = [e["event"] for e in logs if e["event"].startswith("watch.enqueue_")]
    assert outage_logs == ["watch.enqueue_failed", "watch.enqueue_recovered"]
