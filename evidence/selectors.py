"""Reads on evidence, scoped through the cases the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from cases.selectors import cases_visible_to
from core.errors import NotFound
from core.roles import Role
from evidence.models import DownloadGrant, Evidence


def evidence_visible_to(user: Any) -> QuerySet[Evidence]:
    return Evidence.objects.filter(case__in=cases_visible_to(user)).select_related("case", "created_by")


def evidence_get(*, user: Any, pk: Any) -> Evidence:
    try:
        return evidence_visible_to(user).get(pk=int(pk))
    except (Evidence.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Evidence not found.") from exc


def evidence_for_case(case: Any) -> QuerySet[Evidence]:
    return Evidence.objects.filter(case=case).prefetch_related("fingerprints", "derivatives").order_by("-created_at", "-id")


def may_download(user: Any, evidence: Evidence) -> bool:
    """Supervisors of the case's centre, or a person holding an unexpired grant for the case."""
    if getattr(user, "role", None) == Role.SUPERVISOR and user.centre_id == evidence.case.centre_id:
        return True
    return DownloadGrant.objects.filter(case_id=evidence.case_id, user=user, expires_at__gt=timezone.now()).exists()
