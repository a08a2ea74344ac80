"""Album series decisions, and the atomic slot reservation on a real Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis as redis_lib

from worker.albums import (
    DEFAULT_ALBUM,
    DEFAULT_ALBUM_LIMIT,
    AlbumSeries,
    Slot,
    album_name,
    first_album,
    next_number,
)


def test_album_names_come_from_the_folder_template() -> None:
    """'{folder} {n}' gives 'Holiday 3' for the third album of the Holiday folder."""
    assert album_name("{folder} {n}", "Holiday", 3) == "Holiday 3"


def test_a_default_mode_series_starts_in_the_applications_default_album() -> None:
    """Default mode uploads without an aid until the 1000-photo album is full."""
    assert first_album("default") == (DEFAULT_ALBUM, DEFAULT_ALBUM_LIMIT)
    assert first_album("series") is None
    assert next_number(0, DEFAULT_ALBUM) == 1
    assert next_number(2, "123") == 3


def test_racing_reservations_never_overfill_and_create_each_album_once(
    redis_client: redis_lib.Redis,
) -> None:
    """16 threads reserving 200 slots: albums of 60, 60, 60, 20, each created once."""
    series = AlbumSeries(redis_client)
    created: list[int] = []
    lock = threading.Lock()

    def create(n: int) -> str:
        with lock:
            created.append(n)
        return f"album-{n}"

    slots: list[str] = []

    def reserve_many(count: int) -> None:
        for i in range(count):
            slot, _ = series.reserve(
                "race",
                mode="series",
                content_key=f"mp:content:t{i}",
                marker="m",
                create_album=create,
            )
            with lock:
                slots.append(slot.album)

    threads = [
        threading.Thread(target=reserve_many, args=(200 // 16 + (i < 200 % 16),)) for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(slots) == 200
    assert sorted(created) == [1, 2, 3, 4]
    counts = {a: slots.count(a) for a in set(slots)}
    assert counts == {"album-1": 60, "album-2": 60, "album-3": 60, "album-4": 20}


def test_a_released_slot_is_reused_so_albums_have_no_holes(redis_client: redis_lib.Redis) -> None:
    """A reservation whose upload will not happen gives its place back."""
    series = AlbumSeries(redis_client)
    slot, _ = series.reserve(
        "holes",
        mode="series",
        content_key="mp:content:a",
        marker="m",
        create_album=lambda n: f"a{n}",
    )
    series.release(slot)
    again, created = series.reserve(
        "holes",
        mode="series",
        content_key="mp:content:b",
        marker="m",
        create_album=lambda n: f"b{n}",
    )
    assert (again.album, again.position, created) == ("a1", 1, False)


def _fill(series: AlbumSeries, name: str, count: int, create: Callable[[int], str]) -> list[Slot]:
    """Reserve `count` slots one after another, creating ahead whenever a slot asks for it."""
    slots = []
    for i in range(count):
        key = f"mp:content:{name}{i}"
        slot, _ = series.reserve(
            name, mode="series", content_key=key, marker="m", create_album=create
        )
        if slot.create_ahead:
            series.make_next(slot, create)
        slots.append(slot)
    return slots


def test_with_a_backlog_the_next_album_is_made_ahead_and_taken_when_full(
    redis_client: redis_lib.Redis,
) -> None:
    """More files queued than free slots: album 2 exists before album 1 fills up."""
    series = AlbumSeries(redis_client, queue="q", create_ahead=16)
    redis_client.rpush("q", *range(100))  # a backlog far beyond one album
    created: list[tuple[int, int]] = []  # (album number, slots reserved when it was made)
    reserved = 0

    def create(n: int) -> str:
        created.append((n, reserved))
        return f"album-{n}"

    slots = []
    for i in range(61):
        slots.extend(_fill(series, "ahead", 1, create))
        reserved = i + 1
    assert created == [(1, 0), (2, 44)]  # made ahead at 15 free slots after the 45th
    assert [s.album for s in slots] == ["album-1"] * 60 + ["album-2"]
    assert [s.create_ahead for s in slots].count(True) == 1  # none once album 2 waits
    assert series.state("ahead")["n"] == "2"
    assert series.albums("ahead") == ["album-1", "album-2"]


def test_a_batch_that_fills_its_album_exactly_leaves_no_empty_album(
    redis_client: redis_lib.Redis,
) -> None:
    """60 files, each taken off the queue as it is reserved: never more queued than free."""
    created: list[int] = []

    def create(n: int) -> str:
        created.append(n)
        return f"album-{n}"

    for batch, albums in ((60, [1]), (61, [1, 2])):
        created.clear()
        redis_client.flushdb()
        series = AlbumSeries(redis_client, queue="q", create_ahead=16)
        redis_client.rpush("q", *range(batch - 1))  # the first file is being handled
        ahead = []
        for _ in range(60):
            ahead += [s.create_ahead for s in _fill(series, f"b{batch}", 1, create)]
            redis_client.lpop("q")
        assert created == albums, batch
        assert ahead.count(True) == len(albums) - 1


def test_a_rollover_takes_the_album_made_ahead_instead_of_making_another(
    redis_client: redis_lib.Redis,
) -> None:
    """The album was made ahead between a full reservation and the rollover's lease."""
    series = AlbumSeries(redis_client, queue="q", create_ahead=16)
    created: list[int] = []

    def create(n: int) -> str:
        created.append(n)
        return f"album-{n}"

    slots = _fill(series, "both", 60, create)
    series.make_next(Slot("both", slots[-1].album, 60), create)  # as if just before it filled
    assert series._roll_over("both", "album-1", create) is False
    assert _fill(series, "both", 1, create)[0].album == "album-2"
    assert created == [1, 2]


def test_a_failed_creation_ahead_leaves_the_rollover_to_make_the_album(
    redis_client: redis_lib.Redis,
) -> None:
    """The API refuses the early createAlbum: no album waits, the lease is free, the full
    album still rolls over to album 2 once."""
    series = AlbumSeries(redis_client, queue="q", create_ahead=16)
    redis_client.rpush("q", *range(100))
    _fill(series, "fail", 44, lambda n: f"album-{n}")
    slot, _ = series.reserve(
        "fail", mode="series", content_key="mp:content:y", marker="m", create_album=str
    )
    assert slot.create_ahead

    def refuse(n: int) -> str:
        raise RuntimeError("service unavailable")

    with pytest.raises(RuntimeError):
        series.make_next(slot, refuse)
    assert "next" not in series.state("fail")
    assert not redis_client.exists("mp:series:fail:creating")
    created: list[int] = []

    def create(n: int) -> str:
        created.append(n)
        return f"album-{n}"

    later = [
        series.reserve(
            "fail", mode="series", content_key="mp:content:x", marker="m", create_album=create
        )[0]
        for _ in range(16)
    ]
    assert [s.album for s in later] == ["album-1"] * 15 + ["album-2"]
    assert created == [2]
