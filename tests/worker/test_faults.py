"""Workers under API faults and crashes: nothing lost, nothing uploaded twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.images import write_image
from tests.proxy import TcpProxy
from tests.worker.harness import Stack, wait_for
from worker.messages import UPLOAD_QUEUE

FAST_GATES = {"MEDIAPOST_WORKER__RATE_WINDOW_S": "1", "MEDIAPOST_WORKER__PAUSE_RETRY_S": "0.5"}


def drop_images(folder: Path, count: int, seed: int, prefix: str = "img") -> list[Path]:
    """`count` distinct JPEGs in the folder."""
    return [write_image(folder / f"{prefix}{i:03}.jpg", seed=seed + i) for i in range(count)]


def our_photos(stack: Stack) -> list[dict[str, object]]:
    """Photos at the emulator that our service uploaded (not admin placeholders)."""
    return [p for p in stack.inspect()["photos"] if not p["placeholder"]]


def assert_each_once(stack: Stack, files: list[Path]) -> None:
    """Exactly one photo per file's content at the emulator."""
    photos = our_photos(stack)
    assert len(photos) == len(files)
    assert len({p["sha256"] for p in photos}) == len(files)


def test_codes_1_and_2_on_30_percent_of_uploads_still_upload_every_file_once(stack: Stack) -> None:
    """Transient API errors are retried with new call_ids until every file is in, once."""
    folder = stack.folder("flaky")
    files = drop_images(folder.path, 40, seed=100)
    stack.post_admin(
        "faults",
        {
            "seed": 5,
            "rules": [
                {"action": "error", "code": 1, "rate": 0.15},
                {"action": "error", "code": 2, "rate": 0.15},
            ],
        },
    )
    stack.start_worker(concurrency=4)
    stack.enqueue(folder, files)
    stack.wait_settled(folder, 40)
    assert_each_once(stack, files)
    errors = stack.inspect()["counters"]
    assert stack.events("api.retry"), "the injected errors were retried"
    assert errors, "the emulator counted calls"


def test_code_100_sets_that_file_aside_with_its_reason_and_the_others_go_on(stack: Stack) -> None:
    """A file the server refuses goes to the failed folder with a sidecar; others upload."""
    folder = stack.folder("mixed")
    files = drop_images(folder.path, 8, seed=200)
    bad = write_image(folder.path / "bad.jpg", seed=299)
    stack.post_admin("faults", {"rules": [{"action": "error", "code": 100, "filename": "bad"}]})
    stack.start_worker(concurrency=2)
    stack.enqueue(folder, [*files, bad])
    stack.wait_settled(folder, 9)

    outcomes = stack.outcomes(folder)
    assert outcomes["bad.jpg"].outcome == "set_aside"
    assert all(outcomes[f.name].outcome == "uploaded" for f in files)
    assert_each_once(stack, files)
    moved = folder.path / ".failed" / "bad.jpg"
    assert moved.exists() and not bad.exists()
    reason = Path(str(moved) + ".why.txt").read_text()
    assert "100" in reason
    (line,) = stack.events("file.set_aside")
    assert "100" in line["reason"]


def test_a_code_4_window_pauses_every_worker_then_all_files_finish(stack: Stack) -> None:
    """Code 4 sets one shared back-off; workers wait it out together and then finish."""
    folder = stack.folder("limited")
    files = drop_images(folder.path, 20, seed=300)
    stack.post_admin("faults", {"rate_limit": {"max_calls": 6, "window_s": 1.5}})
    stack.start_worker(concurrency=2, environ=FAST_GATES)
    stack.start_worker(concurrency=2, environ=FAST_GATES)
    stack.enqueue(folder, files)
    stack.wait_settled(folder, 20)
    assert_each_once(stack, files)
    assert stack.events("account.rate_limited")
    waits = [e for e in stack.events("upload.retry_later") if e["reason"] == "rate window"]
    assert waits, "workers waited for the shared window instead of calling the API"


