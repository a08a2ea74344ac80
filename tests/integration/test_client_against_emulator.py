"""The client and the emulator over real HTTP, in both response formats."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pytest

from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, run_in_thread
from mediapost import Credentials, MediaPostClient
from mediapost.callids import CallIdClock
from mediapost.errors import AlbumFull, BadFile, ConfigurationError
from mediapost.retrying import RetryPolicy
from tests.images import image_bytes

DEMO = Credentials(
    api_key="demo-key", secret="demo-secret", session_key="demo-session", community="demo"
)


class RecordingClock(CallIdClock):
    """A call_id clock that remembers what it issued."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []

    def next(self) -> str:
        """Issue and record."""
        value = super().next()
        self.issued.append(value)
        return value


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator for the module; tests reset it."""
    data = tmp_path_factory.mktemp("emulator")
    with run_in_thread(EmulatorConfig(port=0, data_dir=data, seed=11)) as emu:
        yield emu


@pytest.fixture(params=["XML", "JSON"])
def client(
    request: pytest.FixtureRequest, emulator: RunningEmulator
) -> Iterator[tuple[MediaPostClient, RecordingClock, list[float]]]:
    """A client in one of the two formats, with recorded call_ids and retry sleeps."""
    emulator.admin("reset", {})
    sleeps: list[float] = []
    clock = RecordingClock()
    policy = RetryPolicy(max_attempts=5, sleep=sleeps.append)
    with MediaPostClient(
        emulator.url, DEMO, response_format=request.param, retry=policy, call_ids=clock
    ) as c:
        yield c, clock, sleeps


def upload_count(emulator: RunningEmulator) -> int:
    """Upload requests the emulator has seen since the last reset."""
    return int(emulator.inspect()["counters"]["requests"].get("up.photos.upload", 0))


def test_upload_without_an_album_goes_to_the_default_album(
    client: tuple[MediaPostClient, RecordingClock, list[float]],
    emulator: RunningEmulator,
    tmp_path: Path,
) -> None:
    """No aid: the application's default album (1000) is created on first use."""
    api, _, _ = client
    photo = tmp_path / "a.jpg"
    photo.write_bytes(image_bytes(1))
    result = api.upload(photo, filename="a.jpg", caption="Under the sunset")
    assert result.photo.pid.isdigit() and len(result.photo.pid) >= 15
    (album,) = emulator.inspect()["albums"]
    assert album["is_default"] and album["limit"] == 1000 and album["aid"] == result.photo.aid
    (stored,) = emulator.inspect()["photos"]
    assert stored["caption"] == "Under the sunset" and stored["filename"] == "a.jpg"


def test_an_album_takes_sixty_photos_and_the_61st_is_album_full(
    client: tuple[MediaPostClient, RecordingClock, list[float]],
    emulator: RunningEmulator,
) -> None:
    """createAlbum, fill it to 60 over HTTP, then 321 comes back as AlbumFull."""
    api, _, _ = client
    album = api.create_album("Holiday 1")
    for i in range(60):
        api.upload(_file(i), filename=f"{i}.jpg", aid=album.aid)
    with pytest.raises(AlbumFull):
        api.upload(_file(60), filename="60.jpg", aid=album.aid)
    (listed,) = api.get_albums(aids=[album.aid])
    assert listed.size == 60 and listed.name == "Holiday 1"
    assert len(list(api.iter_album_photos(album.aid))) == 60


def test_injected_codes_1_and_2_are_retried_to_success_with_a_new_call_id_each(
    client: tuple[MediaPostClient, RecordingClock, list[float]],
    emulator: RunningEmulator,
) -> None:
    """Two injected failures, three attempts, three increasing call_ids, one photo."""
    api, clock, sleeps = client
    emulator.admin(
        "faults",
        {
            "rules": [
                {"action": "error", "code": 1, "count": 1},
                {"action": "error", "code": 2, "count": 1},
            ]
        },
    )
    result = api.upload(_file(1), filename="x.jpg")
    assert result.attempts == 3 and len(sleeps) == 2
    assert len(clock.issued) == 3
    assert [Decimal(c) for c in clock.issued] == sorted({Decimal(c) for c in clock.issued})
    assert upload_count(emulator) == 3
    assert len(emulator.inspect()["photos"]) == 1


def test_code_100_is_not_retried(
    client: tuple[MediaPostClient, RecordingClock, list[float]],
    emulator: RunningEmulator,
) -> None:
    """A bad-parameter answer is final for that file: one request, BadFile."""
    api, _, sleeps = client
    emulator.admin("faults", {"rules": [{"action": "error", "code": 100, "count": 3}]})
    with pytest.raises(BadFile) as err:
        api.upload(_file(2), filename="y.jpg")
    assert err.value.code == 100 and not sleeps
    assert upload_count(emulator) == 1


def test_a_wrong_secret_is_104_and_not_retried(emulator: RunningEmulator) -> None:
    """The emulator's own signature check refuses our signature made with another secret."""
    emulator.admin("reset", {})
    sleeps: list[float] = []
    wrong = Credentials("demo-key", "not-the-secret", "demo-session", "demo")
    api = MediaPostClient(emulator.url, wrong, retry=RetryPolicy(sleep=sleeps.append))
    with api, pytest.raises(ConfigurationError) as err:
        api.upload(_file(3), filename="z.jpg")
    assert err.value.code == 104 and not sleeps
    assert "not-the-secret" not in str(err.value) and "demo-session" not in repr(err.value)
    assert upload_count(emulator) == 1


def test_communities_token_and_session_flow_end_to_end(emulator: RunningEmulator) -> None:
    """createToken -> approve (what /login does) -> getSession gives a working session."""
    emulator.admin("reset", {})
    with MediaPostClient(emulator.url, DEMO.with_session_key(None)) as api:
        assert [c.name for c in api.get_communities()] == ["demo"]
        token = api.create_token()
        emulator.admin("tokens/approve", {"auth_token": token})
        session = api.get_session(token)
    assert session.session_key not in repr(session)
    with MediaPostClient(emulator.url, DEMO.with_session_key(session.session_key)) as api:
        assert api.upload(_file(4), filename="s.jpg").photo.owner == session.uid


def _file(seed: int) -> BinaryIO:
    """Image bytes wrapped as an in-memory binary file."""
    return io.BytesIO(image_bytes(10_000 + seed))
