"""Daily compliance roll-ups: what lets the dashboard answer for a million requests in well under a
second while every figure stays exact.

Each ComplianceDay row holds, for one day of first delivery (sent_at in the centre's time zone), one
platform and one case category: the counts the figures add up, and, packed as little-endian
integers, the few numbers per request that cannot be added up: seconds to removal and to the first
answer (for exact nearest-rank percentiles) and the deadlines of requests not removed or still open
(compared with "now" when read, so the figures stay right as deadlines pass without any write).

On PostgreSQL, triggers (migration takedowns 0006) put every hour whose requests changed into
ComplianceDirty; refresh() rebuilds the days those hours touch, under an advisory lock so two
refreshes never interleave. Beat runs it every minute and the compliance pages run it before they
read, so figures are current when shown. SQLite (the demo) has no such triggers: refresh() rebuilds
everything, which for a demo's few hundred requests takes milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from takedowns.models import (
    OPEN_STATUSES,
    ComplianceDay,
    ComplianceDirty,
    Notice,
    NoticeKind,
    NoticeStatus,
    TakedownRequest,
)

# pg_advisory_xact_lock key: "compliance roll-up" (any constant unique to this lock).
LOCK_KEY = 0x636F6D70
# Rebuild at most this many days per query, so a full rebuild of years stays within memory.
DAYS_PER_BATCH = 31

I32 = np.dtype("<i4")
I64 = np.dtype("<i8")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.get_current_timezone())


@dataclass
class _Acc:
    requests: int = 0
    removed: int = 0
    in_time: int = 0
    reappeared: int = 0
    escalations: int = 0
    renotices: int = 0
    removal: list[int] = field(default_factory=list)
    answer: list[int] = field(default_factory=list)
    unremoved: list[int] = field(default_factory=list)
    open: list[int] = field(default_factory=list)
    removed_times: list[int] = field(default_factory=list)
    reappeared_times: list[int] = field(default_factory=list)


def _rows_for(first: date, last: date) -> list[ComplianceDay]:
    """The roll-up rows for the days first..last (inclusive), computed from the requests."""
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    in_range = TakedownRequest.objects.filter(sent_at__gte=start, sent_at__lt=end)
    renotices = dict(
        Notice.objects.filter(request__in=in_range, kind=NoticeKind.RESEND, status=NoticeStatus.DELIVERED)
        .values_list("request_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    open_statuses = {str(s) for s in OPEN_STATUSES}
    accs: dict[tuple[date, int | None, str], _Acc] = defaultdict(_Acc)
    fields = ("pk", "platform_id", "case__category", "sent_at", "removed_at", "acknowledged_at", "reappeared_at",
              "deadline", "status", "escalation_level")  # fmt: skip
    for pk, platform_id, category, sent, removed, answered, reappeared, deadline, status, escalation in (
        in_range.order_by().values_list(*fields).iterator(chunk_size=5000)
    ):
        acc = accs[(timezone.localtime(sent).date(), platform_id, category or "")]
        acc.requests += 1
        acc.renotices += renotices.get(pk, 0)
        acc.escalations += 1 if escalation else 0
        if removed is not None:
            acc.removed += 1
            acc.removal.append(int((removed - sent).total_seconds()))
            acc.in_time += 1 if deadline is not None and removed <= deadline else 0
            acc.removed_times.append(int(removed.timestamp()))
        elif deadline is not None:
            acc.unremoved.append(int(deadline.timestamp()))
        if answered is not None:
            acc.answer.append(int((answered - sent).total_seconds()))
        if reappeared is not None:
            acc.reappeared += 1
            acc.reappeared_times.append(int(reappeared.timestamp()))
        if status in open_statuses and deadline is not None:
            acc.open.append(int(deadline.timestamp()))
    return [
        ComplianceDay(
            day=day,
            platform_id=platform_id,
            category=category,
            requests=a.requests,
            removed=a.removed,
            in_time=a.in_time,
            reappeared=a.reappeared,
            escalations=a.escalations,
            renotices=a.renotices,
            removal_seconds=np.asarray(a.removal, dtype=I32).tobytes(),
            answer_seconds=np.asarray(a.answer, dtype=I32).tobytes(),
            unremoved_deadlines=np.asarray(a.unremoved, dtype=I64).tobytes(),
            open_deadlines=np.asarray(a.open, dtype=I64).tobytes(),
            removed_times=np.asarray(a.removed_times, dtype=I64).tobytes(),
            reappeared_times=np.asarray(a.reappeared_times, dtype=I64).tobytes(),
        )
        for (day, platform_id, category), a in accs.items()
    ]


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs of at most DAYS_PER_BATCH."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day - runs[-1][1] == timedelta(days=1) and (day - runs[-1][0]).days < DAYS_PER_BATCH:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def rebuild_days(days: Iterable[date]) -> int:
    """Replaces the roll-up of these days. Call inside refresh()'s transaction and lock."""
    count = 0
    for first, last in _runs(days):
        rows = _rows_for(first, last)
        ComplianceDay.objects.filter(day__gte=first, day__lte=last).delete()
        ComplianceDay.objects.bulk_create(rows, batch_size=2000)
        count += (last - first).days + 1
    return count


def _days_of_hours(hours: Iterable[datetime]) -> set[date]:
    # An hour bucket may straddle two local days (time zones at :30 and :45 offsets): take both ends.
    days: set[date] = set()
    for hour in hours:
        days.add(timezone.localtime(hour).date())
        days.add(timezone.localtime(hour + timedelta(minutes=59, seconds=59)).date())
    return days


def _all_days() -> set[date]:
    bounds = TakedownRequest.objects.filter(sent_at__isnull=False).aggregate(first=Min("sent_at"), last=Max("sent_at"))
    if bounds["first"] is None:
        return set()
    first, last = timezone.localtime(bounds["first"]).date(), timezone.localtime(bounds["last"]).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def refresh(*, wait: bool = True) -> int | None:
    """Rebuilds the days whose requests changed since the last refresh. Returns how many days were
    rebuilt, or None when wait=False and another refresh holds the lock (its figures will be the
    same a moment later)."""
    if connection.vendor != "postgresql":
        return rebuild_all()
    with transaction.atomic():
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            else:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return None
            cursor.execute("DELETE FROM takedowns_compliancedirty RETURNING hour")
            hours = [row[0] for row in cursor.fetchall()]
        return rebuild_days(_days_of_hours(hours)) if hours else 0


def refresh_if_dirty() -> None:
    """Before a compliance page reads: cheap when nothing changed (one indexed EXISTS)."""
    if connection.vendor != "postgresql" or ComplianceDirty.objects.exists():
        refresh(wait=False)


def rebuild_all() -> int:
    """The whole roll-up again from the requests (after changing TIME_ZONE, or on SQLite)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
                cursor.execute("DELETE FROM takedowns_compliancedirty")
        ComplianceDay.objects.all().delete()
        return rebuild_days(_all_days())


def pending() -> int:
    """Hours waiting for a refresh (shown to operators; 0 almost always)."""
    return ComplianceDirty.objects.count()


def unpack(chunks: list[bytes], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    return np.frombuffer(b"".join(bytes(c) for c in chunks), dtype=dtype)
