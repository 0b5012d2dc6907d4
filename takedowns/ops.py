"""The outbox on the administrators' failed-work page and in /metrics (core.ops, core.metrics).

Registered in TakedownsConfig.ready(). Administrators do not see cases, so a notice is shown by
its number, channel, platform and error only: never its address, text or recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from prometheus_client.core import GaugeMetricFamily, Metric

from core.logs import redact
from core.metrics import name
from core.ops import StuckItem, StuckSource
from takedowns import rollup, services
from takedowns.models import (
    OPEN_STATUSES,
    Check,
    CheckOutcome,
    Notice,
    NoticeStatus,
    RequestStatus,
    TakedownRequest,
)


def _notices() -> Any:
    return Notice.objects.filter(services.stuck_notices_filter() | services.failed_notices_filter())


def notice_items(limit: int) -> list[StuckItem]:
    rows = _notices().select_related("request__platform").order_by("created_at", "id")[:limit]
    items = []
    for notice in rows:
        platform = notice.request.platform
        items.append(
            StuckItem(
                pk=notice.pk,
                title=_("Notice %(id)s (%(channel)s) to %(platform)s, takedown request %(request)s")
                % {
                    "id": notice.pk,
                    "channel": notice.get_channel_display(),
                    "platform": platform.name if platform else "-",
                    "request": notice.request_id,
                },
                state=str(notice.get_status_display()),
                since=notice.claimed_at
                if notice.status == NoticeStatus.SENDING
                else (notice.next_attempt_at or notice.created_at),
                attempts=notice.attempts,
                detail=redact(notice.last_error)[:300],
                can_retry=True,
            )
        )
    return items


def notice_count() -> int:
    return int(_notices().count())


def notice_waiting() -> int:
    """Notices due for longer than NOTICE_STUCK_ALERT_S, or claimed by a worker that died. One indexed count."""
    return int(Notice.objects.filter(services.stuck_notices_filter()).count())


def notice_retry(*, pk: int, acting_user: Any) -> str:
    notice = Notice.objects.get(pk=pk)
    services.notice_retry(notice=notice, acting_user=acting_user)
    return _("Notice %(id)s is queued to be sent again.") % {"id": pk}


NOTICE_SOURCE = StuckSource(
    key="notice",
    title=gettext_lazy("Takedown notices failed or stuck in the outbox"),
    items=notice_items,
    count=notice_count,
    retry=notice_retry,
    waiting=notice_waiting,
)


def collect_metrics() -> Iterable[Metric]:
    """Outbox, re-checks and deadlines. Each query is narrowed by an index (status; status and
    deadline; check time); the count by status scans only the status index."""
    now = timezone.now()
    by_status = dict(Notice.objects.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    notices = GaugeMetricFamily(name("notices"), "Takedown notices by status (the outbox).", labels=["status"])
    for status in NoticeStatus.values:
        notices.add_metric([status], float(by_status.get(status, 0)))
    yield notices
    yield GaugeMetricFamily(
        name("outbox_stuck"), "Notices claimed by a worker that died, or due and waiting longer than NOTICE_STUCK_ALERT_S.",
        value=float(notice_waiting()),
    )  # fmt: skip
    yield GaugeMetricFamily(
        name("notices_failed_open"), "Failed notices whose takedown request is still open (shown on the failed-work page).",
        value=float(Notice.objects.filter(services.failed_notices_filter()).count()),
    )  # fmt: skip
    oldest = (
        Notice.objects.filter(status=NoticeStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .aggregate(due=Min(Coalesce("next_attempt_at", "created_at")))["due"]
    )
    yield GaugeMetricFamily(
        name("outbox_oldest_due_seconds"), "How long the longest-waiting due notice has waited (0 when none is due).",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )  # fmt: skip
    checks = dict(
        Check.objects.filter(at__gte=now - timedelta(hours=1))
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    rechecks = GaugeMetricFamily(name("rechecks_last_hour"), "Re-checks of reported addresses in the last hour, by outcome.", labels=["outcome"])  # fmt: skip
    for outcome in CheckOutcome.values:
        rechecks.add_metric([outcome], float(checks.get(outcome, 0)))
    yield rechecks
    # Marks the compliance roll-up has not taken in yet: near 0 when beat's refresh runs each minute.
    yield GaugeMetricFamily(
        name("compliance_rollup_pending"), "Changed hours waiting for the compliance roll-up's refresh.",
        value=float(rollup.pending()),
    )  # fmt: skip
    overdue_statuses = [s for s in OPEN_STATUSES if s != RequestStatus.QUEUED]
    yield GaugeMetricFamily(
        name("requests_overdue"), "Open takedown requests past their legal or platform deadline.",
        value=float(TakedownRequest.objects.filter(status__in=overdue_statuses, deadline__lte=now).count()),
    )  # fmt: skip
