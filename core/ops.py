"""Failed work for administrators: failed Celery tasks (recorded here) and stuck rows that other
apps report (the takedown outbox), each with a way to try again.

Dependencies run one way, so core cannot look into takedowns. Instead an app registers a
StuckSource in its AppConfig.ready(): how to list its stuck rows, count them and retry one. The
failed-work page (core.ops_views) and the metrics (core.metrics) only talk to the registry.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit, health
from core.errors import Conflict, PermissionDenied, ServiceError
from core.logs import redact
from core.models import TaskFailure, User
from core.roles import Role

# Stuck-work registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class StuckItem:
    pk: int
    title: str  # what it is, without victim data: "Notice 12 (E-mail) to Platform X"
    state: str  # its status, in words
    since: datetime | None  # when it became stuck (or was created)
    attempts: int | None
    detail: str  # the last error, redacted and short
    can_retry: bool


@dataclass(frozen=True)
class StuckSource:
    key: str  # in the retry URL: /ops/failed/<key>/<pk>/retry/
    title: Any  # a (lazy) translated heading
    items: Callable[[int], list[StuckItem]]  # at most n rows, longest stuck first
    count: Callable[[], int]
    retry: Callable[..., str]  # retry(pk=..., acting_user=...) -> a message for the person
    # Of those, the ones waiting with nobody doing them (due too long, or claimed by a worker that
    # died), as against failed ones: what /readyz?strict=1, /metrics and the page's top warn about.
    waiting: Callable[[], int] | None = None


_sources: dict[str, StuckSource] = {}


def register_stuck_source(source: StuckSource) -> None:
    _sources[source.key] = source


def stuck_sources() -> list[StuckSource]:
    return list(_sources.values())


def stuck_source(key: str) -> StuckSource | None:
    return _sources.get(key)


# Work waiting with nobody to do it ----------------------------------------------------------


@dataclass(frozen=True)
class WaitingWork:
    """What the top of the failed-work page warns about (the same as /readyz?strict=1 and /metrics)."""

    queues: list[health.UnconsumedQueue]  # queues holding messages that no running worker consumes
    queues_known: bool  # False when the broker could not be asked (the embedded file broker, or down)
    stuck_notices: int  # due longer than NOTICE_STUCK_ALERT_S, or claimed by a worker that died
    stuck_after_s: int


def waiting_work() -> WaitingWork:
    queues = health.queues_without_consumer()
    return WaitingWork(
        queues=queues or [],
        queues_known=queues is not None,
        stuck_notices=health.stuck_notice_count() or 0,
        stuck_after_s=int(settings.NOTICE_STUCK_ALERT_S),
    )


def require_admin(user: User | None) -> None:
    if user is None or getattr(user, "role", None) != Role.ADMIN:
        raise PermissionDenied(_("Only administrators handle failed work."))


# Failed Celery tasks --------------------------------------------------------------------------

_MAX_LIST = 1000
_LEFT_OUT = "(left out)"


def _plain(value: Any, *, nested: bool = False) -> tuple[Any, bool]:
    """The value when it is a plain id (a number, or a list of numbers), else a marker and False.

    Task arguments in this system are ids; anything else might be personal data, so it is not
    kept, and a task with such an argument cannot be re-sent from the page.
    """
    if value is None or isinstance(value, bool | int):
        return value, True
    if isinstance(value, float) and math.isfinite(value):
        return value, True
    if not nested and isinstance(value, list | tuple) and len(value) <= _MAX_LIST:
        items = [_plain(v, nested=True) for v in value]
        if all(ok for _v, ok in items):
            return [v for v, _ok in items], True
    return _LEFT_OUT, False


def _plain_args(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any], bool]:
    clean_args: list[Any] = []
    clean_kwargs: dict[str, Any] = {}
    retryable = True
    for value in list(args or []):
        clean, ok = _plain(value)
        clean_args.append(clean)
        retryable = retryable and ok
    for key, value in dict(kwargs or {}).items():
        clean, ok = _plain(value)
        clean_kwargs[str(key)[:100]] = clean
        retryable = retryable and ok
    return clean_args, clean_kwargs, retryable


def task_failure_record(*, task_name: str, task_id: str, exception: BaseException | None, args: Any, kwargs: Any) -> TaskFailure:
    """Records a task that failed for good. A repeat of an open failure (same task, same
    arguments) is counted on its row, so a periodic task failing every minute is one row."""
    clean_args, clean_kwargs, retryable = _plain_args(args, kwargs)
    kind = type(exception) if exception is not None else None
    exception_name = f"{kind.__module__}.{kind.__qualname__}"[:200] if kind is not None else "unknown"
    message = redact(str(exception or ""))[:300]
    now = timezone.now()
    with transaction.atomic():
        # Two worker processes failing the same task at once would each find no open row and each
        # add one; they take turns on the (task, arguments) instead. SQLite writes one at a time.
        if connection.vendor == "postgresql":
            key = hashlib.sha256(
                json.dumps([task_name[:200], clean_args, clean_kwargs], sort_keys=True, default=str).encode()
            ).digest()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(key[:8], "big", signed=True)])
        existing = (
            TaskFailure.objects.select_for_update()
            .filter(task_name=task_name[:200], args=clean_args, kwargs=clean_kwargs, retried_at=None, dismissed_at=None)
            .first()
        )
        if existing is not None:
            existing.occurrences += 1
            existing.last_failed_at = now
            existing.task_id = task_id[:64]
            existing.exception = exception_name
            existing.message = message
            existing.save(update_fields=["occurrences", "last_failed_at", "task_id", "exception", "message"])
            return existing
        return TaskFailure.objects.create(
            task_name=task_name[:200], task_id=task_id[:64], args=clean_args, kwargs=clean_kwargs, retryable=retryable,
            exception=exception_name, message=message, first_failed_at=now, last_failed_at=now,
        )  # fmt: skip


def open_task_failures() -> Any:
    return TaskFailure.objects.filter(retried_at=None, dismissed_at=None).select_related("retried_by").order_by("-last_failed_at")


def recent_closed_task_failures(limit: int = 20) -> list[TaskFailure]:
    return list(
        TaskFailure.objects.exclude(retried_at=None, dismissed_at=None)
        .select_related("retried_by", "dismissed_by")
        .order_by("-id")[:limit]
    )


def _send_task(name: str, args: list[Any], kwargs: dict[str, Any], task_id: str) -> None:
    from config.celery import app

    app.send_task(name, args=args, kwargs=kwargs, task_id=task_id)


def task_failure_retry(*, failure: TaskFailure, acting_user: User) -> TaskFailure:
    """Sends the task again with the same arguments (its routing puts it on the same queue).

    Marked as retried first and sent after the commit (no broker call inside a transaction);
    if the broker refuses, the mark is taken back and the person is told.
    """
    require_admin(acting_user)
    new_task_id = str(uuid.uuid4())
    with transaction.atomic():
        locked = TaskFailure.objects.select_for_update().get(pk=failure.pk)
        if not locked.is_open:
            raise Conflict(_("This failure was already retried or dismissed."))
        if not locked.retryable:
            raise ServiceError(_("This task's arguments were not kept, so it cannot be sent again from here."))
        locked.retried_at = timezone.now()
        locked.retried_by = acting_user
        locked.retry_task_id = new_task_id
        locked.save(update_fields=["retried_at", "retried_by", "retry_task_id"])
        audit.record(
            "task.retry", actor=acting_user, obj=locked,
            details={"task": locked.task_name, "failed_task_id": locked.task_id, "task_id": new_task_id},
        )  # fmt: skip
    try:
        _send_task(locked.task_name, list(locked.args), dict(locked.kwargs), new_task_id)
    except Exception as exc:
        with transaction.atomic():
            TaskFailure.objects.filter(pk=locked.pk).update(retried_at=None, retried_by=None, retry_task_id="")
            audit.record("task.retry_not_sent", actor=acting_user, obj=locked, details={"task_id": new_task_id})
        raise ServiceError(
            _("The task could not be queued (is the broker running?). Nothing was sent; try again later.")
        ) from exc
    return locked


@transaction.atomic
def task_failure_dismiss(*, failure: TaskFailure, acting_user: User) -> TaskFailure:
    """For a failure that needs no retry (the work was done another way, or is no longer wanted)."""
    require_admin(acting_user)
    locked = TaskFailure.objects.select_for_update().get(pk=failure.pk)
    if not locked.is_open:
        raise Conflict(_("This failure was already retried or dismissed."))
    locked.dismissed_at = timezone.now()
    locked.dismissed_by = acting_user
    locked.save(update_fields=["dismissed_at", "dismissed_by"])
    audit.record("task.dismiss", actor=acting_user, obj=locked, details={"task": locked.task_name, "task_id": locked.task_id})
    return locked
