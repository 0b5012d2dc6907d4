"""Reads on takedowns, scoped through the cases the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db.models import F, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.http import urlencode

from cases.selectors import cases_visible_to
from core.errors import NotFound
from takedowns.models import OPEN_STATUSES, Notice, NoticeStatus, Platform, RequestStatus, TakedownRequest

# "Due soon" everywhere (the lists' filter and the "My work" counts): within this of now.
DUE_SOON = timedelta(hours=24)


def requests_visible_to(user: Any) -> QuerySet[TakedownRequest]:
    return TakedownRequest.objects.filter(case__in=cases_visible_to(user)).select_related("case", "platform")


# Lists of requests: filters and sorting from the query string (shareable links) -----------------

# Each sort: its column (nulls last either way), then tie-breakers, so paging never skips a row.
SORTS: dict[str, tuple[str, ...]] = {
    "created": ("created_at", "id"),
    "deadline": ("deadline", "id"),
    "status": ("status", "-created_at", "id"),
    "platform": ("platform__name", "-created_at", "id"),
}
DEADLINES = ("overdue", "soon", "none")


@dataclass(frozen=True)
class RequestFilters:
    """What a request list shows, read from its query string; every field is a plain value so
    the same filters make the link, the count, the bulk action and the CSV export."""

    status: str = ""
    platform: str = ""  # a platform id, or "none" for requests whose host matched no platform
    deadline: str = ""  # overdue | soon | none
    case: str = ""  # a case id (the global list only)
    sort: str = "-created"

    @classmethod
    def from_query(cls, query: QueryDict | dict[str, str], *, prefix: str = "") -> RequestFilters:
        def get(name: str) -> str:
            return str(query.get(prefix + name, "") or "").strip()

        status = get("status") if get("status") in RequestStatus.values else ""
        platform = get("platform") if get("platform").isdigit() or get("platform") == "none" else ""
        if not platform and get("unknown") == "1":  # the older "unknown platform" link
            platform = "none"
        deadline = get("deadline") if get("deadline") in DEADLINES else ""
        if not deadline and get("overdue") == "1":  # the older "overdue only" link
            deadline = "overdue"
        sort = get("sort") if get("sort").lstrip("-") in SORTS else "-created"
        return cls(
            status=status, platform=platform, deadline=deadline, case=get("case") if get("case").isdigit() else "", sort=sort
        )

    def condition(self, *, now: Any = None) -> Q:
        """The filters as one condition: for a list (apply) and for a count inside an aggregate
        (the "My work" page counts several lists in one query, each by exactly its list's rule)."""
        now = now or timezone.now()
        q = Q()
        if self.status:
            q &= Q(status=self.status)
        if self.platform == "none":
            q &= Q(platform__isnull=True)
        elif self.platform:
            q &= Q(platform_id=int(self.platform))
        if self.deadline == "overdue":
            q &= Q(status__in=OPEN_STATUSES, deadline__lt=now)
        elif self.deadline == "soon":
            q &= Q(status__in=OPEN_STATUSES, deadline__gte=now, deadline__lt=now + DUE_SOON)
        elif self.deadline == "none":
            q &= Q(deadline__isnull=True)
        if self.case:
            q &= Q(case_id=int(self.case))
        return q

    def apply(self, qs: QuerySet[TakedownRequest], *, now: Any = None) -> QuerySet[TakedownRequest]:
        return qs.filter(self.condition(now=now)).order_by(*self.ordering())

    def ordering(self) -> list[Any]:
        first, *rest = SORTS[self.sort.lstrip("-")]
        if not self.sort.startswith("-"):
            return [F(first).asc(nulls_last=True), *rest]
        flipped = [f[1:] if f.startswith("-") else f"-{f}" for f in rest if f != "-created_at"]
        return [F(first).desc(nulls_last=True), *[f for f in rest if f == "-created_at"], *flipped]

    @property
    def active(self) -> bool:
        return bool(self.status or self.platform or self.deadline or self.case)

    def query(self, *, prefix: str = "", **changes: str) -> str:
        """The query string for these filters (with changes), without empty values or a page."""
        values = {**self.__dict__, **changes}
        if values.get("sort") == "-created":
            values.pop("sort")
        return urlencode({prefix + k: v for k, v in values.items() if v})


def requests_listed(*, user: Any, filters: RequestFilters) -> QuerySet[TakedownRequest]:
    """A request list as a person sees it: scoped by their centre and role, filtered and sorted,
    with everything a row shows joined in (no query per row)."""
    return filters.apply(requests_visible_to(user).select_related("case", "platform", "duplicate_of__case"))


# For the "My work" page: one count each, scoped like every list; each links to the list above
# with the same filter (RequestFilters.query), so the count and the list always agree. -------------


def requests_overdue(*, user: Any, now: Any = None) -> QuerySet[TakedownRequest]:
    """Open requests past their deadline. List: /takedowns/?deadline=overdue"""
    return RequestFilters(deadline="overdue").apply(requests_visible_to(user), now=now)


def requests_due_soon(*, user: Any, now: Any = None) -> QuerySet[TakedownRequest]:
    """Open requests due within DUE_SOON (24 h). List: /takedowns/?deadline=soon"""
    return RequestFilters(deadline="soon").apply(requests_visible_to(user), now=now)


def requests_reappeared(*, user: Any) -> QuerySet[TakedownRequest]:
    """Material back online after its removal. List: /takedowns/?status=reappeared"""
    return RequestFilters(status=RequestStatus.REAPPEARED).apply(requests_visible_to(user))


def requests_failed(*, user: Any) -> QuerySet[TakedownRequest]:
    """Requests whose notice could not be delivered. List: /takedowns/?status=failed"""
    return RequestFilters(status=RequestStatus.FAILED).apply(requests_visible_to(user))


def duplicate_labels(requests: list[TakedownRequest], *, user: Any) -> dict[int, dict[str, Any]]:
    """How a person sees the requests these duplicates follow, by duplicate id: the leader's id and
    case reference, with a link, when they may open that case; otherwise only that it is "another
    case" (no reference, no id, no link they could not open). One query for the whole page."""
    leaders = {r.pk: r.duplicate_of for r in requests if r.duplicate_of_id and r.duplicate_of is not None}
    if not leaders:
        return {}
    case_ids = {leader.case_id for leader in leaders.values()}
    mine = set(cases_visible_to(user).filter(pk__in=case_ids).values_list("pk", flat=True))
    labels: dict[int, dict[str, Any]] = {}
    for pk, leader in leaders.items():
        if leader.case_id in mine:
            labels[pk] = {"id": leader.pk, "reference": leader.case.reference, "visible": True}
        else:
            labels[pk] = {"visible": False}
    return labels


def manual_notices_visible_to(user: Any) -> QuerySet[Notice]:
    """Notices waiting for a person to submit a platform's web form (the manual queue), of the
    requests the user may see."""
    return Notice.objects.filter(status=NoticeStatus.MANUAL, request__in=requests_visible_to(user).values("pk")).select_related(
        "request__platform", "request__case"
    )


def request_get(*, user: Any, pk: Any) -> TakedownRequest:
    try:
        return requests_visible_to(user).get(pk=int(pk))
    except (TakedownRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Takedown request not found.") from exc


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host


class PlatformMatcher:
    """Longest matching domain wins: a URL belongs to the platform whose domain equals its host
    or is a parent domain of it. Built once per bulk operation."""

    def __init__(self, platforms: list[Platform] | None = None) -> None:
        self.by_domain: dict[str, Platform] = {}
        for platform in platforms if platforms is not None else Platform.objects.all():
            for domain in platform.domains or []:
                self.by_domain[str(domain).lower().strip().rstrip(".")] = platform

    def match(self, host: str) -> Platform | None:
        host = host.lower().rstrip(".")
        if host in self.by_domain:
            return self.by_domain[host]
        # IP addresses match only exactly; names also through their parent domains.
        if host.replace(".", "").isdigit() or ":" in host:
            return None
        parts = host.split(".")
        for i in range(1, len(parts) - 0):
            candidate = ".".join(parts[i:])
            if candidate in self.by_domain:
                return self.by_domain[candidate]
        return None


def platform_for_url(url: str) -> Platform | None:
    return PlatformMatcher().match(host_of(url))
