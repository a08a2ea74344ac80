"""Upload slots bound the uploads in flight, and a stopping worker starts no new one."""

from __future__ import annotations

import threading

import pytest

from worker.slots import SlotsClosed, UploadSlots


def test_a_task_waits_while_every_slot_is_held_and_goes_on_when_one_is_freed() -> None:
    """Two slots held: a third request waits, and gets the slot the first holder frees."""
    slots = UploadSlots(2)
    release_first, got_third = threading.Event(), threading.Event()

    def holder(release: threading.Event | None) -> None:
        with slots.slot():
            if release is not None:
                release.wait(10)

    first = threading.Thread(target=holder, args=(release_first,))
    first.start()
    second_release = threading.Event()
    second = threading.Thread(target=holder, args=(second_release,))
    second.start()

    def third() -> None:
        with slots.slot():
            got_third.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    assert not got_third.wait(0.2)  # both slots are held
    release_first.set()
    assert got_third.wait(10)
    second_release.set()
    for thread in (first, second, waiter):
        thread.join(10)


def test_closing_refuses_waiting_and_later_tasks_but_not_the_upload_holding_a_slot() -> None:
    """close(): the waiter gets SlotsClosed, so does a later task; the holder finishes."""
    slots = UploadSlots(1)
    refused: list[BaseException] = []

    def waiter() -> None:
        try:
            with slots.slot():
                pass
        except SlotsClosed as exc:
            refused.append(exc)

    with slots.slot():
        thread = threading.Thread(target=waiter)
        thread.start()
        slots.close()
        thread.join(10)
        assert len(refused) == 1
    with pytest.raises(SlotsClosed), slots.slot():
        pass
