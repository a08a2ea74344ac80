"""How a command reaches Redis, the broker and the API, with errors an operator can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from config.settings import DEMO_API_KEY, DEMO_COMMUNITY, Settings
from mediapost.client import MediaPostClient
from mediapost.credentials import Credentials
from worker.account import account_id

if TYPE_CHECKING:
    from redis import Redis

REDIS_TIMEOUT_S = 5.0


class CommandError(Exception):
    """A command cannot go on; the message says what happened and what to do."""


def display_url(url: str) -> str:
    """A URL safe to print: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def open_redis(settings: Settings) -> Redis:
    """A Redis client that answers now, or CommandError saying where Redis was expected."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    try:
        client.ping()
    except RedisError as exc:
        client.close()
        raise CommandError(
            f"Redis is not reachable at {display_url(settings.redis_url)} "
            f"({type(exc).__name__}): start it, or set REDIS_URL"
        ) from None
    return client


def configured_account(settings: Settings) -> str | None:
    """The account id the workers use for the configured key and community (no secret read)."""
    demo = settings.uses_local_emulator
    api_key = settings.api_key or (DEMO_API_KEY if demo else None)
    community = settings.community or (DEMO_COMMUNITY if demo else None)
    if not api_key or not community:
        return None
    return account_id(settings.endpoint, Credentials(api_key, "", None, community))


def api_client(settings: Settings, credentials: Credentials) -> MediaPostClient:
    """A client for one-off calls: few, quick retries, so a broken setup fails fast."""
    return MediaPostClient(
        settings.endpoint,
        credentials,
        response_format=settings.format,
        retry=MediaPostClient.default_retry(
            max_attempts=2, max_total_s=5.0, initial_wait_s=0.2, max_wait_s=1.0
        ),
        timeout=min(settings.http_timeout_s, 30.0),
        connect_timeout=settings.connect_timeout_s,
    )
