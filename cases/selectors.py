"""Reads on cases, always scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from cases.models import Case, ConsentKind, ConsentRecord
from core.errors import NotFound
from core.roles import Role


def cases_visible_to(user: Any) -> QuerySet[Case]:
    """Caseworkers: cases they opened or are assigned, in their centre. Supervisors: their centre.

    Everyone else (analysts, admins, auditors, partners) sees no case: they work with figures,
    accounts and the audit log, never with victims.
    """
    qs = Case.objects.select_related("victim", "assigned_to", "centre", "created_by")
    if not getattr(user, "is_authenticated", False) or not user.is_active or user.centre_id is None:
        return qs.none()
    if user.role == Role.SUPERVISOR:
        return qs.filter(centre_id=user.centre_id)
    if user.role == Role.CASEWORKER:
        return qs.filter(centre_id=user.centre_id).filter(Q(assigned_to=user) | Q(created_by=user))
    return qs.none()


def case_get(*, user: Any, pk: Any) -> Case:
    """The same NotFound for a case that does not exist and one the user may not see."""
    try:
        return cases_visible_to(user).get(pk=int(pk))
    except (Case.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Case not found.") from exc


def case_get_by_reference(*, user: Any, reference: str) -> Case:
    try:
        return cases_visible_to(user).get(reference=reference)
    except Case.DoesNotExist as exc:
        raise NotFound("Case not found.") from exc


def consent_state(case: Case) -> dict[str, ConsentRecord | None]:
    """The consent in force for each kind: the newest record, or None when never asked.
    Newest by id: a reporter's withdrawal carries only its day's start (cases/intake.py)."""
    state: dict[str, ConsentRecord | None] = dict.fromkeys(ConsentKind.values)
    for record in ConsentRecord.objects.filter(case=case).select_related("recorded_by").order_by("-id"):
        if state.get(record.kind) is None:
            state[record.kind] = record
    return state


def has_consent(case: Case, kind: str) -> bool:
    record = ConsentRecord.objects.filter(case=case, kind=kind).order_by("-id").first()
    return bool(record and record.granted)


def case_search(
    *,
    user: Any,
    q: str = "",
    status: str = "",
    category: str = "",
    priority: str = "",
    assignee: str = "",
) -> QuerySet[Case]:
    qs = cases_visible_to(user)
    if q:
        # Summaries and names are encrypted, so search covers references and pseudonyms.
        qs = qs.filter(Q(reference__icontains=q) | Q(victim__pseudonym__icontains=q))
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if priority:
        qs = qs.filter(priority=priority)
    if assignee == "none":
        qs = qs.filter(assigned_to__isnull=True)
    elif assignee == "me":
        qs = qs.filter(assigned_to=user)
    elif assignee.isdigit():
        qs = qs.filter(assigned_to_id=int(assignee))
    return qs.order_by("-created_at", "-id")


def assignable_staff(user: Any) -> QuerySet[Any]:
    from core.models import User

    return User.objects.filter(
        centre_id=user.centre_id, role__in=[Role.CASEWORKER, Role.SUPERVISOR], is_active=True, is_service_account=False
    ).order_by("username")


# Public reports (docs/intake.md, "Routing") ------------------------------------------------------


def triage_centre() -> Any:
    """The centre that sees reports nobody routed yet: settings.INTAKE_TRIAGE_CENTRE (a centre
    code), or the central centre when that is empty or names no centre."""
    from django.conf import settings

    from core.models import Centre

    code = getattr(settings, "INTAKE_TRIAGE_CENTRE", "") or ""
    centre = Centre.objects.filter(code__iexact=code).first() if code else None
    # A read never creates the central centre (core.services.central_centre would): none yet, none here.
    return centre or Centre.objects.filter(is_central=True).first()


def triage_centre_setting_problem() -> str:
    """The code in settings.INTAKE_TRIAGE_CENTRE when no centre has it ("" when the setting is
    empty or right). triage_centre() then falls back to the central centre; the system check
    (cases/checks.py) and the triage page say so, so a typo does not go unnoticed."""
    from django.conf import settings

    from core.models import Centre

    code = str(getattr(settings, "INTAKE_TRIAGE_CENTRE", "") or "")
    if not code or Centre.objects.filter(code__iexact=code).exists():
        return ""
    return code


def intake_reports_visible_to(user: Any) -> QuerySet[Any]:
    """The public reports a person may see, newest first.

    Before a case exists: a report routed to a centre is its staff's; an unrouted one is the
    triage centre's. Once a case exists the case's own rules decide (its centre, and for a
    caseworker only cases they opened or are assigned), exactly as for the case itself.
    Only caseworkers and supervisors see reports at all.
    """
    from cases.models import IntakeReport

    qs = IntakeReport.objects.select_related("centre", "case").order_by("-received_on", "-id")
    if (
        not getattr(user, "is_authenticated", False)
        or not user.is_active
        or user.centre_id is None
        or user.role not in (Role.CASEWORKER, Role.SUPERVISOR)
    ):
        return qs.none()
    before_case = Q(centre_id=user.centre_id)
    triage = triage_centre()
    if triage is not None and triage.pk == user.centre_id:
        before_case |= Q(centre__isnull=True)
    return qs.filter((Q(case__isnull=True) & before_case) | Q(case__in=cases_visible_to(user).values("pk")))


def intake_reports_page(*, user: Any, before: int | None = None, limit: int = 100) -> tuple[list[Any], bool]:
    """One page of the reports this person may see, newest first, and whether more remain.

    A keyset cursor, not an offset: ``before`` is the id of the last report of the previous
    page, and this page holds the ones older than it. Ordered by id alone: a report's id grows
    with each arrival and its received_on is the day it arrived, so this is the same newest-first
    order, and the cursor stays exact when reports arrive, are routed away or are deleted
    between two pages (no report is shown twice, none is skipped).
    """
    qs = intake_reports_visible_to(user).order_by("-id")
    if before is not None:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.prefetch_related("urls")[: limit + 1])
    return rows[:limit], len(rows) > limit


def intake_report_get(*, user: Any, pk: Any) -> Any:
    """The same NotFound for a report that does not exist and one the user may not see."""
    from cases.models import IntakeReport

    try:
        return intake_reports_visible_to(user).get(pk=int(pk))
    except (IntakeReport.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Report not found.") from exc


def _unread_messages(user: Any) -> QuerySet[Any]:
    """The reporters' messages on the reports this person may see that are unread for them.

    Read marks are per person (cases.models.IntakeReadMark), so without more a new member of
    staff would find every message ever written to their centre unread. The rule:

    - a message this person has read (their mark reaches it) is read;
    - a message sent before the day their account was created (User.date_joined; sent_on is
      only a day) is read for them as soon as anyone on staff has read it: the centre has
      seen it, and it is history the newcomer was not there for, not news;
    - a message nobody has ever read stays unread for everyone, newcomers included, however
      old: it is still owed an answer, and a centre whose staff all changed must still find it;
    - a message from the day they joined or later counts as for everyone (on the day itself
      we cannot tell before from after, so it is counted: better one too many than one lost).

    Why not write read marks when someone joins a centre: that is a write for every visible
    report at each account creation and each move between centres, done in every place that
    creates or moves accounts, and a mark written then would also hide a message nobody had
    read yet. This rule stores nothing and costs one more EXISTS in the same query.
    """
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from cases.models import IntakeMessage, IntakeReadMark

    read_by_me = IntakeReadMark.objects.filter(report_id=OuterRef("report_id"), user_id=user.pk, last_read_id__gte=OuterRef("pk"))
    messages = IntakeMessage.objects.filter(from_staff=False, report__in=intake_reports_visible_to(user).values("pk")).exclude(
        Exists(read_by_me)
    )
    joined = getattr(user, "date_joined", None)
    if joined is None:
        return messages
    read_by_someone = IntakeReadMark.objects.filter(report_id=OuterRef("report_id"), last_read_id__gte=OuterRef("pk"))
    return messages.exclude(Q(sent_on__lt=timezone.localdate(joined)) & Q(Exists(read_by_someone)))


def unread_message_count(user: Any) -> int:
    """Messages from reporters this person has not read yet, on every report they may see."""
    return _unread_messages(user).count()


def reports_with_unread_messages(user: Any) -> QuerySet[Any]:
    """The visible reports with a reporter's message this person has not read, newest first."""
    return intake_reports_visible_to(user).filter(pk__in=_unread_messages(user).values("report_id"))


