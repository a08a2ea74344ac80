"""`mediapost metrics`: the Prometheus families, read from Redis on each scrape."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess

import httpx
import redis as redis_lib
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.commands.invoke import python, subprocess_env
from tests.images import write_image
from tests.worker.harness import Stack, wait_for
from worker.ledger import latency_field
from worker.metrics import RedisCollector

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape_cli_exporter(stack: Stack) -> str:
    """Start `mediapost metrics --port 0`, scrape it once, stop it with SIGTERM."""
    child = subprocess.Popen(
        [python(), "-m", "mediapost", "metrics", "--port", "0"],
        env=subprocess_env(stack),
        stderr=subprocess.PIPE,
        text=True,
        cwd=stack.root,
    )
    try:
        assert child.stderr is not None
        for line in child.stderr:
            found = re.search(r"serving metrics on (http://\S+)", line)
            if found:
                break
        else:
            raise AssertionError("the exporter never said where it serves")
        response = httpx.get(found.group(1), timeout=10)
        response.raise_for_status()
        return response.text
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(10)


def test_after_a_run_the_exporter_shows_outcomes_errors_latency_queue_and_albums(
    stack: Stack,
) -> None:
    """2 uploads, 1 duplicate, 1 set aside on 324: every family says so."""
    folder = stack.folder("holiday")
    a = write_image(folder.path / "a.jpg", seed=1)
    b = write_image(folder.path / "b.jpg", seed=2)
    bad = write_image(folder.path / "bad.jpg", seed=3)
    stack.post_admin("faults", {"rules": [{"action": "error", "code": 324, "filename": "bad"}]})
    stack.start_worker(concurrency=2)
    stack.enqueue(folder, [a, b, bad])
    stack.wait_settled(folder, 3)
    copy = folder.path / "copy.jpg"
    shutil.copyfile(a, copy)
    stack.enqueue(folder, [copy])
    stack.wait_settled(folder, 4)

    got = samples(scrape_cli_exporter(stack))
    assert got[("mediapost_redis_up", ())] == 1
    assert got[("mediapost_files_total", (("outcome", "uploaded"),))] == 2
    assert got[("mediapost_files_total", (("outcome", "duplicate"),))] == 1
    assert got[("mediapost_files_total", (("outcome", "set_aside"),))] == 1
    assert got[("mediapost_api_errors_total", (("code", "324"),))] == 1
    assert got[("mediapost_upload_seconds_count", ())] == 2
    assert 0 < got[("mediapost_upload_seconds_sum", ())] < 30
    assert got[("mediapost_upload_seconds_bucket", (("le", "+Inf"),))] == 2
    assert got[("mediapost_queue_depth", ())] == 0
    assert got[("mediapost_album_fill", (("series", "holiday"),))] == 2
    assert got[("mediapost_album_limit", (("series", "holiday"),))] == 60
    assert got[("mediapost_albums", (("series", "holiday"),))] == 1
    for kind in ("in_doubt", "in_doubt_unresolved", "adopted"):
        assert got[("mediapost_uploads_in_doubt_total", (("kind", kind),))] == 0
    assert got[("mediapost_accounts_paused", ())] == 0


def test_a_paused_account_shows_with_its_code(stack: Stack) -> None:
    """An expired session pauses the account; the exporter reports it paused with code 102."""
    folder = stack.folder("paused")
    stack.post_admin("sessions/expire", {"all": True})
    stack.start_worker(concurrency=1)
    stack.enqueue(folder, [write_image(folder.path / "x.jpg", seed=9)])

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(stack.redis, discover_every_s=0))

    def paused() -> Samples:
        return {k: v for k, v in samples(generate_latest(registry).decode()).items() if v}

    wait_for(lambda: paused().get(("mediapost_accounts_paused", ()), 0) == 1, 30, "a pause")
    (label,) = [k for k in paused() if k[0] == "mediapost_account_paused"]
    assert ("code", "102") in label[1]
    assert paused()[("mediapost_api_errors_total", (("code", "102"),))] >= 1


def test_the_exporter_reports_redis_down_instead_of_failing_the_scrape() -> None:
    """No Redis: a scrape still answers, with mediapost_redis_up 0."""
    client = redis_lib.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(client))
    got = samples(generate_latest(registry).decode())
    assert got == {("mediapost_redis_up", ()): 0}


def test_latency_buckets_are_upper_bounds() -> None:
    """A duration lands in the first bucket that is at least as long."""
    assert latency_field(0.05) == "upload_le_0.1"
    assert latency_field(1.0) == "upload_le_1"
    assert latency_field(1.01) == "upload_le_2.5"
    assert latency_field(5000) == "upload_le_inf"
