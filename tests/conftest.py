"""Fixtures shared by every layer: a real Redis, isolated per test run by database number."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis as redis_lib

REDIS_URL = os.environ.get("MEDIAPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis database the tests own; missing Redis skips locally and fails in CI."""
    client = redis_lib.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis_lib.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; .ci/run should have started it")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    """A client on an emptied test database."""
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()
