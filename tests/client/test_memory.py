"""Uploads stream: the client's memory does not grow with the file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mediapost.client
from mediapost.streaming import MAX_CHUNK, StreamedBody

from .fakes import PHOTO_XML, Server, client_for, ok

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_200_mb_upload_grows_peak_rss_by_less_than_50_mb() -> None:
    """A 200 MB sparse file through real sockets to a discarding sink, in a clean process."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.client.memory_probe", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(run.stdout)
    print(report)  # the measured figures, for `pytest -s`
    head_and_tail = report["body_bytes_received"] - report["file_bytes"]
    assert 0 < head_and_tail < 4096  # the whole file arrived, plus the multipart framing
    assert report["body_ends_with_closing_boundary"]
    assert report["rss_growth_mib"] < 50
    assert report["tracemalloc_peak_mib"] < 50


def test_upload_body_never_holds_more_than_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk handed to httpx is at most 1 MiB, for a file of several MiB."""
    sizes: list[int] = []

    class Recording(StreamedBody):
        def __iter__(self) -> Iterator[bytes]:
            for chunk in super().__iter__():
                sizes.append(len(chunk))
                yield chunk

    monkeypatch.setattr(mediapost.client, "StreamedBody", Recording)
    data = b"\xff\xd8\xff\xe0" + b"\x00" * (5 * MAX_CHUNK + 123)
    client_for(Server([ok(PHOTO_XML)])).upload(io.BytesIO(data), filename="x.jpg")
    assert sum(sizes) > len(data)
    assert max(sizes) <= MAX_CHUNK
