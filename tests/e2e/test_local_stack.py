"""Acceptance: `mediapost up`, 100 sample photos dropped in, seen in the gallery and in Flower.

Real processes all the way (Redis, emulator, worker, watcher, beat, Flower, metrics), the real
`mediapost samples` command, and headless Chromium for the two pages a person would open.
Screenshots are written under the test's tmp dir (never into the repository).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StartUp, stack_env
from tests.e2e.upstack import BANNER, poll

pytestmark = pytest.mark.e2e

PHOTOS = 100
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium; skips without it, except under CI=true where .ci/run installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs it with apt-get")
        pytest.skip("headless Chromium is needed: apt-get install chromium")
    return path


def browse(chromium: str, profile: Path, url: str, *args: str) -> str:
    """Load `url` in a fresh headless Chromium profile and return what it printed."""
    profile.mkdir(parents=True, exist_ok=False)
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"chromium failed on {url}:\n{result.stderr[-2000:]}"
    return result.stdout


def get_json(url: str, auth: tuple[str, str] | None = None) -> Any:
    """GET and decode JSON, with HTTP basic auth if given."""
    request = urllib.request.Request(url)  # noqa: S310 - our own http:// URL
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def status_of(url: str) -> int:
    """The HTTP status of a GET (errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def uploaded_tasks(flower: str, auth: tuple[str, str]) -> list[dict[str, Any]]:
    """Flower's record of successful upload tasks (its API, with the basic-auth login)."""
    tasks = get_json(f"{flower}api/tasks?taskname=mediapost.upload_file&limit=1000", auth)
    return [t for t in tasks.values() if t["state"] == "SUCCESS"]


def test_hundred_dropped_photos_reach_the_gallery_and_flower_lists_their_tasks(
    start_up: StartUp, stack_redis: str, chromium: str, tmp_path: Path
) -> None:
    """100 samples dropped into `up`'s folder show in the gallery and as tasks in Flower."""
    login = ("e2e", secrets.token_urlsafe(12))
    up = start_up({**stack_env(stack_redis), "FLOWER_BASIC_AUTH": ":".join(login)})
    assert up.wait_for(BANNER, timeout=120), f"`mediapost up` did not start:\n{up.output}"
    gallery = up.banner_value("Gallery").split()[0]
    flower = up.banner_value("Flower").split()[0]
    assert "login from FLOWER_BASIC_AUTH" in up.banner_value("Flower")

    subprocess.run(
        [sys.executable, "-m", "mediapost", "samples", str(up.dropbox), "-n", str(PHOTOS)],
        check=True,
        capture_output=True,
        timeout=120,
    )

    def photos() -> list[dict[str, Any]]:
        return list(get_json(f"{gallery}admin/inspect")["photos"])

    assert poll(lambda: len(photos()) >= PHOTOS, timeout=180), (
        f"{len(photos())} of {PHOTOS} photos arrived; `up` printed:\n{up.output[-5000:]}"
    )
    inspect = get_json(f"{gallery}admin/inspect")
    names = sorted(p["filename"] for p in inspect["photos"])
    assert names == sorted(p.name for p in up.dropbox.iterdir() if p.is_file())
    assert len({p["sha256"] for p in inspect["photos"]}) == PHOTOS  # each once, none twice
    assert sorted(a["size"] for a in inspect["albums"]) == [40, 60]  # rolled over when full

    shots = tmp_path / "screenshots"
    shots.mkdir()
    dom = browse(chromium, tmp_path / "chrome-gallery-dom", gallery, "--dump-dom")
    assert dom.count("<img") == PHOTOS
    assert f"{PHOTOS} photos" in dom
    browse(
        chromium,
        tmp_path / "chrome-gallery-shot",
        gallery,
        "--window-size=1280,2200",
        "--virtual-time-budget=5000",
        f"--screenshot={shots / 'gallery.png'}",
    )

    # Flower learns of each task from worker events, a moment after the upload itself.
    assert status_of(f"{flower}api/tasks") == 401  # the API is closed without the login
    assert poll(lambda: len(uploaded_tasks(flower, login)) == PHOTOS, timeout=60)
    with_login = flower.replace("http://", f"http://{login[0]}:{login[1]}@", 1) + "tasks"
    tasks_dom = browse(
        chromium,
        tmp_path / "chrome-flower-dom",
        with_login,
        "--virtual-time-budget=8000",
        "--dump-dom",
    )
    assert "mediapost.upload_file" in tasks_dom
    shown = re.search(r"Showing 1 to \d+ of (\d+) tasks", tasks_dom)
    assert shown is not None and int(shown.group(1)) >= PHOTOS
    browse(
        chromium,
        tmp_path / "chrome-flower-shot",
        with_login,
        "--window-size=1400,1000",
        "--virtual-time-budget=8000",
        f"--screenshot={shots / 'flower-tasks.png'}",
    )
    for shot in ("gallery.png", "flower-tasks.png"):
        assert (shots / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (shots / shot).stat().st_size > 20_000, f"{shot} looks blank"

    if "Metrics:" in up.output:
        metrics = up.banner_value("Metrics")
        uploaded = 'mediapost_files_total{outcome="uploaded"} 100.0'
        with urllib.request.urlopen(metrics, timeout=10) as response:  # noqa: S310
            assert uploaded in response.read().decode()

    assert up.interrupt(timeout=120) == 0, up.output[-3000:]
    assert up.output.rstrip().endswith("stopped."), up.output[-3000:]
    assert up.children() == [], "`up` left processes running"
