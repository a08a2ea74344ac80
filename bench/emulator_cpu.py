"""Measure the emulator's CPU cost per upload: `python bench/emulator_cpu.py [--uploads 200]`.

Starts `python -m emulator --port 0` in a subprocess, sends N uploads of one body over one
keep-alive httpx connection, and reads the emulator's utime+stime from /proc/<pid>/stat before and
after. The figure to watch is CPU-ms per upload (and CPU-seconds per GB received); see
/work/shared/notes/performance.md §6. Options after `--` go to the emulator, e.g.
`-- --discard-bytes --no-hash` for the benchmark configuration. Linux only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PARAMS = {
    "method": "up.photos.upload",
    "api_key": "demo-key",
    "community": "demo",
    "session_key": "demo-session",
}
SECRET = "demo-secret"


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def signed(params: dict[str, str]) -> dict[str, str]:
    """The params plus their MediaPost signature (contract §2)."""
    base = "".join(f"{k}={v}" for k, v in sorted(params.items())) + SECRET
    return {**params, "sig": hashlib.md5(base.encode()).hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--size-mib", type=float, default=4.0)
    parser.add_argument("--data-dir", default=None, help="emulator data dir (default: a temp dir)")
    parser.add_argument("emulator_args", nargs="*", help="more emulator options, after --")
    args = parser.parse_args()
    extra = ["--data-dir", args.data_dir] if args.data_dir else []
    extra += args.emulator_args
    body = b"\xff\xd8\xff\xe0" + os.urandom(int(args.size_mib * 1024 * 1024) - 4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+/api\.php)", line)
        if match is None:
            raise SystemExit(f"emulator did not start: {line!r}")
        url = match.group(1)
        with httpx.Client(timeout=60) as client:
            albums = []
            # Regular albums hold 60 photos: make enough of them for every upload.
            for i in range(args.uploads // 60 + 1):
                spec = {
                    **PARAMS,
                    "method": "up.photos.createAlbum",
                    "name": f"b{i}",
                    "format": "json",
                }
                fields = signed(spec)
                albums.append(client.post(url, data=fields).json()["aid"])
            warm = signed({**PARAMS, "aid": albums[0]})
            client.post(url, data=warm, files={"data": ("w.jpg", body, "image/jpeg")})
            before_cpu, before_wall = cpu_seconds(proc.pid), time.perf_counter()
            for i in range(args.uploads):
                fields = signed({**PARAMS, "aid": albums[(i + 1) // 60], "caption": f"p{i}"})
                response = client.post(
                    url, data=fields, files={"data": (f"p{i}.jpg", body, "image/jpeg")}
                )
                if b"<pid>" not in response.content:
                    raise SystemExit(f"upload {i} failed: {response.text[:300]}")
            wall = time.perf_counter() - before_wall
            after_cpu = cpu_seconds(proc.pid)
            user, system = (a - b for a, b in zip(after_cpu, before_cpu, strict=True))
            cpu = user + system
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    mb = args.uploads * len(body) / 1e6
    print(
        f"{args.uploads} uploads of {len(body) / 2**20:.1f} MiB: emulator CPU {cpu:.2f} s "
        f"(user {user:.2f} + system {system:.2f}) "
        f"= {cpu * 1000 / args.uploads:.1f} ms/upload, {cpu / (mb / 1000):.2f} s per GB, "
        f"{mb / cpu:.0f} MB per CPU-second; wall {wall:.2f} s ({mb / wall:.0f} MB/s, "
        f"{args.uploads / wall:.0f} uploads/s)"
    )


if __name__ == "__main__":
    main()
