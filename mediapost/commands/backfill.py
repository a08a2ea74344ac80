"""`mediapost backfill`: queue the finished images already in a folder, then follow them.

It walks the tree the way the watcher's rescan does (stat only, the same name filters),
asks the per-file index which versions already have a final outcome, and enqueues the rest
through the watcher's own outbox, so the enqueued index is marked the same way and neither
the watcher nor a second backfill queues them again. Running it twice is safe: the second
run finds everything settled (or still on its way) and queues nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from config.settings import Settings, WatchFolder, folder_id
from mediapost.commands.connections import CommandError
from scheduler.enqueue import Candidate, Enqueuer, Sender
from scheduler.filters import NameFilter
from scheduler.scan import Scan
from worker import registry

if TYPE_CHECKING:
    from redis import Redis

Entry = tuple[str, int, int]  # relpath, size, mtime_ns: one version of one file
CHUNK = 1000
ENQUEUE_GIVE_UP_S = 30.0


def resolve_folder(
    settings: Settings, redis: Redis, path: Path, watch_id: str | None = None
) -> WatchFolder:
    """The configured folder at PATH, else the one a watcher published, else a new one."""
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise CommandError(f"{path} is not a directory")
    configured = next((w for w in settings.watch if w.path == resolved), None)
    if configured is not None:
        if watch_id and watch_id != configured.id:
            raise CommandError(
                f"{resolved} is configured with id {configured.id!r}; drop --folder-id"
            )
        return configured
    wanted = watch_id or folder_id(resolved)
    published = registry.load_watch_folder(redis, wanted)
    if published is not None:
        if published.path != resolved:
            raise CommandError(
                f"the folder id {wanted!r} already belongs to {published.path}; "
                "choose another with --folder-id"
            )
        return published  # keep what the watcher published (album series, post-upload action)
    try:
        return WatchFolder(path=resolved, id=watch_id or "")
    except ValidationError:
        raise CommandError("--folder-id: use 1-64 letters, digits, '.', '_' or '-'") from None


@dataclass
class Plan:
    """What one walk found and did."""

    folder: WatchFolder
    pending: list[Entry] = field(default_factory=list)  # no final outcome yet
    settled: int = 0  # a final outcome for exactly this version: skipped
    fresh: int = 0  # written within the quiet period: left for the watcher or a later run
    queued: int = 0  # published by this run (the rest of `pending` was queued before)


def walk(folder: WatchFolder, *, now_ns: int) -> Iterator[tuple[list[Entry], int]]:
    """Batches of finished candidate files, with how many were too fresh to take."""
    scan = Scan(str(folder.path), NameFilter.for_folder(folder), batch_size=CHUNK)
    quiet_ns = int(folder.quiet_period_s * 1e9)
    while not scan.done:
        found, _odd = scan.next_batch()
        ready = [(f.relpath, f.stat.size, f.stat.mtime_ns) for f in found]
        ripe = [e for e in ready if now_ns - e[2] >= quiet_ns]
        yield ripe, len(ready) - len(ripe)


def enqueue_folder(
    redis: Redis,
    folder: WatchFolder,
    send: Sender,
    *,
    requeue_after_s: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Plan:
    """Publish the folder, then queue every unsettled finished file (once per version)."""
    registry.publish_watch_folder(redis, folder)
    plan = Plan(folder)
    outbox = Enqueuer(redis, send, requeue_after_s=requeue_after_s, batch_size=CHUNK)
    for batch, fresh in walk(folder, now_ns=time.time_ns()):
        plan.fresh += fresh
        open_ = registry.unsettled(redis, folder.id, batch)
        plan.settled += len(batch) - len(open_)
        plan.pending.extend(open_)
        for rel, size, mtime_ns in open_:
            path = str(folder.path / rel)
            outbox.submit(Candidate(folder.id, rel, path, size, mtime_ns, settled_checked=True))
        _drain(outbox, clock, sleep)
    plan.queued = outbox.sent
    return plan


def _drain(outbox: Enqueuer, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """Publish everything pending; the outbox backs off while Redis fails, up to a bound."""
    since = clock()
    while outbox.pending:
        outbox.flush(clock(), max_batches=100)
        if outbox.failing:
            if clock() - since > ENQUEUE_GIVE_UP_S:
                raise CommandError("cannot enqueue: Redis keeps failing; nothing was lost, rerun")
            sleep(0.2)


def plan_text(plan: Plan) -> str:
    """What the walk found and queued, in one line."""
    earlier = len(plan.pending) - plan.queued
    if not plan.pending:
        text = f"nothing to do: all {plan.settled} files in {plan.folder.path} are done"
    else:
        text = f"queued {plan.queued} files from {plan.folder.path} (folder id {plan.folder.id})"
        if earlier:
            text += f"; {earlier} queued earlier are still on their way"
        if plan.settled:
            text += f"; {plan.settled} already done"
    if plan.fresh:
        quiet = f"{plan.folder.quiet_period_s:g}"
        text += f"; {plan.fresh} written in the last {quiet} s left for later"
    return text