def test_an_expired_session_pauses_uploads_until_a_new_key_is_set_then_all_finish(
    stack: Stack,
) -> None:
    """102 mid-run keeps every file; a new session key in the key file resumes uploads."""
    folder = stack.folder("session")
    first = drop_images(folder.path, 5, seed=400, prefix="a")
    later = drop_images(folder.path, 10, seed=420, prefix="b")
    key_file = stack.root / "session_key"
    key_file.write_text("demo-session\n")
    stack.start_worker(concurrency=2, environ=FAST_GATES, MEDIAPOST_SESSION_KEY_FILE=str(key_file))
    stack.enqueue(folder, first)
    stack.wait_settled(folder, 5)

    stack.post_admin("sessions/expire", {"session_key": "demo-session"})
    stack.enqueue(folder, later)
    wait_for(lambda: bool(stack.events("account.paused")), 30, "the account to pause")
    assert len(stack.outcomes(folder)) == 5, "nothing settles while paused"

    new_key = stack.post_admin("sessions", {})["session_key"]
    key_file.write_text(new_key + "\n")
    stack.wait_settled(folder, 15)
    assert_each_once(stack, first + later)
    assert stack.events("account.resumed")
    logs = "".join(w.log_path.read_text() for w in stack.workers)
    assert new_key not in logs


def test_an_album_filled_behind_our_back_rolls_over_on_321_and_loses_nothing(
    stack: Stack,
) -> None:
    """Another client fills our album; the 321 moves the series to a new album."""
    folder = stack.folder("shared")
    first = drop_images(folder.path, 3, seed=500, prefix="a")
    stack.start_worker(concurrency=2)
    stack.enqueue(folder, first)
    stack.wait_settled(folder, 3)
    (album,) = stack.inspect()["albums"]
    stack.post_admin("albums/fill", {"aid": album["aid"]})

    later = drop_images(folder.path, 10, seed=520, prefix="b")
    stack.enqueue(folder, later)
    stack.wait_settled(folder, 13)
    assert_each_once(stack, first + later)
    albums = {a["name"]: a for a in stack.inspect()["albums"]}
    assert albums["shared 1"]["size"] == 60
    assert albums["shared 2"]["size"] == 10
    assert stack.events("album.full")


def host_port(url: str) -> tuple[str, int]:
    """Host and port of a service's URL (the emulator's, Redis's)."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def via_proxy(redis_url: str, proxy: TcpProxy) -> str:
    """The same Redis database, reached through the proxy."""
    return f"redis://127.0.0.1:{proxy.port}{urlsplit(redis_url).path or '/0'}"


def all_taken_and_recorded(stack: Stack, count: int) -> bool:
    """The queue is empty and `count` messages are recorded as unacknowledged, so none sits in
    a BRPOP answer a connection reset would lose (kombu's at-most-once window)."""
    return stack.redis.llen(UPLOAD_QUEUE) == 0 and stack.redis.hlen("unacked") == count


def test_worker_killed_before_its_request_reached_the_server_uploads_the_file_once(
    stack: Stack,
) -> None:
    """SIGKILL while the request is in a network black hole: redelivered, uploaded once."""
    with TcpProxy(host_port(stack.emulator_url)) as proxy:
        folder = stack.folder("killed-early")
        warm_up, photo = drop_images(folder.path, 2, seed=600)
        worker = stack.start_worker(
            concurrency=1,
            pool="prefork",
            MEDIAPOST_ENDPOINT=f"http://127.0.0.1:{proxy.port}/api.php",
            MEDIAPOST_HTTP_TIMEOUT_S="120",
        )
        stack.enqueue(folder, [warm_up])  # creates the album, so the kill hits the upload
        stack.wait_settled(folder, 1)
        proxy.holding = True
        stack.enqueue(folder, [photo])
        assert proxy.held.wait(30), "the upload reached the proxy"
        (child,) = worker.children()
        os.kill(child, signal.SIGKILL)
        proxy.holding = False
        stack.wait_settled(folder, 2, timeout=60)
    assert_each_once(stack, [warm_up, photo])
    assert stack.outcomes(folder)[photo.name].outcome == "uploaded"
    assert stack.events("upload.in_doubt_absent"), "the redelivery checked the album first"


def test_worker_killed_after_the_server_stored_the_photo_adopts_it_without_a_second_upload(
    stack: Stack,
) -> None:
    """SIGKILL after the photo is stored but before the answer: found by its marker, adopted."""
    folder = stack.folder("killed-late")
    (photo,) = drop_images(folder.path, 1, seed=700)
    stack.post_admin("faults", {"rules": [{"action": "stall", "seconds": 60, "count": 1}]})
    worker = stack.start_worker(concurrency=1, pool="prefork")
    stack.enqueue(folder, [photo])
    wait_for(lambda: len(our_photos(stack)) == 1, 30, "the emulator to store the photo")
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)
    stack.wait_settled(folder, 1, timeout=60)

    assert_each_once(stack, [photo])
    (adopted,) = stack.events("upload.adopted")
    assert adopted["pid"] == our_photos(stack)[0]["pid"]
    assert httpx.get(stack.admin + "/inspect").status_code == 200


