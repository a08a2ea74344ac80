"""The naive floor: poll a folder every second, post each new file with a fresh client, in order.

What someone would write in ten minutes (`requests.post`-style): one `httpx.post` per file, so a
new client (and SSL context) each time, no threads, no queue, no retries. Run as its own process
by bench/throughput.py; prints `ready` after its first (empty) poll, then one JSON line per
upload, and exits after `--count`.

    .venv/bin/python bench/naive_floor.py FOLDER --endpoint URL --aids A,B --count N
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

import httpx

PER_ALBUM = 60  # a regular MediaPost album holds 60 photos
DEMO = {"api_key": "demo-key", "community": "demo", "session_key": "demo-session"}
SECRET = "demo-secret"


def signed(params: dict[str, str]) -> dict[str, str]:
    """The params plus their signature: md5 of sorted name=value pairs and the secret."""
    base = "".join(f"{k}={v}" for k, v in sorted(params.items())) + SECRET
    return {**params, "sig": hashlib.md5(base.encode()).hexdigest()}


def upload(endpoint: str, path: str, name: str, aid: str) -> None:
    """One upload with a client made for it (module-level httpx.post)."""
    params = signed({"method": "up.photos.upload", **DEMO, "aid": aid, "caption": name})
    with open(path, "rb") as fh:
        reply = httpx.post(
            endpoint, data=params, files={"data": (name, fh, "image/jpeg")}, timeout=120
        )
    if b"<pid>" not in reply.content:
        raise SystemExit(f"upload of {name} failed: {reply.text[:300]}")


def main() -> None:
    """Every second: list the folder, upload what is new; stop after `count` uploads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--aids", required=True, help="comma-separated album ids, 60 photos each")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    aids = args.aids.split(",")
    seen = set(os.listdir(args.folder))  # the first poll: whatever is there is not new
    print("ready", flush=True)
    uploaded = 0
    while uploaded < args.count:
        time.sleep(1.0)
        for name in sorted(os.listdir(args.folder)):
            if name in seen:
                continue
            seen.add(name)
            path = os.path.join(args.folder, name)
            upload(args.endpoint, path, name, aids[uploaded // PER_ALBUM])
            uploaded += 1
            print(json.dumps({"file": name, "t": time.time()}), flush=True)


if __name__ == "__main__":
    main()
