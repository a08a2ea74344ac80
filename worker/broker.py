"""kombu's Redis transport with a guard against lost connections and a cheaper acknowledgement.

When the consumer's connection breaks, Celery collects and closes it (kombu drops the
transport's `client`, then the channel's `connection`) while pool threads still run tasks
delivered on it. Two late uses of that channel then need a new connection pool, whose address
kombu reads from what was dropped: the restore of unacknowledged messages when the close
finishes, and the acknowledgement of a task that ends after the loss. Both raise
AttributeError, Celery calls it an "Unrecoverable error", and the worker process exits (status
0), leaving its messages unacknowledged until the visibility timeout (Celery 5.7.0 / kombu
5.7.0; about one Redis restart in ten here). The channel below keeps the connection parameters
it was built with, so those late calls reach Redis, or fail with a connection error, which
kombu logs and survives.

kombu wraps the two writes that mark a message unacknowledged (ZADD + HSET) and the two that
acknowledge it (ZREM + HDEL) in MULTI/EXEC: four commands of the fifteen a task may cost
(bench/throughput.py). Sent as a plain pipeline they still go in one round trip and run in
order; what another client could see in between is harmless: an index entry whose message is
not written yet is younger than the visibility timeout, so no restore looks at it, and an
acknowledgement half done leaves an entry that the restore drops.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from kombu.transport import redis
from redis import exceptions as redis_errors

UNACKED_KEY = "unacked"  # kombu's hash of delivered, unacknowledged messages (`unacked_key`)
UNACKED_INDEX_KEY = "unacked_index"  # their delivery times, for the visibility timeout

# kombu's classes are untyped: subclass them through Any.
_RedisChannel: Any = redis.Channel
_RedisQoS: Any = redis.QoS
_RedisTransport: Any = redis.Transport


def worker_stopping() -> bool:
    """Has this worker begun a warm or cold shutdown? (Celery's flags hold an exit code, 0 too.)"""
    from celery.worker import state

    flags = (state.should_stop, state.should_terminate)
    return any(flag is not None and flag is not False for flag in flags)


def tags_of_tasks_here() -> set[str]:
    """Delivery tags of the tasks this process runs or has queued to its pool, unacknowledged."""
    from celery.worker import state

    tags = set()
    for request in (*state.active_requests, *state.reserved_requests):
        tag = getattr(getattr(request, "message", None), "delivery_tag", None)
        if tag and not request.acknowledged:
            tags.add(str(tag))
    return tags


class QoS(_RedisQoS):  # type: ignore[misc]
    """kombu's acknowledgement emulation, with its bookkeeping writes pipelined, not MULTI."""

    def restore_unacked(self, client: Any = None) -> Any:
        """Put unacknowledged messages back, except those whose tasks still run here.

        kombu restores when a channel closes, and Celery closes it on a lost connection too.
        A prefork worker kills its running tasks then, so their messages must go back. A
        threads-pool worker cannot stop them: they run on and acknowledge later (see Channel
        below), and a copy restored meanwhile ran a second time under the same claim token,
        uploading the photo twice. Messages held for a countdown do go back: Celery drops its
        copies of those on a lost connection. A worker that dies first gets the kept ones
        back through the visibility timeout.
        """
        if self.channel.keep_delivered_on_connection_loss and not worker_stopping():
            for tag in tags_of_tasks_here() & set(self._delivered):
                del self._delivered[tag]
        return super().restore_unacked(client)

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        """The caller's pipeline (a restore's transaction), else a plain one."""
        if pipe:
            yield pipe
        else:
            with self.channel.conn_or_acquire(client) as conn:
                yield conn.pipeline(transaction=False)


class Channel(_RedisChannel):  # type: ignore[misc]
    """A Redis channel that can still find its server after its transport was collected."""

    QoS = QoS
    from_transport_options = (
        *_RedisChannel.from_transport_options,
        "keep_delivered_on_connection_loss",
    )
    keep_delivered_on_connection_loss = False  # a threads-pool worker sets it (worker/app.py)
    _in_poll: Any  # kombu's: the connection a BRPOP was sent on and not read yet, if any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._saved_params: dict[bool, dict[str, Any]] = {}
        super().__init__(*args, **kwargs)
        self._connparams(asynchronous=False)  # saved for a late acknowledgement (no I/O)

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is not None and self.connection.client is not None:
            params: dict[str, Any] = super()._connparams(asynchronous)
            self._saved_params[asynchronous] = dict(params)
            return params
        saved = self._saved_params.get(asynchronous)
        if saved is None:
            raise redis_errors.ConnectionError("the broker channel was closed")
        return dict(saved)

    def give_back_pending_pop(self) -> Literal["idle", "empty", "given_back"]:
        """Read the answer of a BRPOP sent but never read, and put its message back.

        Celery stops its event loop at a warm shutdown with a BRPOP possibly still waiting
        (up to `brpop_timeout`): Redis hands that BRPOP the next message pushed, and a worker
        that then exits without closing the channel (worker/shutdown.py) loses it.
        """
        connection = self._in_poll
        if not connection:
            return "idle"
        self._in_poll = None
        try:
            reply = self.client.parse_response(connection, "BRPOP")
        except redis_errors.RedisError:
            return "empty"  # the connection broke before an answer: nothing was taken
        if not reply:
            return "empty"  # timed out
        key, payload = reply
        with self.conn_or_acquire() as client:
            client.rpush(key, payload)  # the end BRPOP takes from: delivered next
        return "given_back"

    def close(self) -> None:
        """Close, then drop the pool a late restore may have opened."""
        try:
            super().close()
        finally:
            self._disconnect_pools()


class Transport(_RedisTransport):  # type: ignore[misc]
    """The Redis transport with the channel above (`broker_transport` of the worker's app)."""

    Channel = Channel
