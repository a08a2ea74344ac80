"""kombu's Redis transport with one guard: a lost broker connection must not end the worker.

When the consumer's connection breaks, Celery first collects it (kombu sets the transport's
`client` to None) and then closes it. If the collect could not close the channel (its socket
timed out), the close does it: it restores the channel's unacknowledged messages through a new
connection pool, whose address comes from `client`: AttributeError, "Unrecoverable error", and
the worker process exits with status 0, leaving the messages it held unacknowledged until the
visibility timeout (Celery 5.7.0 / kombu 5.7.0; about one Redis restart in ten here). The
channel below remembers its connection, so that close behaves like the ordinary one: the
restore reaches Redis or fails with a connection error, which kombu ignores.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis

# kombu's classes are untyped: subclass them through Any.
_RedisChannel: Any = redis.Channel
_RedisTransport: Any = redis.Transport


class Channel(_RedisChannel):  # type: ignore[misc]
    """A Redis channel that can still find its server after its transport was collected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_info = self.connection.client

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            self.connection.client = self._client_info
        params: dict[str, Any] = super()._connparams(asynchronous)
        return params

    def close(self) -> None:
        """Close, then drop the pool a late restore may have opened."""
        try:
            super().close()
        finally:
            self._disconnect_pools()


class Transport(_RedisTransport):  # type: ignore[misc]
    """The Redis transport with the channel above (`broker_transport` of the worker's app)."""

    Channel = Channel
