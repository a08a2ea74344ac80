"""A bounded graceful stop: SIGTERM lets running uploads finish, but not forever.

Celery's warm shutdown (SIGTERM, or the first Ctrl-C) stops taking messages and waits for the
running tasks with no limit; messages delivered to this worker but not started go back to the
queue when its channel closes. The guard adds the bound: if uploads still run `grace_s` after
the warm shutdown began, it stops the pool's child processes (prefork), requeues the messages
and ends the process, even though a thread may still be blocked in a network call.

An upload cut off this way keeps its intent in the ledger, so whoever gets its message next
looks for the photo in the album before uploading again. The server may still be storing the
cut-off request, though, so those messages come back with a countdown (`settle_s`, the HTTP
read timeout: no answer takes longer) instead of at once; messages not started yet go back
to the head of the queue directly.

Why not Celery's own tools: `worker_soft_shutdown_timeout` only applies to a cold shutdown and
then sleeps the whole timeout whenever a task runs; and a cold shutdown requested during a
warm one (SIGQUIT) is not handled while the main thread waits for the thread pool to drain,
so its messages would wait for the visibility timeout (an hour) instead.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

FORCE_EXIT_AFTER_S = 10.0  # if requeueing itself hangs (Redis gone), exit anyway


def running_tasks() -> int:
    """How many tasks this worker is executing (Celery's own bookkeeping)."""
    from celery.worker import state

    return len(state.active_requests)


def stop_pool_children() -> int:
    """SIGKILL the prefork pool's processes, so no upload outlives its requeued message."""
    from billiard.process import active_children  # type: ignore[import-untyped]

    children = active_children()
    for child in children:
        if child.pid:
            os.kill(child.pid, signal.SIGKILL)
    return len(children)


class ShutdownGuard:
    """Ends a warm shutdown that outlives its grace: requeue what still runs, then exit."""

    def __init__(
        self,
        grace_s: float,
        *,
        settle_s: float = 60.0,
        force_after_s: float = FORCE_EXIT_AFTER_S,
        running: Callable[[], int] = running_tasks,
        stop_children: Callable[[], int] = stop_pool_children,
        exit_now: Callable[[int], None] = os._exit,
    ) -> None:
        self.grace_s = grace_s
        self.settle_s = settle_s
        self.force_after_s = force_after_s
        self.running = running
        self.stop_children = stop_children
        self.exit_now = exit_now
        self.escalated = threading.Event()
        self.consumer: Any = None
        self._timer: threading.Timer | None = None

    def on_ready(self, sender: Any = None, **_: Any) -> None:
        """Celery's `worker_ready` signal: keep the consumer, whose channel holds our messages."""
        self.consumer = sender

    def on_shutting_down(self, sender: Any = None, how: str = "", **_: Any) -> None:
        """Celery's `worker_shutting_down` signal: start the grace period once, on a warm stop."""
        if how != "Warm" or self._timer is not None:
            return
        log.info("worker.stopping", grace_s=self.grace_s, running=self.running())
        self._timer = _daemon_timer(self.grace_s, self.escalate)

    def escalate(self) -> None:
        """The grace is over: requeue this worker's messages and exit without waiting more."""
        running = self.running()
        if running == 0:
            return
        self.escalated.set()
        log.warning("worker.shutdown_grace_expired", grace_s=self.grace_s, running=running)
        _daemon_timer(self.force_after_s, lambda: self._exit("worker.shutdown_forced"))
        try:
            self.stop_children()
            self.requeue()
        except Exception as exc:
            # The messages come back after the visibility timeout instead; nothing is lost.
            log.error("worker.requeue_failed", error=f"{type(exc).__name__}: {exc}")
        self._exit("worker.shutdown_cut_off")

    def requeue(self) -> None:
        """Cut-off tasks come back after `settle_s`; the unstarted ones go back at once."""
        from celery.worker import state

        if self.consumer is None:
            return
        task_consumer = getattr(self.consumer, "task_consumer", None)
        channel = getattr(task_consumer, "channel", None)
        # First, so a BRPOP still waiting cannot take one of the messages requeued below.
        give_back = getattr(channel, "give_back_pending_pop", None)
        if give_back is not None and (pending := give_back()) != "idle":
            log.info("worker.pending_pop_read", outcome=pending)
        for request in list(state.active_requests):
            self.consumer.app.send_task(
                request.name,
                args=request.args,
                kwargs=request.kwargs,
                task_id=request.id,  # the same claim token: the next delivery resumes its claim
                countdown=self.settle_s,
                queue=request.delivery_info.get("routing_key") or None,
            )
            # Directly: Celery defers a pool's acks to the main loop, which is stuck waiting.
            if not request.message.acknowledged:
                request.message.ack()
            request.acknowledged = True
            log.info("worker.requeued", task_id=request.id, countdown_s=self.settle_s)
        if task_consumer is not None:
            # Redis QoS: each tag is moved back only if still unacked (a WATCH transaction).
            task_consumer.channel.qos.restore_unacked_once()

    def _exit(self, event: str) -> None:
        log.warning(event, running=self.running())
        sys.stdout.flush()
        sys.stderr.flush()
        self.exit_now(1)


def _daemon_timer(delay_s: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay_s, action)
    timer.daemon = True
    timer.start()
    return timer
