"""The Celery app refuses timings that would make Redis redeliver a running upload."""

from __future__ import annotations

import pytest

from config.settings import ConfigError, load_settings
from worker.app import celery_config, check_visibility_timeout, longest_wait_s


def test_a_visibility_timeout_shorter_than_the_longest_wait_is_refused() -> None:
    """The guard names the setting to raise."""
    settings = load_settings(worker={"visibility_timeout_s": 120})
    with pytest.raises(ConfigError, match="visibility_timeout_s"):
        check_visibility_timeout(settings)


def test_the_defaults_pass_the_guard_with_margin() -> None:
    """Out of the box the visibility timeout exceeds every retry wait plus the time limit."""
    settings = load_settings()
    check_visibility_timeout(settings)
    assert settings.worker.visibility_timeout_s > longest_wait_s(settings)


def test_celery_runs_json_only_with_late_acks_prefetch_one_and_no_results() -> None:
    """The delivery settings that make a crash requeue instead of lose."""
    conf = celery_config(load_settings())
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_ignore_result"]
    vt = conf["broker_transport_options"]["visibility_timeout"]
    assert (
        vt
        == conf["visibility_timeout"]
        == conf["result_backend_transport_options"]["visibility_timeout"]
    )


def test_only_a_threads_pool_keeps_its_messages_when_the_broker_connection_drops() -> None:
    """Threads cannot be stopped, so their messages stay theirs; prefork kills and restores."""
    settings = load_settings()
    threads = celery_config(settings)
    assert threads["broker_transport_options"]["keep_delivered_on_connection_loss"] is True
    assert threads["worker_cancel_long_running_tasks_on_connection_loss"] is False
    settings.worker = settings.worker.model_copy(update={"pool": "prefork"})
    prefork = celery_config(settings)
    assert prefork["broker_transport_options"]["keep_delivered_on_connection_loss"] is False
    assert prefork["worker_cancel_long_running_tasks_on_connection_loss"] is True


def test_a_visibility_heartbeat_too_slow_to_keep_messages_is_refused() -> None:
    """Beats further apart than half the timeout would let a long upload's message go."""
    settings = load_settings()
    settings.worker = settings.worker.model_copy(update={"visibility_heartbeat_s": 2000.0})
    with pytest.raises(ConfigError, match="MEDIAPOST_WORKER__VISIBILITY_HEARTBEAT_S"):
        check_visibility_timeout(settings)