def unread_counts_by_report(user: Any, report_ids: list[int]) -> dict[int, int]:
    """{report id: unread messages} for a page of reports (one query)."""
    from django.db.models import Count

    rows = _unread_messages(user).filter(report_id__in=report_ids).values("report_id").annotate(n=Count("pk"))
    return {row["report_id"]: row["n"] for row in rows}


def message_at(day: Any) -> str:
    """A message's time for the API: the contract's timestamps are ISO 8601 with a time zone,
    but no time of day is kept for a reporter's actions, so it is the start of the day in the
    centre's time zone (e.g. 2026-12-08T00:00:00+09:00). Messages of one day keep their order."""
    from datetime import datetime, time

    from django.utils import timezone

    return datetime.combine(day, time.min, timezone.get_default_timezone()).isoformat()


def message_row(message: Any) -> dict[str, Any]:
    """One message as the reporter and the API see it: "at" the day's start (message_at; pages show
    its first ten characters, the day), who wrote it, and the text. Never which staff member."""
    return {"at": message_at(message.sent_on), "author": "staff" if message.from_staff else "reporter", "text": message.text}


def reporter_thread(report: Any) -> list[dict[str, Any]]:
    """The messages of a report, oldest first, as the reporter's status page and the API show them."""
    return [message_row(m) for m in report.messages.order_by("id")]


def intake_thread(report: Any) -> list[dict[str, Any]]:
    """The same thread for staff pages, with the name of the staff member who wrote each reply."""
    return [
        {**message_row(m), "by": m.author.username if m.from_staff and m.author else ""}
        for m in report.messages.select_related("author").order_by("id")
    ]
