"""Per-platform compliance figures. Every definition is written in docs/compliance.md; the tests
check them exactly on a hand-built data set.

Scope: takedown requests whose notice was first delivered (sent_at) in [since, until), optionally
of one jurisdiction (the platform's), one case category, or one platform. The figures are read from
the daily roll-up (takedowns.rollup), which callers bring up to date first (rollup.refresh_if_dirty);
the drill-down reads the requests themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Aggregate, BinaryField, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cases.selectors import cases_visible_to
from core.crypto import derive_key, master_key
from core.roles import Role
from takedowns import rollup
from takedowns.models import OPEN_STATUSES, ComplianceDay, Notice, NoticeKind, NoticeStatus, Platform, TakedownRequest


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


def _nearest_rank(values: np.ndarray[Any, Any], p: float) -> float | None:
    # The same rule as nearest_rank, by partial sort: O(n), no full sort of a million values.
    if not len(values):
        return None
    k = max(1, math.ceil(p * len(values))) - 1
    return float(np.partition(values, k)[k])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 2) if seconds is not None else None


# Time to removal, in the distribution chart's buckets (upper bounds in hours; the last is open).
DISTRIBUTION_BUCKETS = [1, 6, 24, 72, 168]


# The roll-up's columns that add up, and its packed arrays that are joined (takedowns.rollup).
_COUNTS = ("requests", "removed", "in_time", "reappeared", "escalations", "renotices")
_PACKED = ("removal_seconds", "answer_seconds", "unremoved_deadlines", "open_deadlines", "removed_times", "reappeared_times")


@dataclass
class _Group:
    """The roll-up rows of one platform (or of all) added up: counts summed, packed arrays
    collected as chunks and joined once, when read."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    packed: dict[str, list[bytes]] = field(default_factory=lambda: {name: [] for name in _PACKED})

    def add(self, values: Sequence[Any]) -> None:
        """values: one row's (or one platform's sum of) _COUNTS, then its _PACKED, in that order."""
        for name, value in zip(_COUNTS, values[: len(_COUNTS)], strict=True):
            self.counts[name] += value
        for name, chunk in zip(_PACKED, values[len(_COUNTS) :], strict=True):
            self.packed[name].append(chunk)

    def merge(self, other: _Group) -> None:
        for name in _COUNTS:
            self.counts[name] += other.counts[name]
        for name in _PACKED:
            self.packed[name] += other.packed[name]

    def array(self, name: str, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
        return rollup.unpack(self.packed[name], dtype)

    def figures(self, *, platform_id: int | None, name: str, now: int) -> tuple[Figures, np.ndarray[Any, Any]]:
        c = self.counts
        removal = self.array("removal_seconds", rollup.I32)
        answer = self.array("answer_seconds", rollup.I32)
        late_unremoved = int(np.count_nonzero(self.array("unremoved_deadlines", rollup.I64) < now))
        overdue = int(np.count_nonzero(self.array("open_deadlines", rollup.I64) < now))
        decided = c["removed"] + late_unremoved
        return Figures(
            platform_id=platform_id,
            platform=name,
            requests=c["requests"],
            removed=c["removed"],
            removal_rate=_rate(c["removed"], c["requests"]),
            median_hours_to_removal=_hours(_nearest_rank(removal, 0.5)),
            p90_hours_to_removal=_hours(_nearest_rank(removal, 0.9)),
            within_sla_rate=_rate(c["in_time"], decided),
            overdue=overdue,
            median_hours_to_first_answer=_hours(_nearest_rank(answer, 0.5)),
            reappeared=c["reappeared"],
            reappearance_rate=_rate(c["reappeared"], c["removed"]),
            renotices=c["renotices"],
            escalations=c["escalations"],
        ), removal


@dataclass
class Summary:
    """Everything the dashboard shows for one set of filters, from one read of the roll-up."""

    rows: list[Figures]
    overall: Figures
    removals_by_week: list[tuple[date, int]]
    reappearances_by_week: list[tuple[date, int]]
    # Per platform (in rows' order): requests removed within each DISTRIBUTION_BUCKETS bound, and after.
    distribution: list[tuple[str, list[int]]]


def _badness(row: Figures) -> tuple[float, float, int, str]:
    """Worst first: lowest removal rate, then lowest share in time, then most overdue."""
    return (row.removal_rate if row.removal_rate is not None else 1.0, row.within_sla_rate or 0.0, -row.overdue, row.platform)


def _rollup_rows(filters: Filters) -> QuerySet[ComplianceDay]:
    qs = ComplianceDay.objects.all()
    if filters.since:
        qs = qs.filter(day__gte=filters.since)
    if filters.until:
        qs = qs.filter(day__lt=filters.until)
    if filters.jurisdiction:
        qs = qs.filter(platform__jurisdiction=filters.jurisdiction)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.platform_id:
        qs = qs.filter(platform_id=filters.platform_id)
    return qs


class _BytesAgg(Aggregate):
    """PostgreSQL: the packed arrays of many roll-up rows joined into one (string_agg on bytea)."""

    function = "string_agg"
    template = "%(function)s(%(expressions)s, ''::bytea)"
    output_field = BinaryField()


def _groups_in_sql(filters: Filters) -> dict[int | None, _Group]:
    # One row per platform, added up by PostgreSQL: 30 rows to Python instead of 65,000.
    rows = (
        _rollup_rows(filters).order_by().values("platform_id")
        .annotate(**{f"s_{f}": Sum(f) for f in _COUNTS}, **{f"b_{f}": _BytesAgg(f) for f in _PACKED})
        .values_list("platform_id", *(f"s_{f}" for f in _COUNTS), *(f"b_{f}" for f in _PACKED))
    )  # fmt: skip
    groups: dict[int | None, _Group] = {}
    for row in rows:
        group = groups[row[0]] = _Group()
        group.add(row[1:])
    return groups


def _groups_in_python(filters: Filters) -> dict[int | None, _Group]:
    """The same sums row by row: SQLite (the demo), and the reference the tests compare with."""
    groups: dict[int | None, _Group] = defaultdict(_Group)
    for row in _rollup_rows(filters).order_by().values_list("platform_id", *_COUNTS, *_PACKED):
        groups[row[0]].add(row[1:])
    return groups


def _by_week(epochs: np.ndarray[Any, Any]) -> list[tuple[date, int]]:
    """Counts per week (Monday, in the centre's time zone; weeks with none left out). Week starts
    are computed as local midnights, so a daylight-saving change never shifts a count."""
    if not len(epochs):
        return []
    zone = timezone.get_current_timezone()
    first = datetime.fromtimestamp(int(epochs.min()), zone).date()
    last = datetime.fromtimestamp(int(epochs.max()), zone).date()
    monday = first - timedelta(days=first.weekday())
    mondays = [monday + timedelta(weeks=n) for n in range((last - monday).days // 7 + 1)]
    starts = np.asarray([int(datetime.combine(m, time.min, zone).timestamp()) for m in mondays], dtype=np.int64)
    counts = np.bincount(np.searchsorted(starts, epochs, side="right") - 1, minlength=len(mondays))
    return [(m, int(n)) for m, n in zip(mondays, counts, strict=True) if n]


def summary(filters: Filters, *, weeks: bool = True, in_sql: bool | None = None) -> Summary:
    """The figures per platform (worst first), overall, the weekly series and the distribution of
    time to removal, from the daily roll-up (takedowns.rollup): exact, and fast at any size."""
    if in_sql is None:
        in_sql = connection.vendor == "postgresql"
    groups = _groups_in_sql(filters) if in_sql else _groups_in_python(filters)
    overall = _Group()
    for group in groups.values():
        overall.merge(group)
    names = dict(Platform.objects.filter(pk__in=[pk for pk in groups if pk]).values_list("pk", "name"))
    now = int(timezone.now().timestamp())
    rows: list[tuple[Figures, np.ndarray[Any, Any]]] = [
        group.figures(platform_id=pk, name=names.get(pk, "-"), now=now) for pk, group in groups.items() if pk is not None
    ]
    rows.sort(key=lambda item: _badness(item[0]))
    bounds = np.asarray(DISTRIBUTION_BUCKETS, dtype=np.int64) * 3600
    distribution = [
        (figures.platform, np.bincount(np.searchsorted(bounds, removal, side="left"), minlength=len(bounds) + 1).tolist())
        for figures, removal in rows
    ]
    return Summary(
        rows=[figures for figures, _removal in rows],
        overall=overall.figures(platform_id=None, name="All platforms", now=now)[0],
        removals_by_week=_by_week(overall.array("removed_times", rollup.I64)) if weeks else [],
        reappearances_by_week=_by_week(overall.array("reappeared_times", rollup.I64)) if weeks else [],
        distribution=distribution,
    )


def platform_figures(filters: Filters) -> list[Figures]:
    """One row per platform with requests in scope, the worst performers first."""
    return summary(filters, weeks=False).rows


def overall_figures(filters: Filters) -> Figures:
    return summary(filters, weeks=False).overall


def figures_for_platform(filters: Filters, platform: Platform) -> Figures:
    rows = summary(Filters(**{**filters.__dict__, "platform_id": platform.pk}), weeks=False).rows
    if rows:
        return rows[0]
    return _Group().figures(platform_id=platform.pk, name=platform.name, now=int(timezone.now().timestamp()))[0]


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


DRILLDOWN = {
    "requests": Q(),
    "removed": Q(removed_at__isnull=False),
    "overdue": Q(status__in=OPEN_STATUSES),  # and deadline < now, added below
    # The complement of within_sla_rate's numerator among decided requests: removed after the
    # deadline, or not removed and the deadline has passed (added below).
    "late": Q(removed_at__isnull=False, removed_at__gt=F("deadline")) | Q(removed_at__isnull=True),
    "answered": Q(acknowledged_at__isnull=False),
    "reappeared": Q(reappeared_at__isnull=False),
    "renotices": Q(Exists(Notice.objects.filter(request=OuterRef("pk"), kind=NoticeKind.RESEND, status=NoticeStatus.DELIVERED))),
    "escalations": Q(escalation_level__gt=0),
    # A page that answered one of our looks "gone" and showed the material to the second look
    # (docs/takedowns.md, "Removal confirmation"): a platform that may be hiding material from the centre.
    "cloaked": Q(cloak_suspected_at__isnull=False),
}

# The drill-down's heading for each figure.
DRILLDOWN_LABELS = {
    "requests": gettext_lazy("All requests"),
    "removed": gettext_lazy("Removed"),
    "overdue": gettext_lazy("Overdue now"),
    "late": gettext_lazy("Not removed within the deadline"),
    "answered": gettext_lazy("Answered by the platform"),
    "reappeared": gettext_lazy("Reappeared"),
    "renotices": gettext_lazy("Sent repeat notices"),
    "escalations": gettext_lazy("Escalated to a regulator"),
    "cloaked": gettext_lazy("Suspected cloaking: looked gone to one check, not to the second"),
}


def drilldown(filters: Filters, figure: str) -> QuerySet[TakedownRequest]:
    """The requests behind a figure, nationally. Carries no case or victim fields. Pages and
    exports read it through drilldown_for(), which scopes it to the person."""
    qs = scoped(filters).filter(DRILLDOWN.get(figure, Q()))
    if figure == "overdue":
        qs = qs.filter(deadline__lt=timezone.now())
    if figure == "late":
        qs = qs.filter(Q(removed_at__isnull=False) | Q(deadline__lt=timezone.now()))
    return qs.select_related("platform").only(
        "pk", "url", "url_key", "case_id", "status", "sent_at", "deadline", "acknowledged_at", "removed_at", "reappeared_at",
        "escalation_level", "platform__name",
    ).order_by("sent_at", "pk")  # fmt: skip


# Who sees which rows and addresses (docs/compliance.md, "Who sees what") ------------------------
#
# The figures (counts, rates, hours per platform) are national for every compliance role: they
# hold no address and no case. A row naming one request is case data: a supervisor sees the rows
# of their own centre's cases, with the address; analysts and administrators see every row, but
# only the address's host and a keyed hash of it (url_pseudonym), never the address itself, since
# they may not open any case (cases.selectors.cases_visible_to gives them none).


def _pseudonym_key() -> bytes:
    # Its own HKDF purpose, as core.crypto does for field encryption: the hash key is never the
    # encryption key, and without the master key nobody can test a guessed address against it.
    return derive_key(master_key(), b"victimsupport compliance url pseudonym v1")


def url_pseudonym(url_key: str) -> str:
    """A keyed hash (HMAC-SHA256, first 16 hex digits) of an address's duplicate key
    (takedowns.urlnorm.url_key), so the same page pasted two ways gets the same value: an analyst
    can tell that two rows are one page, and that is all."""
    return hmac.new(_pseudonym_key(), url_key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def sees_addresses_of_own_centre(user: Any) -> bool:
    """Supervisors: the only compliance role that may open cases (those of their centre)."""
    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "role", None) == Role.SUPERVISOR


def drilldown_for(user: Any, filters: Filters, figure: str) -> QuerySet[TakedownRequest]:
    """The drill-down as this person may see it: a supervisor, the requests of the cases they may
    see (their centre's); analysts and administrators, every request (shown without its address)."""
    qs = drilldown(filters, figure)
    if sees_addresses_of_own_centre(user):
        return qs.filter(case__in=cases_visible_to(user).values("pk"))
    return qs


@dataclass(frozen=True)
class Address:
    """A request's address as one person sees it: `url` is "" unless they may open its case."""

    url: str
    host: str
    pseudonym: str


def address_for(request: TakedownRequest, *, visible: bool) -> Address:
    from takedowns.selectors import host_of

    return Address(
        url=request.url if visible else "",
        host=host_of(request.url),
        pseudonym=url_pseudonym(request.url_key or request.url),
    )


def visible_case_ids(user: Any, case_ids: set[int]) -> set[int]:
    """Of these cases, the ones this person may open (one query)."""
    if not case_ids or not sees_addresses_of_own_centre(user):
        return set()
    return set(cases_visible_to(user).filter(pk__in=case_ids).values_list("pk", flat=True))


SUPPRESS_BELOW = 10


def transparency(months: int = 12) -> list[dict[str, Any]]:
    """Aggregate figures per platform and month for the public page. Counts under 10 are shown as
    "<10" so that no single victim can be singled out. Read from the daily roll-up."""
    today = timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    rows: dict[tuple[str, date], dict[str, int]] = {}
    for name, day, requests, removed in (
        ComplianceDay.objects.filter(day__gte=start).order_by().values_list("platform__name", "day", "requests", "removed")
    ):
        row = rows.setdefault((name or "-", day.replace(day=1)), {"requests": 0, "removed": 0})
        row["requests"] += requests
        row["removed"] += removed
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
