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
    """The consent in force for each kind: the newest record, or None when never asked."""
    state: dict[str, ConsentRecord | None] = dict.fromkeys(ConsentKind.values)
    for record in ConsentRecord.objects.filter(case=case).select_related("recorded_by").order_by("-recorded_at", "-id"):
        if state.get(record.kind) is None:
            state[record.kind] = record
    return state


def has_consent(case: Case, kind: str) -> bool:
    record = ConsentRecord.objects.filter(case=case, kind=kind).order_by("-recorded_at", "-id").first()
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
