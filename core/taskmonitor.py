"""Watches Celery tasks through its signals: queue wait and run time for /metrics, failures for
the failed-work page, and the request id carried from the web request into the task's log lines.

Connected in CoreConfig.ready(), so it runs in every process that loads Django: the web process
stamps messages as it publishes them, the worker times and records what it runs.

Timings go to Redis (REDIS_URL), under `<REDIS_KEY_PREFIX>:metrics:task:<name>`: a hash of
counters that any web process reads at scrape time (core.metrics). Counters only ever grow, as
Prometheus expects; they start again from zero if Redis loses its data. Without REDIS_URL (the
embedded demo) nothing is timed. Writing them never slows or breaks a task: errors are ignored.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.conf import settings

from core.logs import day_only_var, request_id_var, task_id_var

logger = logging.getLogger(__name__)

# Custom message headers; Celery hands them to the task as attributes of task.request.
SENT_AT_HEADER = "vs_sent_at"
REQUEST_ID_HEADER = "vs_request_id"
TASKS_KEY = "metrics:tasks"

_started: dict[str, tuple[float, float | None]] = {}  # task id -> (monotonic start, queue wait)
_client: Any = None


def metrics_key(suffix: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:{suffix}"


def _redis() -> Any:
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _client


def on_before_publish(sender: Any = None, headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    headers[SENT_AT_HEADER] = time.time()
    request_id = request_id_var.get()
    # Work queued by a public request is not tied to it: the worker's lines carry times of day.
    if request_id and not day_only_var.get():
        headers[REQUEST_ID_HEADER] = request_id


def _eta_timestamp(eta: Any) -> float:
    if not eta:
        return 0.0
    try:
        return (eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))).timestamp()
    except (TypeError, ValueError):
        return 0.0


def on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request = getattr(task, "request", None)
    sent_at = getattr(request, SENT_AT_HEADER, None)
    wait: float | None = None
    if isinstance(sent_at, int | float):
        # A task with a countdown was not waiting before its time came.
        ready_at = max(float(sent_at), _eta_timestamp(getattr(request, "eta", None)))
        wait = max(0.0, time.time() - ready_at)
    if task_id:
        _started[task_id] = (time.monotonic(), wait)
        task_id_var.set(task_id)
    request_id_var.set(str(getattr(request, REQUEST_ID_HEADER, "") or ""))


def on_postrun(sender: Any = None, task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    started = _started.pop(task_id or "", None)
    task_id_var.set("")
    request_id_var.set("")
    if started is None or task is None:
        return
    runtime = time.monotonic() - started[0]
    wait = started[1]
    try:
        client = _redis()
        if client is None:
            return
        key = metrics_key(f"metrics:task:{task.name}")
        pipe = client.pipeline(transaction=False)
        pipe.sadd(metrics_key(TASKS_KEY), task.name)
        pipe.hincrby(key, "runs", 1)
        pipe.hincrbyfloat(key, "run_seconds", runtime)
        if wait is not None:
            pipe.hincrby(key, "waits", 1)
            pipe.hincrbyfloat(key, "wait_seconds", wait)
        if state == "SUCCESS":
            pipe.hset(key, "last_success", time.time())
        elif state == "FAILURE":
            pipe.hincrby(key, "failures", 1)
        elif state == "RETRY":
            pipe.hincrby(key, "retries", 1)
        pipe.execute()
    except Exception:  # noqa: BLE001 - metrics must never break a task
        logger.warning("could not record the timing of task %s", task.name)


def on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **extra: Any,
) -> None:
    from core import ops

    name = str(getattr(sender, "name", "") or "unknown")
    try:
        ops.task_failure_record(task_name=name, task_id=str(task_id or ""), exception=exception, args=args, kwargs=kwargs)
    except Exception:
        logger.exception("could not record the failure of task %s", name)


def on_setup_logging(**kwargs: Any) -> None:
    """Workers and beat keep Django's LOGGING (core.logs) instead of Celery's own handlers, so
    their lines are redacted and formatted like the web's."""
    import logging.config

    logging.config.dictConfig(settings.LOGGING)


def connect() -> None:
    from celery import signals

    signals.before_task_publish.connect(on_before_publish, weak=False, dispatch_uid="core.taskmonitor.publish")
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="core.taskmonitor.prerun")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="core.taskmonitor.postrun")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="core.taskmonitor.failure")
