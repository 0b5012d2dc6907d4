"""Staff pages for legal holds and deletion requests. Thin: forms in, cases.deletion out.

The case page shows a "Retention" panel (registered in CasesConfig.ready) with the hold and the
requests; supervisors decide on requests in their queue at /cases/deletion-requests/.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cases import deletion
from cases.models import OPEN_DELETION_STATUSES, CaseStatus, DeletionRequest
from cases.views import case_or_404
from core.errors import NotFound, ServiceError
from core.models import User
from core.panels import Panel
from core.roles import Role


class HoldForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("For example the investigation or court order that requires keeping the case."),
    )  # fmt: skip


class LiftForm(forms.Form):
    lift_reason = forms.CharField(
        label=gettext_lazy("Why the hold ends"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RequestForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("How the victim asked (optional)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for refusing"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("For the record. The reporter is told that a staff member will contact them."),
    )  # fmt: skip


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _first_error(request: HttpRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
            return


def case_retention_panel(request: HttpRequest, case: Any) -> Panel:
    """The case page's retention section: legal hold, deletion requests, when the case would go."""
    is_supervisor = getattr(request.user, "role", None) == Role.SUPERVISOR
    requests = list(DeletionRequest.objects.filter(case=case).select_related("requested_by", "decided_by")[:20])
    purge_on = None
    if case.status == CaseStatus.CLOSED and case.closed_at and settings.RETENTION_CLOSED_CASE_DAYS:
        purge_on = case.closed_at + timedelta(days=settings.RETENTION_CLOSED_CASE_DAYS)
    return Panel(
        template="cases/retention_panel.html",
        order=90,
        context={
            "case": case,
            "hold": case.active_legal_hold,
            "past_holds": list(case.legal_holds.filter(lifted_at__isnull=False).select_related("set_by", "lifted_by")[:5]),
            "requests": requests,
            "open_request": next((r for r in requests if r.status in OPEN_DELETION_STATUSES), None),
            "waiting": [r for r in requests if r.status == "on_hold"],
            "is_supervisor": is_supervisor,
            "purge_on": purge_on,
            "hold_form": HoldForm(),
            "lift_form": LiftForm(),
            "request_form": RequestForm(),
        },
    )


@require_POST
def case_legal_hold(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    setting = request.POST.get("action") == "set"
    form: forms.Form = HoldForm(request.POST) if setting else LiftForm(request.POST)
    if not form.is_valid():
        _first_error(request, form)
        return redirect(f"/cases/{case.pk}/#retention")
    try:
        if setting:
            deletion.legal_hold_set(case=case, reason=form.cleaned_data["reason"], acting_user=_user(request))
            messages.success(request, _("Legal hold set. Nothing of this case will be deleted until it is lifted."))
        else:
            deletion.legal_hold_lift(case=case, reason=form.cleaned_data["lift_reason"], acting_user=_user(request))
            messages.success(request, _("Legal hold lifted."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(f"/cases/{case.pk}/#retention")


@require_POST
def case_deletion_request(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    form = RequestForm(request.POST)
    if form.is_valid():
        try:
            deletion.deletion_request_file(case=case, acting_user=_user(request), note=form.cleaned_data["note"])
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Deletion request recorded. A supervisor will decide on it."))
    else:
        _first_error(request, form)
    return redirect(f"/cases/{case.pk}/#retention")


def deletion_queue(request: HttpRequest) -> HttpResponse:
    """Supervisors: open requests first (oldest first), then the decided ones."""
    if getattr(request.user, "role", None) != Role.SUPERVISOR:
        raise Http404
    visible = deletion.deletion_requests_for(request.user)
    open_requests = list(visible.filter(status__in=OPEN_DELETION_STATUSES).order_by("requested_at", "id")[:200])
    for item in open_requests:
        item.held = item.case is not None and item.case.active_legal_hold is not None  # type: ignore[attr-defined]
    decided = Paginator(visible.exclude(status__in=OPEN_DELETION_STATUSES), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/deletion_queue.html",
        {"open_requests": open_requests, "page": decided, "query": "", "refuse_form": RefuseForm()},
    )


@require_POST
def deletion_decide(request: HttpRequest, pk: int) -> HttpResponse:
    if getattr(request.user, "role", None) != Role.SUPERVISOR:
        raise Http404
    try:
        item = deletion.deletion_request_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc
    try:
        if request.POST.get("action") == "approve":
            item = deletion.deletion_request_approve(request=item, acting_user=_user(request))
            if item.status == "on_hold":
                messages.success(request, _("Approved. A legal hold applies, so the data will be deleted when it is lifted."))
            else:
                messages.success(request, _("Approved. The data will be deleted within a few minutes."))
        else:
            form = RefuseForm(request.POST)
            if not form.is_valid():
                _first_error(request, form)
                return redirect("cases:deletion_requests")
            deletion.deletion_request_refuse(request=item, reason=form.cleaned_data["reason"], acting_user=_user(request))
            messages.success(request, _("Refused. Contact the victim to explain."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("cases:deletion_requests")


POLICY_LABELS = {
    "closed_cases": gettext_lazy("Closed cases, with their evidence"),
    "deletion_requests": gettext_lazy("Approved deletion requests still to carry out"),
    "intake_reports": gettext_lazy("Public reports never turned into a case"),
    "tombstones": gettext_lazy("Notes that a public report was deleted"),
    "sessions": gettext_lazy("Expired sign-in sessions"),
    "download_grants": gettext_lazy("Expired download grants"),
    "file_deletions": gettext_lazy("Stored files whose deletion is to be retried"),
    "removed_fingerprint_log": gettext_lazy("Log of fingerprints removed from the match index"),
    "audit_log": gettext_lazy("Audit log events"),
    "deletion_request": gettext_lazy("A victim's approved request"),
}

KIND_LABELS = {
    "case": gettext_lazy("Case"),
    "intake_report": gettext_lazy("Public report"),
    "tombstone": gettext_lazy("Deletion note"),
    "audit_event": gettext_lazy("Audit log events"),
}


def retention_overview(request: HttpRequest) -> HttpResponse:
    """Admins and supervisors: each policy, what is due now and what is kept for a legal hold
    (the dry run: counts only, nothing is deleted), the last run and the recent purges. No case,
    victim or content: kinds and counts, as the audit log keeps them."""
    if getattr(request.user, "role", None) not in (Role.ADMIN, Role.SUPERVISOR):
        raise Http404
    from cases.retention import retention_run
    from core.audit import PURGE_ACTION
    from core.models import AuditEvent

    # "due" in an Outcome counts the held ones too; the page shows what would go and what stays.
    rows = [
        {
            "policy": o.policy,
            "label": POLICY_LABELS.get(o.policy, o.policy),
            "days": o.days,
            "due": o.due - o.held,
            "held": o.held,
        }
        for o in retention_run(apply=False)
    ]
    last_run = AuditEvent.objects.filter(action="retention.run").order_by("-id").values("created_at", "details").first()
    purges = [
        {"at": e["created_at"], "kind": KIND_LABELS.get(str(e["details"].get("kind", "")), e["details"].get("kind", "")), "count": e["details"].get("count", 0),
         "policy": POLICY_LABELS.get(str(e["details"].get("policy", "")), e["details"].get("policy", "")),
         "actor": e["actor_username"] if e["actor_username"] not in ("", "system") else _("system")}
        for e in AuditEvent.objects.filter(action=PURGE_ACTION).order_by("-id").values("created_at", "details", "actor_username")[:20]
    ]  # fmt: skip
    return render(request, "cases/retention_overview.html", {"rows": rows, "last_run": last_run, "purges": purges})
