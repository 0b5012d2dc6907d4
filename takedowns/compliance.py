"""Per-platform compliance figures. Every definition is written in docs/compliance.md; the tests
check them exactly on a hand-built data set.

Scope: takedown requests whose notice was first delivered (sent_at) in [since, until), optionally
of one jurisdiction (the platform's), one case category, or one platform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from takedowns.models import OPEN_STATUSES, Notice, NoticeKind, NoticeStatus, TakedownRequest


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None  # exclusive
    jurisdiction: str | None = None
    category: str | None = None
    platform_id: int | None = None


@dataclass(frozen=True)
class Figures:
    platform_id: int | None
    platform: str
    requests: int
    removed: int
    removal_rate: float | None
    median_hours_to_removal: float | None
    p90_hours_to_removal: float | None
    within_sla_rate: float | None
    overdue: int
    median_hours_to_first_answer: float | None
    reappeared: int
    reappearance_rate: float | None
    renotices: int
    escalations: int


def scoped(filters: Filters) -> QuerySet[TakedownRequest]:
    qs = TakedownRequest.objects.filter(sent_at__isnull=False)
    zone = timezone.get_current_timezone()
    if filters.since:
        qs = qs.filter(sent_at__gte=datetime.combine(filters.since, time.min, zone))
    if filters.until:
        qs = qs.filter(sent_at__lt=datetime.combine(filters.until, time.min, zone))
    if filters.jurisdiction:
        qs = qs.filter(platform__jurisdiction=filters.jurisdiction)
    if filters.category:
        qs = qs.filter(case__category=filters.category)
    if filters.platform_id:
        qs = qs.filter(platform_id=filters.platform_id)
    return qs


def nearest_rank(values: list[float], p: float) -> float | None:
    """The smallest value with at least p of the values at or below it (PostgreSQL's percentile_disc)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def _hours_between(pairs: Any) -> list[float]:
    return [(end - start).total_seconds() / 3600 for start, end in pairs if start is not None and end is not None]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class _PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile over a number of hours."""

    function = "percentile_disc"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, percentile: float, **extra: Any) -> None:
        super().__init__(expression, percentile=percentile, **extra)


def _hours(end: str, start: str) -> Func:
    return Func(F(end) - F(start), template="EXTRACT(EPOCH FROM (%(expressions)s)) / 3600.0", output_field=FloatField())


def _annotations(now: Any, *, in_sql: bool) -> dict[str, Any]:
    removed = Q(removed_at__isnull=False)
    fields: dict[str, Any] = {
        "requests": Count("id"),
        "removed": Count("id", filter=removed),
        "decided": Count("id", filter=removed | Q(deadline__lt=now)),
        "in_time": Count("id", filter=Q(removed_at__isnull=False, removed_at__lte=F("deadline"))),
        "overdue": Count("id", filter=Q(status__in=OPEN_STATUSES, deadline__lt=now)),
        "reappeared": Count("id", filter=Q(reappeared_at__isnull=False)),
        "escalations": Count("id", filter=Q(escalation_level__gt=0)),
    }
    if in_sql:
        fields |= {
            "median": _PercentileDisc(_hours("removed_at", "sent_at"), 0.5, filter=removed),
            "p90": _PercentileDisc(_hours("removed_at", "sent_at"), 0.9, filter=removed),
            "first_answer": _PercentileDisc(_hours("acknowledged_at", "sent_at"), 0.5, filter=Q(acknowledged_at__isnull=False)),
        }
    return fields


def _in_sql() -> bool:
    return connection.vendor == "postgresql"


def _percentiles_in_python(qs: QuerySet[TakedownRequest]) -> dict[str, float | None]:
    # SQLite (the demo) has no percentile_disc: the same nearest-rank rule, in Python.
    removal = _hours_between(qs.filter(removed_at__isnull=False).values_list("sent_at", "removed_at"))
    answer = _hours_between(qs.filter(acknowledged_at__isnull=False).values_list("sent_at", "acknowledged_at"))
    return {"median": nearest_rank(removal, 0.5), "p90": nearest_rank(removal, 0.9), "first_answer": nearest_rank(answer, 0.5)}


def _figures(values: dict[str, Any], *, platform_id: int | None, name: str, renotices: int) -> Figures:
    def hours(key: str) -> float | None:
        value = values.get(key)
        return round(float(value), 2) if value is not None else None

    return Figures(
        platform_id=platform_id,
        platform=name,
        requests=values["requests"],
        removed=values["removed"],
        removal_rate=_rate(values["removed"], values["requests"]),
        median_hours_to_removal=hours("median"),
        p90_hours_to_removal=hours("p90"),
        within_sla_rate=_rate(values["in_time"], values["decided"]),
        overdue=values["overdue"],
        median_hours_to_first_answer=hours("first_answer"),
        reappeared=values["reappeared"],
        reappearance_rate=_rate(values["reappeared"], values["removed"]),
        renotices=renotices,
        escalations=values["escalations"],
    )


def _renotices(qs: QuerySet[TakedownRequest]) -> dict[int | None, int]:
    rows = (
        Notice.objects.filter(request__in=qs, kind=NoticeKind.RESEND, status=NoticeStatus.DELIVERED)
        .values_list("request__platform_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def figures_for(qs: QuerySet[TakedownRequest], *, platform_id: int | None, name: str) -> Figures:
    values = qs.order_by().aggregate(**_annotations(timezone.now(), in_sql=_in_sql()))
    if not _in_sql():
        values |= _percentiles_in_python(qs)
    renotices = Notice.objects.filter(request__in=qs, kind=NoticeKind.RESEND, status=NoticeStatus.DELIVERED).count()
    return _figures(values, platform_id=platform_id, name=name, renotices=renotices)


def platform_figures(filters: Filters) -> list[Figures]:
    """One row per platform with requests in scope, the worst performers first: one grouped query."""
    base = scoped(filters).exclude(platform__isnull=True)
    grouped = base.order_by().values("platform_id", "platform__name").annotate(**_annotations(timezone.now(), in_sql=_in_sql()))
    renotices = _renotices(base)
    rows = []
    for row in grouped:
        values: dict[str, Any] = dict(row)
        if not _in_sql():
            values |= _percentiles_in_python(base.filter(platform_id=values["platform_id"]))
        rows.append(
            _figures(values, platform_id=values["platform_id"], name=values["platform__name"],
                     renotices=renotices.get(values["platform_id"], 0))
        )  # fmt: skip

    def badness(row: Figures) -> tuple[float, float, int, str]:
        return (row.removal_rate if row.removal_rate is not None else 1.0, row.within_sla_rate or 0.0, -row.overdue, row.platform)

    return sorted(rows, key=badness)


def overall_figures(filters: Filters) -> Figures:
    return figures_for(scoped(filters), platform_id=None, name="All platforms")


def as_api(row: Figures) -> dict[str, Any]:
    return {
        "platform": row.platform,
        "platform_id": row.platform_id,
        "requests": row.requests,
        "removed": row.removed,
        "removal_rate": row.removal_rate,
        "median_hours_to_removal": row.median_hours_to_removal,
        "p90_hours_to_removal": row.p90_hours_to_removal,
        "within_sla_rate": row.within_sla_rate,
        "overdue": row.overdue,
        "reappeared": row.reappeared,
        "median_hours_to_first_answer": row.median_hours_to_first_answer,
        "reappearance_rate": row.reappearance_rate,
        "renotices": row.renotices,
        "escalations": row.escalations,
    }


def _by_week(qs: QuerySet[TakedownRequest], field: str) -> list[tuple[date, int]]:
    # Grouped in SQL (the Monday of each week in the centre's time zone): 53 rows, not a million.
    rows = (
        qs.filter(**{f"{field}__isnull": False})
        .order_by()
        .annotate(week=TruncWeek(field, tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    return [(row["week"].date() if isinstance(row["week"], datetime) else row["week"], row["n"]) for row in rows]


def removals_by_week(filters: Filters) -> list[tuple[date, int]]:
    """Requests found removed per week (Monday of the week, in the centre's time zone)."""
    return _by_week(scoped(filters), "removed_at")


def reappearances_by_week(filters: Filters) -> list[tuple[date, int]]:
    """Requests whose material came back, per week it was found again."""
    return _by_week(scoped(filters), "reappeared_at")


DRILLDOWN = {
    "requests": Q(),
    "removed": Q(removed_at__isnull=False),
    "overdue": Q(status__in=OPEN_STATUSES),  # and deadline < now, added below
    "reappeared": Q(reappeared_at__isnull=False),
    "escalations": Q(escalation_level__gt=0),
}


def drilldown(filters: Filters, figure: str) -> QuerySet[TakedownRequest]:
    """The requests behind a figure. Carries no case or victim fields."""
    qs = scoped(filters).filter(DRILLDOWN.get(figure, Q()))
    if figure == "overdue":
        qs = qs.filter(deadline__lt=timezone.now())
    return qs.select_related("platform").only(
        "pk", "url", "status", "sent_at", "deadline", "acknowledged_at", "removed_at", "reappeared_at", "escalation_level",
        "platform__name",
    ).order_by("sent_at", "pk")  # fmt: skip


SUPPRESS_BELOW = 10


def transparency(months: int = 12) -> list[dict[str, Any]]:
    """Aggregate figures per platform and month for the public page. Counts under 10 are shown as
    "<10" so that no single victim can be singled out."""
    today = timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    rows: dict[tuple[str, date], dict[str, int]] = {}
    for name, sent_at, removed_at in scoped(Filters(since=start)).values_list("platform__name", "sent_at", "removed_at"):
        month = timezone.localtime(sent_at).date().replace(day=1)
        row = rows.setdefault((name or "-", month), {"requests": 0, "removed": 0})
        row["requests"] += 1
        row["removed"] += 1 if removed_at else 0
    out = []
    for (name, month), row in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0])):
        out.append(
            {
                "platform": name,
                "month": month.strftime("%Y-%m"),
                "requests": suppress(row["requests"]),
                "removed": suppress(row["removed"]),
                "removal_rate": f"{row['removed'] / row['requests']:.0%}" if row["requests"] >= SUPPRESS_BELOW else "-",
            }
        )
    return out


