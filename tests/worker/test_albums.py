"""Album series decisions, and the atomic slot reservation on a real Redis."""

from __future__ import annotations

import threading

import redis as redis_lib

from worker.albums import (
    DEFAULT_ALBUM,
    DEFAULT_ALBUM_LIMIT,
    AlbumSeries,
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
