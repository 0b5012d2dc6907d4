"""Takedown pages: bulk entry and approval on the case, the request list, a request's history,
the unknown-host queue and the manual (web form) queue."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.views import case_or_404
from core.errors import NotFound, ServiceError
from core.models import User
from core.roles import CASE_ROLES
from takedowns import selectors, services
from takedowns.forms import ApproveForm, BulkForm
from takedowns.models import Notice, NoticeStatus, Platform, RequestStatus


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def bulk_create(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = case_or_404(request, case_pk)
    choices = [(str(e.pk), str(e.pk)) for e in case.evidence.all()]
    form = BulkForm(request.POST, request.FILES, evidence_choices=choices)
    if not form.is_valid():
        messages.error(request, _("Check the addresses and try again."))
        return redirect(f"/cases/{case.pk}/#takedowns")
    text = form.cleaned_data["urls"] or ""
    upload = form.cleaned_data.get("csv_file")
    if upload is not None:
        if upload.size > 5 * 1024 * 1024:
            messages.error(request, _("The file is too large (5 MiB at most)."))
            return redirect(f"/cases/{case.pk}/#takedowns")
        text += "\n" + upload.read().decode("utf-8", "replace")
    urls = services.parse_url_list(text)
    try:
        result = services.takedown_bulk_create(
            case=case, urls=urls, acting_user=_actor(request), evidence_ids=form.cleaned_data["evidence"]
        )
    except ServiceError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": exc.message}, status=exc.status_code)
        messages.error(request, exc.message)
        return redirect(f"/cases/{case.pk}/#takedowns")
    summary = {"created": len(result.created), "merged": result.merged, "invalid": result.invalid[:20]}
    if _wants_json(request):
        return JsonResponse(summary, status=201)
    messages.success(
        request,
        _("%(created)s requests created as drafts; %(merged)s duplicates merged; %(invalid)s lines were not addresses.")
        % {"created": len(result.created), "merged": result.merged, "invalid": len(result.invalid)},
    )
    return redirect(f"/cases/{case.pk}/#takedowns")


@require_POST
def approve(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Approves the chosen drafts, or all drafts of the case with a platform."""
    case = case_or_404(request, case_pk)
    form = ApproveForm(request.POST)
    form.is_valid()
    ids = [] if request.POST.get("scope") == "all" else [int(i) for i in request.POST.getlist("requests") if i.isdigit()]
    drafts = selectors.requests_visible_to(request.user).filter(case=case, status=RequestStatus.DRAFT)
    chosen = list(drafts.filter(pk__in=ids) if ids else drafts.filter(platform__isnull=False))
    try:
        approved = services.takedown_approve(
            requests=chosen, acting_user=_actor(request), override_reason=form.cleaned_data.get("override_reason") or ""
        )
    except ServiceError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": exc.message}, status=exc.status_code)
        messages.error(request, exc.message)
    else:
        if _wants_json(request):
            return JsonResponse({"approved": len(approved)}, status=202)
        messages.success(request, _("%(n)s notices approved and queued.") % {"n": len(approved)})
    return redirect(f"/cases/{case.pk}/#takedowns")


def case_statuses(request: HttpRequest, case_pk: int) -> JsonResponse:
    """Polled by the case page so a person can watch statuses change."""
    case = case_or_404(request, case_pk)
    labels = dict(RequestStatus.choices)
    rows = selectors.requests_visible_to(request.user).filter(case=case).values("pk", "status", "escalation_level", "overdue")
    return JsonResponse({"requests": {str(r["pk"]): {**r, "label": str(labels.get(r["status"], r["status"]))} for r in rows}})


def request_list(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    qs = selectors.requests_visible_to(request.user).order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in RequestStatus.values:
        qs = qs.filter(status=status)
    if request.GET.get("overdue") == "1":
        qs = qs.filter(overdue=True)
    if request.GET.get("platform", "").isdigit():
        qs = qs.filter(platform_id=int(request.GET["platform"]))
    if request.GET.get("unknown") == "1":
        qs = qs.filter(platform__isnull=True)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "takedowns/request_list.html",
        {
            "page": page,
            "query": query.urlencode(),
            "statuses": RequestStatus.choices,
            "platforms": Platform.objects.all(),
            "status": status,
        },
    )


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    try:
        takedown = selectors.request_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc
    return render(
        request,
        "takedowns/request_detail.html",
        {
            "t": takedown,
            "notices": takedown.notices.prefetch_related("attempts_log").order_by("created_at"),
            "checks": takedown.checks.order_by("-at")[:100],
            "platforms": Platform.objects.all() if takedown.platform_id is None else None,
        },
    )


@require_POST
def request_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        takedown = selectors.request_get(user=request.user, pk=pk)
        services.recheck_now(request=takedown, acting_user=_actor(request))
        messages.success(request, _("A re-check is queued."))
    except NotFound as exc:
        raise Http404 from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("takedowns:detail", pk=pk)


@require_POST
def request_set_platform(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        takedown = selectors.request_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc
    platform = Platform.objects.filter(pk=request.POST.get("platform") or 0).first()
    if platform is None:
        messages.error(request, _("Choose a platform."))
    else:
        services.takedown_set_platform(request=takedown, platform=platform, acting_user=_actor(request))
        messages.success(request, _("Platform set."))
    return redirect("takedowns:detail", pk=pk)


def manual_queue(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    visible = selectors.requests_visible_to(request.user)
    notices = Notice.objects.filter(status=NoticeStatus.MANUAL, request__in=visible).select_related(
        "request__platform", "request__case"
    )
    return render(request, "takedowns/manual_queue.html", {"notices": notices[:200]})


@require_POST
def manual_done(request: HttpRequest, notice_pk: int) -> HttpResponse:
    visible = selectors.requests_visible_to(request.user)
    notice = Notice.objects.filter(pk=notice_pk, request__in=visible).first()
    if notice is None:
        raise Http404
    try:
        services.manual_notice_done(notice=notice, acting_user=_actor(request), ticket=request.POST.get("ticket", ""))
        messages.success(request, _("Marked as submitted."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("takedowns:manual")
