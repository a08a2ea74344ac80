"""call_id: the seed's format, always growing, even across threads and clock steps."""

from __future__ import annotations

import threading

from mediapost.callids import CallIdClock, format_call_id


def _as_micros(call_id: str) -> int:
    seconds, micros = call_id.split(".")
    return int(seconds) * 1_000_000 + int(micros)


def test_call_id_has_the_seeds_shape() -> None:
    """Unix seconds, a dot and exactly six digits of microseconds."""
    clock = CallIdClock(lambda: 1172623588_023010_999)
    assert clock.next() == "1172623588.023010"
    assert format_call_id(5) == "0.000005"


def test_same_instant_still_gives_a_greater_call_id() -> None:
    """A frozen clock gives one microsecond more each time."""
    clock = CallIdClock(lambda: 1172623588_000000_000)
    assert [clock.next() for _ in range(3)] == [
        "1172623588.000000",
        "1172623588.000001",
        "1172623588.000002",
    ]


def test_clock_stepping_back_never_lowers_the_call_id() -> None:
    """An NTP step backwards keeps counting up from the last value."""
    times = iter([2_000_000_000_000_000_000, 1_000_000_000_000_000_000, 2_000_000_000_000_500_000])
    clock = CallIdClock(lambda: next(times))
    assert [clock.next() for _ in range(3)] == [
        "2000000000.000000",
        "2000000000.000001",
        "2000000000.000500",
    ]


def test_concurrent_threads_get_distinct_increasing_call_ids() -> None:
    """Thirty-two threads drawing at once never get the same value."""
    clock = CallIdClock(lambda: 1_700_000_000_000_000_000)
    drawn: list[list[str]] = [[] for _ in range(32)]

    def draw(n: int) -> None:
        drawn[n].extend(clock.next() for _ in range(500))

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [_as_micros(c) for values in drawn for c in values]
    assert len(set(every)) == len(every) == 32 * 500
    for values in drawn:
        micros = [_as_micros(c) for c in values]
        assert micros == sorted(micros)
