"""The watcher as a process: clean exit on SIGTERM/SIGINT, and a really unreadable file.

Tests run as root, and root reads a chmod 000 file anyway (CAP_DAC_OVERRIDE). Running the
watcher as `nobody` is not possible here (the interpreter lives under /root, mode 0700), so the
watcher process is started as root *without* CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (dropped
from its capability bounding set before exec): ordinary permission checks then apply to it, and
a file owned by `nobody` with mode 0600 gives a real EACCES. No patched os.access.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from tests.scheduler.uploads import counts, wait_for_queue, wait_until

REPO = Path(__file__).resolve().parents[2]
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def drop_file_capabilities() -> None:
    """In the child before exec: lose root's right to bypass file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def in_user_namespace(cmd: list[str], max_watches: int) -> list[str]:
    """Run cmd in a new user namespace whose inotify watch limit is `max_watches`.

    The limit is per user namespace (/proc/sys/user/max_inotify_watches), so this exhausts
    watches for real without touching the host's fs.inotify.max_user_watches.
    """
    script = f'echo {max_watches} > /proc/sys/user/max_inotify_watches && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "sh", "-c", script, "sh", *cmd]


def user_namespaces_work() -> bool:
    """Whether this host lets us create a user namespace and set its inotify limit."""
    if shutil.which("unshare") is None:
        return False
    probe = in_user_namespace(["true"], 10)
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


needs_userns = pytest.mark.skipif(
    not user_namespaces_work(), reason="cannot create a user namespace to lower inotify limits"
)


class WatcherProcess:
    """`python -m tests.scheduler.watcher_proc`, with its JSON log lines collected."""

    def __init__(
        self,
        root: Path,
        redis_url: str,
        *args: str,
        unprivileged: bool = False,
        rescan: float = 60,
        max_watches: int | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "tests.scheduler.watcher_proc", str(root)]
        cmd += ["--redis-url", redis_url, "--rescan", str(rescan), *args]
        if max_watches is not None:
            cmd = in_user_namespace(cmd, max_watches)
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=drop_file_capabilities if unprivileged else None,
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(line))

    def events(self, name: str) -> list[dict[str, Any]]:
        """The log entries with this event name."""
        return [e for e in list(self.lines) if e.get("event") == name]

    def wait_for(self, name: str, n: int = 1, timeout: float = 15) -> None:
        """Wait until the process logged `name` n times."""
        wait_until(
            lambda: len(self.events(name)) >= n or self.proc.poll() is not None,
            timeout,
            f"{n}× {name}",
        )
        assert len(self.events(name)) >= n, "".join(self.raw)


@pytest.fixture
def public_drop(tmp_path: Path) -> Path:
    """A drop folder (pytest's tmp dirs are root's, so still usable without DAC override)."""
    path = tmp_path / "drop"
    path.mkdir()
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_watcher_cleanly(
    public_drop: Path, redis_url: str, redis_client: redis_lib.Redis, sig: signal.Signals
) -> None:
    """SIGTERM and SIGINT: observers stopped, exit status 0, a final log line."""
    proc = WatcherProcess(public_drop, redis_url)
    proc.wait_for("watch.rescan_done")
    (public_drop / "a.jpg").write_bytes(b"a")
    wait_for_queue(redis_client, 1)
    proc.proc.send_signal(sig)
    assert proc.proc.wait(timeout=10) == 0, "".join(proc.raw)
    proc.wait_for("watch.stopped")
    assert proc.events("watch.stopping")[0]["signal"] == sig.name


@pytest.mark.skipif(os.geteuid() != 0, reason="as non-root, a chmod 600 file of root is enough")
def test_an_unreadable_file_is_reported_once_and_retried_when_its_mode_changes(
    public_drop: Path, redis_url: str, redis_client: redis_lib.Redis
) -> None:
    """EACCES: one `watch.unreadable` line however many rescans; queued after a chmod."""
    nobody = pwd.getpwnam("nobody")
    secret = public_drop / "secret.jpg"
    secret.write_bytes(b"s" * 10)
    secret.chmod(0o600)
    os.chown(secret, nobody.pw_uid, nobody.pw_gid)
    old = time.time() - 60
    os.utime(secret, (old, old))
    proc = WatcherProcess(public_drop, redis_url, unprivileged=True, rescan=0.2)
    proc.wait_for("watch.rescan_done", n=5)
    (public_drop / "ok.jpg").write_bytes(b"ok")
    wait_for_queue(redis_client, 1)
    proc.wait_for("watch.rescan_done", n=len(proc.events("watch.rescan_done")) + 3)
    [report] = proc.events("watch.unreadable")
    assert report["file"] == "secret.jpg" and report["error"] == "EACCES"
    assert list(counts(redis_client)) == [str(public_drop / "ok.jpg")]
    secret.chmod(0o644)
    wait_for_queue(redis_client, 2)
    assert counts(redis_client)[str(secret)] == 1
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(timeout=10) == 0


def make_tree(root: Path, dirs: int) -> None:
    """A folder with `dirs` subdirectories: one inotify watch each, plus one for the root."""
    for i in range(dirs):
        (root / f"d{i:02}").mkdir()


@needs_userns
def test_a_real_watch_limit_fails_at_start_naming_the_sysctl(
    public_drop: Path, redis_url: str
) -> None:
    """30 directories, 20 watches allowed: the watcher refuses to run blind, and says why."""
    make_tree(public_drop, 30)
    proc = WatcherProcess(public_drop, redis_url, max_watches=20)
    assert proc.proc.wait(timeout=15) != 0
    wait_until(lambda: "WatchLimitError" in "".join(proc.raw), 5, "the error")
    output = "".join(proc.raw)
    assert "fs.inotify.max_user_watches" in output and "sysctl -w" in output


@needs_userns
def test_a_real_watch_limit_can_fall_back_to_polling(
    public_drop: Path, redis_url: str, redis_client: redis_lib.Redis
) -> None:
    """With --on-watch-limit poll, the same tree is polled and files are still queued."""
    make_tree(public_drop, 30)
    proc = WatcherProcess(public_drop, redis_url, "--on-watch-limit", "poll", max_watches=20)
    proc.wait_for("watch.rescan_done")
    assert "fs.inotify.max_user_watches" in proc.events("watch.fallback_polling")[0]["advice"]
    (public_drop / "d07" / "a.jpg").write_bytes(b"a")
    wait_for_queue(redis_client, 1)
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(timeout=10) == 0


@needs_userns
def test_running_out_of_watches_while_running_switches_to_polling(
    public_drop: Path, redis_url: str, redis_client: redis_lib.Redis
) -> None:
    """New directories beyond the limit: watchdog only logs; we switch to polling, not blind."""
    make_tree(public_drop, 10)
    proc = WatcherProcess(public_drop, redis_url, max_watches=20)
    proc.wait_for("watch.rescan_done")
    for i in range(10, 30):
        (public_drop / f"d{i:02}").mkdir()
    proc.wait_for("watch.inotify_limit")
    (public_drop / "d29" / "late.jpg").write_bytes(b"l")
    wait_for_queue(redis_client, 1)
    assert list(counts(redis_client)) == [str(public_drop / "d29" / "late.jpg")]
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(timeout=10) == 0
