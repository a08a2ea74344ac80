"""`mediapost status`: what an operator sees during and after a run."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.commands.invoke import run
from tests.images import write_image
from tests.worker.harness import SECRETS, Stack, wait_for
from worker import account
from worker.messages import UPLOAD_QUEUE
from worker.snapshot import Snapshot


def status(stack: Stack) -> dict[str, Any]:
    """`mediapost status --json`, parsed."""
    result = run(stack, "status", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_status_json_counts_the_queue_while_uploads_run_and_the_outcomes_after(
    stack: Stack,
) -> None:
    """During a slow run: 4 taken (2 uploading, 2 prepared ahead) and 2 waiting; after it: 6
    uploaded in one album of 60."""
    folder = stack.folder("holiday")
    files = [write_image(folder.path / f"img{i}.jpg", seed=i) for i in range(6)]
    stack.start_worker(concurrency=2)
    wait_for(stack.queue_empty, 10, "the start-up reconciliation to finish")
    stack.post_admin("faults", {"latency_ms": 2000})
    stack.enqueue(folder, files)
    wait_for(lambda: stack.redis.llen(UPLOAD_QUEUE) == 2, 10, "four files taken by the worker")

    during = status(stack)
    assert during["queue"] == {"waiting": 2, "in_flight": 4}
    assert during["files"] == {"uploaded": 0, "duplicate": 0, "set_aside": 0}

    stack.post_admin("faults", {"latency_ms": 0})
    stack.wait_settled(folder, 6)
    wait_for(stack.queue_empty, 10, "the queue to drain")
    after = status(stack)
    assert after["queue"] == {"waiting": 0, "in_flight": 0}
    assert after["files"] == {"uploaded": 6, "duplicate": 0, "set_aside": 0}
    assert after["in_doubt"] == {"in_doubt": 0, "in_doubt_unresolved": 0, "adopted": 0}
    (series,) = after["series"]
    assert (series["name"], series["fill"], series["limit"], series["albums"]) == (
        "holiday",
        6,
        60,
        1,
    )
    assert series["album"] == stack.inspect()["albums"][0]["aid"]
    assert after["accounts"] == []


def test_status_names_an_account_pause_and_its_reason_without_any_secret(stack: Stack) -> None:
    """A paused account shows as PAUSED with the reason; neither secret nor session appears."""
    reason = "session key invalid or expired (102): run `mediapost auth`"
    account.pause(stack.redis, "acct123", account.Pause(reason, 102, "fp", time.time()))

    table = run(stack, "status")
    assert table.exit_code == 0, table.output
    assert f"PAUSED     account acct123: {reason}" in table.stdout
    assert "no album series yet" in table.stdout
    (paused,) = status(stack)["accounts"]
    assert (paused["account"], paused["paused"], paused["code"]) == ("acct123", True, 102)
    assert paused["reason"] == reason
    assert 0 <= paused["paused_for_s"] < 60
    for secret in SECRETS:
        assert secret not in table.output


def test_status_says_where_redis_was_expected_when_it_is_down(stack: Stack) -> None:
    """No Redis: exit 1 with the URL (password hidden) and what to do."""
    env = {**stack.env, "REDIS_URL": "redis://:hunter22@127.0.0.1:1/0"}
    result = run(stack, "status", env=env)
    assert result.exit_code == 1
    assert "Redis is not reachable at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "hunter22" not in result.output


def test_the_table_shows_fill_and_the_default_album() -> None:
    """A series in the default album reads `default album <aid>` with its fill and limit."""
    from mediapost.commands.status import status_table
    from worker.snapshot import SeriesState

    snap = Snapshot(
        waiting=3,
        in_flight=1,
        stats={"uploaded": 7, "error_321": 2},
        series=(SeriesState("scans", "@default", 7, 1000, 1, default_aid="555"),),
    )
    text = status_table(snap, now=0)
    assert "queue      3 waiting, 1 in flight" in text
    assert "api errors 321: 2" in text
    assert "scans   default album 555  7/1000  1" in text
