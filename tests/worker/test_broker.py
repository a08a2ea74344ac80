"""The broker channel gives back a message its last, unread BRPOP took (real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kombu
import pytest
import redis as redis_lib

from tests.worker.harness import wait_for

QUEUE = "test.pending-pop"
KOMBU: Any = kombu  # untyped


def send_brpop(channel: Any, timeout: int) -> None:
    """What the worker's event loop does last: register the channel and send a BRPOP."""
    channel.connection.cycle._register_BRPOP(channel)  # sends one with the default timeout
    channel.give_back_pending_pop()  # read it: empty, nothing was queued yet
    channel._brpop_start(timeout=timeout)


@pytest.fixture
def channel(redis_url: str, redis_client: redis_lib.Redis) -> Iterator[Any]:
    """A consuming channel of our transport, its event loop never run (a stopping worker)."""
    with KOMBU.Connection(redis_url, transport="worker.broker:Transport") as connection:
        chan = connection.channel()
        KOMBU.Queue(QUEUE, channel=chan).declare()
        chan.basic_consume(QUEUE, False, lambda message: None, "test-consumer")
        yield chan
        chan.close()


def test_a_message_taken_by_an_unread_brpop_goes_back_to_the_queue(
    channel: Any, redis_client: redis_lib.Redis
) -> None:
    """BRPOP sent, a message pushed and popped by it: give_back puts it where BRPOP reads."""
    send_brpop(channel, timeout=10)
    redis_client.lpush(QUEUE, "later")
    redis_client.lpush(QUEUE, "first")  # only once "later" is taken: the BRPOP holds it now
    wait_for(lambda: redis_client.lrange(QUEUE, 0, -1) == ["first"], 5, "the BRPOP to take one")

    assert channel.give_back_pending_pop() == "given_back"
    assert redis_client.lrange(QUEUE, 0, -1) == ["first", "later"]  # "later" is popped next
    assert channel.give_back_pending_pop() == "idle"


def test_an_unread_brpop_that_found_nothing_gives_nothing_back(
    channel: Any, redis_client: redis_lib.Redis
) -> None:
    """A BRPOP that times out empty: nothing is pushed."""
    send_brpop(channel, timeout=1)
    assert channel.give_back_pending_pop() == "empty"
    assert redis_client.llen(QUEUE) == 0
