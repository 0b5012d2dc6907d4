"""The failed-work page for administrators: failed tasks and stuck outbox rows, with Retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import ops
from core.errors import ServiceError
from core.models import TaskFailure
from core.roles import Role

# Enough to act on; the count says when there are more (the metrics give the full picture).
PAGE_ROWS = 200


def _require_admin(request: HttpRequest) -> None:
    # 404, not 403: the page does not exist for anyone else.
    if getattr(request.user, "role", None) != Role.ADMIN:
        raise Http404


def failed_work_view(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    failures = ops.open_task_failures()
    sections = [{"source": source, "items": source.items(PAGE_ROWS), "count": source.count()} for source in ops.stuck_sources()]
    context = {
        "failures": list(failures[:PAGE_ROWS]),
        "failure_count": failures.count(),
        "closed": ops.recent_closed_task_failures(),
        "sections": sections,
        "page_rows": PAGE_ROWS,
        "waiting": ops.waiting_work(),
    }
    return render(request, "core/failed_work.html", context)


def _on_failure(request: HttpRequest, pk: int, act: Callable[..., Any], done: str) -> HttpResponse:
    """Retry or dismiss one recorded task failure; `done` is the message, with %(name)s."""
    _require_admin(request)
    failure = get_object_or_404(TaskFailure, pk=pk)
    try:
        act(failure=failure, acting_user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"name": failure.task_name})
    return redirect("core:failed_work")


@require_POST
def task_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _on_failure(request, pk, ops.task_failure_retry, _("Task %(name)s was sent again."))


@require_POST
def task_dismiss_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _on_failure(request, pk, ops.task_failure_dismiss, _("The failure of %(name)s was dismissed."))


@require_POST
def stuck_retry_view(request: HttpRequest, source: str, pk: int) -> HttpResponse:
    _require_admin(request)
    found = ops.stuck_source(source)
    if found is None:
        raise Http404
    try:
        message = found.retry(pk=pk, acting_user=request.user)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, message)
    return redirect("core:failed_work")
