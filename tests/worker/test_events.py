"""Task events still reach a monitor like Flower now that the worker sends them in batches."""

from __future__ import annotations

import threading
from typing import Any

from tests.images import write_image
from tests.worker.harness import Stack, wait_for
from worker.messages import UPLOAD_TASK


def test_every_task_reports_received_started_and_succeeded_to_an_event_monitor(
    stack: Stack,
) -> None:
    """Three uploads -> each task's three events arrive, in order, within a bounded wait."""
    folder = stack.folder("events")
    files = [write_image(folder.path / f"e{i}.jpg", seed=300 + i) for i in range(3)]
    stack.start_worker(concurrency=2)
    app = stack.producer()
    seen: list[dict[str, Any]] = []

    def capture() -> None:
        with app.connection() as conn:
            receiver = app.events.Receiver(conn, handlers={"*": seen.append})
            receiver.capture(limit=None, timeout=None, wakeup=True)

    threading.Thread(target=capture, daemon=True).start()
    # Subscribed once the worker's next heartbeat (every 2 s) comes through.
    wait_for(lambda: any(e["type"] == "worker-heartbeat" for e in seen), 15, "a heartbeat")
    stack.enqueue(folder, files)
    stack.wait_settled(folder, 3)

    def uploads() -> set[str]:
        return {e["uuid"] for e in seen if e.get("name") == UPLOAD_TASK}

    def all_succeeded() -> bool:
        done = {e["uuid"] for e in seen if e["type"] == "task-succeeded"}
        return len(uploads()) == 3 and uploads() <= done

    wait_for(all_succeeded, 10, "three uploads' task-succeeded events")
    for task_id in uploads():
        kinds = [e["type"] for e in seen if e.get("uuid") == task_id]
        assert kinds == ["task-received", "task-started", "task-succeeded"], kinds
