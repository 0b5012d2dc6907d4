"""The case page's hash-sharing panel and its one form: releasing a quarantined fingerprint."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.selectors import case_get
from core.errors import NotFound, ServiceError
from core.models import User
from core.panels import Panel
from core.roles import Role
from takedowns import hashlist
from takedowns.models import HashQuarantine


def case_hashlist_panel(request: HttpRequest, case: Any) -> Panel | None:
    state = hashlist.case_hashlist_state(case)
    if not state["total"]:
        return None  # no image or video fingerprints: nothing that could be shared
    state["may_release"] = getattr(request.user, "role", None) == Role.SUPERVISOR
    return Panel(template="takedowns/hashlist_panel.html", order=30, context=state)


@require_POST
def quarantine_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Supervisors release from their case's page; administrators may release any (the service checks)."""
    role = getattr(request.user, "role", None)
    if role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Http404
    quarantine = HashQuarantine.objects.select_related("fingerprint__evidence").filter(pk=pk).first()
    if quarantine is None:
        raise Http404
    case_id = quarantine.fingerprint.evidence.case_id
    if role == Role.SUPERVISOR:
        try:
            case_get(user=request.user, pk=case_id)  # the same 404 for another centre's case as for none
        except NotFound as exc:
            raise Http404 from exc
    try:
        hashlist.hashlist_quarantine_release(quarantine=quarantine, acting_user=cast(User, request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Released. The fingerprint is back on the shared list if the victim's consent is still in force.")
        )
    if role == Role.SUPERVISOR:
        return redirect(f"/cases/{case_id}/#hashlist")
    return redirect("core:home")
