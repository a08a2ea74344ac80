"""The Celery app: the composition root of a worker process (and of beat).

Nothing is created at import time; `create_app(settings)` builds the app from settings.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import (
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)
from redis import Redis

from config.settings import ConfigError, Settings, pool_size
from worker import runtime
from worker.messages import RECONCILE_TASK, UPLOAD_QUEUE
from worker.shutdown import ShutdownGuard
from worker.tasks import MAX_COUNTDOWN_S, register_tasks
from worker.visibility import VisibilityHeartbeat

RECONCILE_EVERY_S = 300.0


def longest_wait_s(settings: Settings) -> float:
    """The longest a message can stay unacknowledged before it is done or retried."""
    client_budget = settings.retry.max_total_s + settings.retry.max_wait_s
    task_time = max(settings.worker.task_time_limit_s, client_budget + settings.http_timeout_s)
    return task_time + max(
        MAX_COUNTDOWN_S, settings.worker.pause_retry_s, settings.worker.rate_window_s
    )


def check_visibility_timeout(settings: Settings) -> None:
    """Refuse a visibility timeout that would let Redis redeliver a task still in progress."""
    heartbeat = settings.worker.visibility_heartbeat_s
    if heartbeat is not None and heartbeat > settings.worker.visibility_timeout_s / 2:
        raise ConfigError(
            f"worker.visibility_heartbeat_s (env MEDIAPOST_WORKER__VISIBILITY_HEARTBEAT_S) is "
            f"{heartbeat:g}s but must be at most half the visibility timeout "
            f"({settings.worker.visibility_timeout_s}s), or long uploads lose their messages"
        )
    needed = longest_wait_s(settings) * 1.2
    if settings.worker.visibility_timeout_s < needed:
        raise ConfigError(
            f"worker.visibility_timeout_s (env MEDIAPOST_WORKER__VISIBILITY_TIMEOUT_S) is "
            f"{settings.worker.visibility_timeout_s}s but must exceed the longest retry wait "
            f"plus the task time limit ({needed:.0f}s), or Redis redelivers running uploads"
        )


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings: JSON only, late acks with requeue, prefetch 1, results ignored."""
    vt = settings.worker.visibility_timeout_s
    threaded = settings.worker.pool == "threads"
    return {
        "broker_url": settings.redis_url,
        # kombu's Redis transport, guarded against a crash on a lost connection (worker/broker.py)
        "broker_transport": "worker.broker:Transport",
        "broker_transport_options": {
            "visibility_timeout": vt,
            # Its tasks outlive a lost connection: restoring their messages ran them twice.
            "keep_delivered_on_connection_loss": threaded,
        },
        "result_backend_transport_options": {"visibility_timeout": vt},
        "visibility_timeout": vt,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Prefork kills them (their messages go back); threads cannot, and only warned.
        "worker_cancel_long_running_tasks_on_connection_loss": not threaded,
        "task_default_queue": UPLOAD_QUEUE,
        "task_soft_time_limit": settings.worker.task_soft_time_limit_s,
        "task_time_limit": settings.worker.task_time_limit_s,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_send_task_events": True,
        # task events leave in batches at most once a second (worker/consumer.py)
        "worker_consumer": "worker.consumer:Consumer",
        "task_send_sent_event": True,
        "worker_pool": settings.worker.pool,
        "worker_concurrency": pool_size(settings.worker),
        "beat_schedule": {
            "reconcile-albums": {"task": RECONCILE_TASK, "schedule": RECONCILE_EVERY_S},
        },
    }


def create_app(settings: Settings) -> Celery:
    """Build the app, after checking that its timing cannot cause duplicate deliveries."""
    check_visibility_timeout(settings)
    app = Celery("mediapost", set_as_current=True)
    app.conf.update(celery_config(settings))
    register_tasks(app)
    runtime.configure(settings)
    worker_ready.connect(_reconcile_on_start, weak=False)
    worker_process_shutdown.connect(_close_runtime, weak=False)
    worker_shutdown.connect(_close_runtime, weak=False)
    # SIGTERM: running uploads get the grace to finish, then are requeued (worker/shutdown.py).
    guard = ShutdownGuard(settings.worker.shutdown_grace_s, settle_s=settings.http_timeout_s)
    worker_ready.connect(guard.on_ready, weak=False)
    worker_shutting_down.connect(guard.on_shutting_down, weak=False)
    worker_shutting_down.connect(_stop_new_uploads, weak=False)
    # Uploads outlasting the visibility timeout keep their messages (worker/visibility.py).
    heartbeat = VisibilityHeartbeat(
        lambda: Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=10),
        interval_s=settings.worker.visibility_heartbeat_s
        or settings.worker.visibility_timeout_s / 4,
    )
    worker_ready.connect(heartbeat.start, weak=False)
    worker_shutdown.connect(heartbeat.stop, weak=False)
    return app


def _reconcile_on_start(sender: Any = None, **_: Any) -> None:
    """Check album counts against the server once when a worker starts."""
    if sender is not None:
        sender.app.send_task(RECONCILE_TASK, queue=UPLOAD_QUEUE)


def _stop_new_uploads(**_: Any) -> None:
    runtime.stop_new_uploads()


def _close_runtime(**_: Any) -> None:
    runtime.shutdown()
