"""`mediapost status`: the queue, the outcome counts, the album series and account pauses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from worker.snapshot import IN_DOUBT, OUTCOMES, Snapshot


def status_json(snap: Snapshot, now: float | None = None) -> dict[str, Any]:
    """The snapshot as plain JSON values, for scripts (no secrets: Redis holds none)."""
    now = time.time() if now is None else now
    return {
        "queue": {"waiting": snap.waiting, "in_flight": snap.in_flight},
        "files": {name: snap.count(name) for name in OUTCOMES},
        "in_doubt": {name: snap.count(name) for name in IN_DOUBT},
        "api_errors": snap.errors,
        "series": [
            {
                "name": s.name,
                "album": s.album,
                "default_aid": s.default_aid,
                "fill": s.fill,
                "limit": s.limit,
                "albums": s.albums,
            }
            for s in snap.series
        ],
        "accounts": [
            {
                "account": a.account,
                "paused": a.pause is not None,
                "reason": a.pause.reason if a.pause else "",
                "code": a.pause.code if a.pause else None,
                "paused_for_s": round(now - a.pause.since) if a.pause else None,
                "rate_window_s": round(a.rate_window_ms / 1000, 1),
            }
            for a in snap.accounts
            if a.blocked
        ],
    }


def status_table(snap: Snapshot, now: float | None = None) -> str:
    """The snapshot as a short report for a terminal."""
    data = status_json(snap, now)
    files, doubt = data["files"], data["in_doubt"]
    lines = [
        f"queue      {snap.waiting} waiting, {snap.in_flight} in flight",
        f"files      {files['uploaded']} uploaded, {files['duplicate']} duplicate, "
        f"{files['set_aside']} set aside",
        f"in doubt   {doubt['in_doubt']} in doubt, {doubt['adopted']} adopted, "
        f"{doubt['in_doubt_unresolved']} unresolved",
    ]
    if data["api_errors"]:
        errors = ", ".join(f"{code}: {n}" for code, n in data["api_errors"].items())
        lines.append(f"api errors {errors}")
    lines.append("")
    if snap.series:
        rows = [("series", "current album", "fill", "albums")]
        rows += [(s.name, s.album_label, f"{s.fill}/{s.limit}", str(s.albums)) for s in snap.series]
        lines += _table(rows)
    else:
        lines.append("no album series yet")
    lines.append("")
    blocked = [a for a in snap.accounts if a.blocked]
    if not blocked:
        lines.append("accounts   uploading (no pause, no rate window)")
    for a in blocked:
        if a.pause is not None:
            lines.append(f"PAUSED     account {a.account}: {a.pause.reason}")
        if a.rate_window_ms > 0:
            lines.append(
                f"rate limit account {a.account}: waiting {a.rate_window_ms / 1000:.1f} s more"
            )
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
