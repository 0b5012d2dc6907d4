from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from cases.selectors import assignable_staff
from core import twofactor
from core.panels import Panel
from core.roles import Role
from evidence.forms import CaptureForm, GrantForm, UploadForm
from evidence.models import DownloadGrant
from evidence.selectors import evidence_for_case


def case_evidence_panel(request: HttpRequest, case: Any) -> Panel:
    is_supervisor = getattr(request.user, "role", None) == Role.SUPERVISOR
    return Panel(
        template="evidence/case_panel.html",
        order=10,
        context={
            "items": evidence_for_case(case),
            "upload_form": UploadForm(),
            "capture_form": CaptureForm(),
            "captures": case.captures.all()[:100],
            "grant_form": GrantForm(staff=assignable_staff(request.user)) if is_supervisor else None,
            "may_export": is_supervisor
            or DownloadGrant.objects.filter(case=case, user_id=request.user.pk or 0, expires_at__gt=timezone.now()).exists(),
            "needs_code": not twofactor.recently_verified(request),
        },
    )
