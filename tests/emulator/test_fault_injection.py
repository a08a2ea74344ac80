"""Each kind of injected fault, set at start or at runtime through /admin/faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from emulator.faults import FaultRule, RateLimit
from emulator.server import RunningEmulator
from tests.emulator.handmade import DEMO_UID, call, error_code, upload, xml
from tests.worker.harness import wait_for

Start = Callable[..., RunningEmulator]


def outcomes(emu: RunningEmulator, n: int) -> list[int | None]:
    """The error code (or None) of n uploads in a row."""
    return [error_code(upload(emu.url)) for _ in range(n)]


def test_error_rate_with_a_seed_is_deterministic(start_emulator: Start) -> None:
    """A 50% code-2 rule fails a mix of uploads, the same mix after a reset with the same seed."""
    emu = start_emulator(seed=42, faults=[FaultRule(code=2, rate=0.5)])
    first = outcomes(emu, 20)
    assert set(first) == {None, 2}
    emu.admin("reset", {})
    assert outcomes(emu, 20) == first
    stored = sum(1 for code in first if code is None)
    assert len(emu.inspect()["photos"]) == stored


def test_count_limited_rule_fails_only_the_next_n_calls(emu: RunningEmulator) -> None:
    """`count: 2` fails exactly the next two matching calls, then the rule is spent."""
    emu.admin("faults", {"rules": [{"code": 1, "count": 2}]})
    assert outcomes(emu, 4) == [1, 1, None, None]
    assert emu.admin("faults")["rules"][0]["count"] == 0


def test_filename_rule_fails_only_that_file(emu: RunningEmulator) -> None:
    """'code 100 for the file named bad.jpg' leaves other files alone."""
    emu.admin("faults", {"add_rules": [{"code": 100, "filename": "bad.jpg"}]})
    assert error_code(upload(emu.url, filename="bad.jpg")) == 100
    assert error_code(upload(emu.url, filename="good.jpg")) is None
    assert error_code(upload(emu.url, filename="dir-bad.jpg")) == 100


def test_rules_apply_to_uploads_unless_methods_are_given(emu: RunningEmulator) -> None:
    """By default a rule hits uploads only; `methods` can target others ('*' for all)."""
    emu.admin("faults", {"rules": [{"code": 2}]})
    assert error_code(call(emu.url, "up.photos.getAlbums", uid=DEMO_UID)) is None
    emu.admin("faults", {"rules": [{"code": 5, "methods": ["up.photos.getAlbums"]}]})
    assert error_code(call(emu.url, "up.photos.getAlbums", uid=DEMO_UID)) == 5
    assert error_code(upload(emu.url)) is None
    emu.admin("faults", {"rules": [{"code": 1, "methods": "*"}]})
    assert error_code(call(emu.url, "up.community.getList", session=None)) == 1


def test_injected_error_message_says_it_was_injected(emu: RunningEmulator) -> None:
    """A human reading the error can tell an injected fault from a real one."""
    emu.admin("faults", {"rules": [{"code": 2, "count": 1}]})
    root = xml(upload(emu.url))
    assert root.findtext("error_code") == "2"
    assert "injected" in root.findtext("error_msg", "")


def test_latency_delays_every_api_call(start_emulator: Start) -> None:
    """latency_ms is added to each API call without blocking other requests."""
    emu = start_emulator(latency_ms=300)
    started = time.perf_counter()
    assert error_code(upload(emu.url)) is None
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    emu.admin("inspect")  # admin calls are not delayed
    assert time.perf_counter() - started < 0.3
    emu.admin("faults", {"latency_ms": 0})
    assert emu.admin("faults")["latency_ms"] == 0


def test_a_delay_rule_holds_an_upload_before_storing_it_and_leaves_other_calls_alone(
    emu: RunningEmulator,
) -> None:
    """While a delayed upload waits, nothing is stored yet and an album listing answers."""
    emu.admin("faults", {"rules": [{"action": "delay", "seconds": 3, "count": 1}]})
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lambda: error_code(upload(emu.url)))
        wait_for(lambda: emu.inspect()["counters"]["in_flight"] == 1, 10, "the upload to arrive")
        assert error_code(call(emu.url, "up.photos.getAlbums", uid=DEMO_UID)) is None
        assert emu.inspect()["photos"] == []
        assert pending.result(30) is None
    assert len(emu.inspect()["photos"]) == 1


def test_inspect_counts_the_calls_in_flight_and_their_peak(start_emulator: Start) -> None:
    """Three slow uploads at once: the peak is 3, and nothing is in flight once they answered."""
    emu = start_emulator(latency_ms=300)
    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(lambda _: error_code(upload(emu.url)), range(3)))
    assert codes == [None, None, None]
    counters = emu.inspect()["counters"]
    assert (counters["peak_in_flight"], counters["in_flight"]) == (3, 0)


def test_request_limit_window_answers_4_past_n_calls(start_emulator: Start) -> None:
    """At most N calls per window per application; the next ones get code 4."""
    emu = start_emulator(rate_limit=RateLimit(max_calls=3, window_s=60))
    assert outcomes(emu, 5) == [None, None, None, 4, 4]
    assert error_code(call(emu.url, "up.photos.getAlbums", uid=DEMO_UID)) == 4
    emu.admin("faults", {"rate_limit": None})
    assert outcomes(emu, 1) == [None]


def test_forced_block_answers_4_until_lifted(emu: RunningEmulator) -> None:
    """`block_s` gives code 4 to every call for that long; 0 lifts it."""
    emu.admin("faults", {"block_s": 60})
    assert emu.admin("faults")["blocked_for_s"] > 59
    assert error_code(upload(emu.url)) == 4
    assert error_code(call(emu.url, "up.community.getList", session=None)) == 4
    emu.admin("faults", {"block_s": 0})
    assert error_code(upload(emu.url)) is None


def test_drop_after_store_closes_the_connection_but_keeps_the_photo(
    emu: RunningEmulator,
) -> None:
    """The client sees a dropped connection, yet the photo was stored (a duplicate risk)."""
    emu.admin("faults", {"rules": [{"action": "drop", "count": 1}]})
    with pytest.raises(httpx.RemoteProtocolError):
        upload(emu.url, caption="dropped")
    snapshot = emu.inspect()
    assert [p["caption"] for p in snapshot["photos"]] == ["dropped"]
    assert snapshot["counters"]["dropped"] == 1
    assert error_code(upload(emu.url)) is None


def test_stall_after_store_trips_the_client_timeout_but_keeps_the_photo(
    emu: RunningEmulator,
) -> None:
    """A stalled answer makes the client time out while the photo is already stored."""
    emu.admin("faults", {"rules": [{"action": "stall", "seconds": 0.8, "count": 1}]})
    with pytest.raises(httpx.ReadTimeout):
        upload(emu.url, timeout=0.3)
    snapshot = emu.inspect()
    assert len(snapshot["photos"]) == 1
    assert snapshot["counters"]["stalled"] == 1


def test_faults_given_at_start_are_restored_by_reset(start_emulator: Start) -> None:
    """Reset forgets albums and photos and returns to the configured faults."""
    emu = start_emulator(faults=[FaultRule(code=2, count=1)])
    assert outcomes(emu, 2) == [2, None]
    emu.admin("reset", {})
    snapshot = emu.inspect()
    assert snapshot["photos"] == [] and snapshot["albums"] == []
    assert snapshot["faults"]["rules"][0]["count"] == 1
    assert outcomes(emu, 2) == [2, None]


def test_invalid_fault_settings_are_refused_with_400(emu: RunningEmulator) -> None:
    """A typo in a fault rule is an error, not a silently ignored setting."""
    response = httpx.post(f"{emu.base_url}/admin/faults", json={"rules": [{"cod": 2}]})
    assert response.status_code == 400 and "cod" in response.json()["error"]
    response = httpx.post(f"{emu.base_url}/admin/faults", json={"rules": [{"rate": 2}]})
    assert response.status_code == 400
