"""Faults on a real socket: what httpcore reports, and how the body's completeness decides."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediapost import CallIdClock, MediaPostClient, OutcomeInDoubt, RetryPolicy, TransientError

from .fakes import CREDENTIALS

FILE_BYTES = 8 * 1024 * 1024  # far more than socket buffers hold


class OneShotServer:
    """Accepts one connection, reads the headers and ``read_body`` bytes, then hangs up."""

    def __init__(self, read_body: int | None, *, linger: float = 0.0) -> None:
        self.read_body = read_body  # None: the whole body
        self.linger = linger
        self.body_bytes = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/api.php"

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            want = length if self.read_body is None else self.read_body
            self.body_bytes = len(rest)
            while self.body_bytes < want:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                self.body_bytes += len(chunk)
            if self.linger:
                threading.Event().wait(self.linger)

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.listener.close()


@pytest.fixture
def big_jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "big.jpg"
    with path.open("wb") as fh:
        fh.write(b"\xff\xd8\xff\xe0")
        fh.truncate(FILE_BYTES)
    return path


def _client(endpoint: str, timeout: float = 10.0) -> MediaPostClient:
    return MediaPostClient(
        endpoint,
        CREDENTIALS,
        retry=RetryPolicy(max_attempts=1),
        call_ids=CallIdClock(),
        timeout=timeout,
        connect_timeout=2.0,
    )


@pytest.fixture
def server_factory() -> Iterator[list[OneShotServer]]:
    servers: list[OneShotServer] = []
    yield servers
    for server in servers:
        server.close()


def test_hang_up_after_the_whole_body_leaves_the_upload_in_doubt(
    big_jpeg: Path, server_factory: list[OneShotServer]
) -> None:
    """The server read everything and vanished: it may have stored the photo."""
    server = OneShotServer(read_body=None)
    server_factory.append(server)
    with _client(server.endpoint) as client, pytest.raises(OutcomeInDoubt):
        client.upload(big_jpeg, filename="big.jpg")


def test_hang_up_in_the_middle_of_the_body_is_transient(
    big_jpeg: Path, server_factory: list[OneShotServer]
) -> None:
    """Half a body cannot be stored; httpcore hides the write error, the body does not."""
    server = OneShotServer(read_body=256 * 1024)
    server_factory.append(server)
    with _client(server.endpoint) as client, pytest.raises(TransientError) as caught:
        client.upload(big_jpeg, filename="big.jpg")
    assert type(caught.value) is TransientError
    assert server.body_bytes < FILE_BYTES


def test_no_answer_within_the_read_timeout_leaves_the_upload_in_doubt(
    tmp_path: Path, server_factory: list[OneShotServer]
) -> None:
    """The body arrived, the answer did not come in time."""
    small = tmp_path / "small.jpg"
    small.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 1000)
    server = OneShotServer(read_body=None, linger=0.8)
    server_factory.append(server)
    with _client(server.endpoint, timeout=0.3) as client, pytest.raises(OutcomeInDoubt) as caught:
        client.upload(small, filename="small.jpg")
    assert "ReadTimeout" in str(caught.value)


def test_nobody_listening_is_transient() -> None:
    """Connection refused: nothing was sent."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with _client(f"http://127.0.0.1:{port}/api.php") as client, pytest.raises(TransientError):
        client.get_communities()
