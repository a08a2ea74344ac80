"""The Celery tasks: thin shells that hand a message to the pipeline and map its signals."""

from __future__ import annotations

import random
import time
from typing import Any

import structlog
from celery import Celery, Task
from celery.exceptions import Reject
from redis.exceptions import RedisError

from worker import runtime
from worker.messages import RECONCILE_TASK, UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest
from worker.pipeline import RetryLater, backoff

log = structlog.get_logger(__name__)

MAX_COUNTDOWN_S = 300.0
MAX_UNEXPECTED_RETRIES = 8
REDIS_WAIT_S = 30.0  # how long a task waits for Redis to come back before requeueing itself


def retry_or_requeue(task: Task, countdown: float, **options: Any) -> Exception:
    """`task.retry`, except that a retry Celery cannot publish puts this message back instead.

    Celery answers a failed publish of the retry with Reject(requeue=False), which drops the
    message: with Redis down, the file would never be uploaded (nor retried by anyone).
    """
    try:
        retry: Exception = task.retry(countdown=countdown, **options)
    except Reject as rejected:
        log.warning("upload.requeued", reason=str(rejected.reason))
        requeue: Exception = Reject(rejected.reason, requeue=True)
        return requeue
    return retry


def wait_for_redis(timeout: float) -> bool:
    """Poll Redis (the broker as well) with backoff until it answers; False after `timeout`."""
    redis = runtime.get().redis
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return bool(redis.ping())
        except RedisError:
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def upload_file(task: Task, **kwargs: Any) -> dict[str, str]:
    """Upload one file (the payload is a reference, see worker.messages)."""
    request = UploadRequest.from_kwargs(kwargs)
    retries = int(task.request.retries or 0)
    structlog.contextvars.bind_contextvars(task_id=task.request.id)
    try:
        outcome = runtime.get().pipeline.run(request, token=task.request.id, retries=retries)
    except RetryLater as later:
        countdown = min(later.countdown, MAX_COUNTDOWN_S)
        log.info(
            "upload.retry_later",
            file=request.path,
            reason=later.reason,
            countdown_s=round(countdown, 1),
        )
        raise retry_or_requeue(task, countdown) from None
    except RedisError as exc:
        log.warning("upload.redis_error", file=request.path, error=type(exc).__name__)
        wait_for_redis(REDIS_WAIT_S)
        raise retry_or_requeue(task, backoff(retries, base=2.0, cap=60.0)) from None
    except Exception as exc:
        log.exception("upload.unexpected_error", file=request.path)
        if retries >= MAX_UNEXPECTED_RETRIES:
            raise
        raise retry_or_requeue(
            task, backoff(retries) + random.uniform(0, 1), exc=RuntimeError(type(exc).__name__)
        ) from None
    finally:
        structlog.contextvars.unbind_contextvars("task_id")
    return {"status": outcome.status, "pid": outcome.pid, "aid": outcome.aid}


def reconcile_albums(task: Task) -> int:
    """Check each series' current album size against the server (others may add photos)."""
    return runtime.get().reconcile_albums()


def register_tasks(app: Celery) -> None:
    """Register the tasks on this app under their shared names."""
    app.task(
        name=UPLOAD_TASK,
        bind=True,
        queue=UPLOAD_QUEUE,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        max_retries=None,  # waits (rate window, pause, outage) are bounded by our own logic
    )(upload_file)
    app.task(name=RECONCILE_TASK, bind=True, queue=UPLOAD_QUEUE, ignore_result=True)(
        reconcile_albums
    )