def test_a_connection_dropped_after_the_server_stored_the_photo_is_adopted_not_reuploaded(
    stack: Stack,
) -> None:
    """Outcome in doubt: after the grace the worker finds its marker in the album."""
    folder = stack.folder("dropped")
    files = drop_images(folder.path, 3, seed=800)
    stack.post_admin("faults", {"rules": [{"action": "drop", "count": 1}]})
    stack.start_worker(concurrency=1)
    stack.enqueue(folder, files)
    stack.wait_settled(folder, 3, timeout=60)
    assert_each_once(stack, files)
    assert stack.events("upload.in_doubt") and stack.events("upload.adopted")
    assert stack.inspect()["counters"]["dropped"] == 1


def test_an_upload_the_server_stores_after_the_client_gave_up_is_adopted_after_the_grace(
    stack: Stack,
) -> None:
    """Server slow to store (2.5 s), client timeout 1 s: the upload is in doubt; the in-doubt
    grace (4 s) outlasts the server's delay, so the album listing finds it: no second copy."""
    folder = stack.folder("slow-store")
    warm_up, photo = drop_images(folder.path, 2, seed=1500)
    stack.start_worker(
        concurrency=1,
        MEDIAPOST_HTTP_TIMEOUT_S="1",
        MEDIAPOST_WORKER__IN_DOUBT_GRACE_S="4",
    )
    stack.enqueue(folder, [warm_up])  # creates the album with a fast answer
    stack.wait_settled(folder, 1)
    stack.post_admin("faults", {"rules": [{"action": "delay", "seconds": 2.5, "count": 1}]})
    stack.enqueue(folder, [photo])
    stack.wait_settled(folder, 2, timeout=60)
    assert_each_once(stack, [warm_up, photo])
    assert stack.events("upload.in_doubt") and stack.events("upload.adopted")


def test_a_message_held_for_its_countdown_goes_back_when_the_broker_connection_resets(
    stack: Stack,
) -> None:
    """Celery drops what it holds for a countdown on a lost connection: kombu must restore it
    (only running tasks keep their messages), or the file waits for the visibility timeout."""
    with TcpProxy(host_port(stack.redis_url)) as proxy:
        folder = stack.folder("held")
        (photo,) = drop_images(folder.path, 1, seed=1400)
        stack.start_worker(concurrency=1, REDIS_URL=via_proxy(stack.redis_url, proxy))
        wait_for(lambda: bool(stack.events("albums.reconciled")), 10, "the start-up task")
        wait_for(stack.queue_empty, 10, "the start-up task to be acknowledged")
        stack.enqueue(folder, [photo], countdown=3)
        wait_for(lambda: all_taken_and_recorded(stack, 1), 10, "the message held for later")
        proxy.reset()
        stack.wait_settled(folder, 1, timeout=30)
        wait_for(stack.queue_empty, 30, "the queue to drain")
    assert_each_once(stack, [photo])


def test_a_broker_connection_reset_mid_upload_does_not_upload_the_file_twice(
    stack: Stack,
) -> None:
    """Connections to Redis reset while uploads run: kombu gives the running tasks' messages
    back at once, and their second copies must not upload the files again."""
    with TcpProxy(host_port(stack.redis_url)) as proxy:
        folder = stack.folder("broker-reset")
        files = drop_images(folder.path, 4, seed=1300)
        stack.start_worker(concurrency=2, REDIS_URL=via_proxy(stack.redis_url, proxy))
        stack.enqueue(folder, files[:1])  # creates the album first
        stack.wait_settled(folder, 1)
        stack.post_admin("faults", {"latency_ms": 3000})
        wait_for(stack.queue_empty, 10, "the first upload to be acknowledged")
        stack.enqueue(folder, files[1:])
        wait_for(lambda: stack.inspect()["counters"]["in_flight"] == 2, 10, "two uploads")
        wait_for(lambda: all_taken_and_recorded(stack, 3), 10, "the third file taken too")
        proxy.reset()
        stack.wait_settled(folder, 4, timeout=60)
        wait_for(stack.queue_empty, 60, "the queue to drain")
    assert_each_once(stack, files)