def suppress(count: int) -> str:
    return "<10" if 0 < count < SUPPRESS_BELOW else str(count)


def workload(centre_id: int) -> list[dict[str, Any]]:
    """Open cases and open takedown requests per caseworker of a centre, and the item nobody has
    touched for longest, so a supervisor can see where work piles up."""
    from cases.models import Case
    from core.models import User

    open_cases = Case.objects.filter(centre_id=centre_id).exclude(status="closed")
    rows = []
    people = User.objects.filter(
        centre_id=centre_id, role__in=["caseworker", "supervisor"], is_active=True, is_service_account=False
    )
    for person in people.order_by("username"):
        mine = open_cases.filter(assigned_to=person)
        oldest = mine.order_by("updated_at").values_list("reference", "updated_at").first()
        rows.append(
            {
                "user": person.username,
                "open_cases": mine.count(),
                "open_requests": TakedownRequest.objects.filter(case__in=mine, status__in=[*OPEN_STATUSES, "draft"]).count(),
                "oldest_reference": oldest[0] if oldest else "",
                "oldest_untouched": oldest[1] if oldest else None,
            }
        )
    unassigned = open_cases.filter(assigned_to__isnull=True)
    oldest = unassigned.order_by("created_at").values_list("reference", "created_at").first()
    rows.append(
        {
            "user": "",
            "open_cases": unassigned.count(),
            "open_requests": TakedownRequest.objects.filter(case__in=unassigned, status__in=[*OPEN_STATUSES, "draft"]).count(),
            "oldest_reference": oldest[0] if oldest else "",
            "oldest_untouched": oldest[1] if oldest else None,
        }
    )
    return sorted(rows, key=lambda r: (r["oldest_untouched"] is None, r["oldest_untouched"] or timezone.now()))
