"""Store rules that do not need a server: ids, session validity, tokens, album limits."""

from __future__ import annotations

import random

from emulator.store import DEFAULT_ALBUM_LIMIT, REGULAR_ALBUM_LIMIT, Store, User


def test_ids_are_unique_15_digit_strings() -> None:
    """pids and aids are 15-digit decimal strings, never repeated."""
    store = Store(random.Random(0))
    ids = [store.new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 15 and i.isdigit() for i in ids)


def test_session_expires_at_its_unix_time_and_zero_never_expires() -> None:
    """expires is compared with the clock passed in; 0 means never."""
    store = Store(random.Random(0))
    timed = store.add_session("u", "k", expires=1000)
    forever = store.add_session("u", "k", expires=0)
    assert store.valid_session(timed.key, "k", now=999) is timed
    assert store.valid_session(timed.key, "k", now=1000) is None
    assert store.valid_session(forever.key, "k", now=10**12) is forever
    assert store.valid_session(forever.key, "other-app", now=0) is None


def test_token_redeems_once_after_approval_with_its_ttl() -> None:
    """A token becomes one session, only after approval, lasting its TTL."""
    store = Store(random.Random(0))
    store.users["u"] = User("u", "U")
    token = store.create_token("k", "demo", session_ttl_s=60)
    assert store.redeem_token(token.token, "k", now=100) is None
    assert store.approve_token(token.token, "u")
    session = store.redeem_token(token.token, "k", now=100)
    assert session is not None and session.uid == "u" and session.expires == 160
    assert store.redeem_token(token.token, "k", now=100) is None


def test_default_album_is_made_once_per_app_and_user() -> None:
    """The default album is created on first use and reused after; regular ones hold 60."""
    store = Store(random.Random(0))
    first = store.default_album("k", "u", now=1)
    assert store.default_album("k", "u", now=2) is first
    assert store.default_album("k", "v", now=2) is not first
    assert first.limit == DEFAULT_ALBUM_LIMIT and first.is_default
    assert store.create_album("u", "n", "", "", now=1).limit == REGULAR_ALBUM_LIMIT
