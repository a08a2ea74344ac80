"""Upload a large sparse file to a local sink and report this process's memory growth (JSON).

Run as ``python -m tests.client.memory_probe SIZE_MB``; a separate process, so its peak RSS
says nothing about other tests. The sink is a real HTTP/1.1 server on a socket, reading the
body in 1 MiB pieces and discarding it, so httpx and httpcore run exactly as in production.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mediapost import CallIdClock, Credentials, MediaPostClient, RetryPolicy

PHOTO = b"<photos_upload_response><pid>1</pid><aid>2</aid><owner>3</owner></photos_upload_response>"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


class Sink(BaseHTTPRequestHandler):
    """Reads and discards the body, remembers its size and last bytes, answers a photo."""

    protocol_version = "HTTP/1.1"
    received: list[tuple[int, bytes]] = []  # noqa: RUF012 - one probe, one class

    def do_POST(self) -> None:
        remaining = int(self.headers["Content-Length"])
        total, last = 0, b""
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            total += len(chunk)
            remaining -= len(chunk)
            last = (last + chunk)[-64:]
        Sink.received.append((total, last))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(PHOTO)))
        self.end_headers()
        self.wfile.write(PHOTO)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main(size_mb: int) -> None:
    """Warm up with a small upload, then measure one upload of ``size_mb`` MB."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/api.php"
    creds = Credentials(api_key="k", secret="s", session_key="sk", community="c")
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.jpg", Path(tmp) / "big.jpg"
        small.write_bytes(JPEG_HEAD + b"\x00" * 1000)
        with big.open("wb") as fh:  # sparse: no disk blocks, no page cache to speak of
            fh.write(JPEG_HEAD)
            fh.truncate(size_mb * 1_000_000)
        with MediaPostClient(
            endpoint, creds, retry=RetryPolicy(max_attempts=1), call_ids=CallIdClock()
        ) as client:
            client.upload(small, filename="small.jpg")  # imports, pool, first allocations
            before = _rss_kib()
            tracemalloc.start()
            started = time.monotonic()
            client.upload(big, filename="big.jpg")
            seconds = time.monotonic() - started
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            after = _rss_kib()
    server.shutdown()
    total, last = Sink.received[-1]
    json.dump(
        {
            "file_bytes": size_mb * 1_000_000,
            "body_bytes_received": total,
            "body_ends_with_closing_boundary": last.endswith(b"--\r\n"),
            "rss_before_kib": before,
            "rss_after_kib": after,
            "rss_growth_mib": round((after - before) / 1024, 1),
            "tracemalloc_peak_mib": round(traced_peak / (1 << 20), 2),
            "seconds": round(seconds, 2),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
