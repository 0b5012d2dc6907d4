"""Takedown pages: bulk entry and approval on the case, the request list, a request's history,
the unknown-host queue and the manual (web form) queue."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.selectors import cases_visible_to
from cases.views import case_or_404
from core import audit, twofactor
from core.errors import NotFound, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role
from takedowns import selectors, services
from takedowns.forms import ApproveForm, BulkForm
from takedowns.models import Notice, Platform, RequestStatus


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _bulk_key(case_pk: int) -> str:
    return f"takedowns.bulk_result.{case_pk}"


# At most this many refused lines are kept for the page (the count is always exact).
MAX_REFUSALS_SHOWN = 500


@require_POST
def bulk_create(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Pasted or uploaded addresses become drafts. What happened to every line (created, following
    another case's request, merged, refused and why) stays on the case page until dismissed: it is
    kept in the session, not in a message that the next page would swallow."""
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
    pasted = services.parse_pasted(text)
    try:
        result = services.takedown_bulk_create(
            case=case, urls=pasted, acting_user=_actor(request), evidence_ids=form.cleaned_data["evidence"]
        )
    except ServiceError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": exc.message}, status=exc.status_code)
        messages.error(request, exc.message)
        return redirect(f"/cases/{case.pk}/#takedowns")
    request.session[_bulk_key(case.pk)] = {
        "created": len(result.created),
        "duplicates": result.duplicates,
        "refused_count": len(result.refused),
        "refused": [[r.line, r.text, r.reason] for r in result.refused[:MAX_REFUSALS_SHOWN]],
    }
    if _wants_json(request):
        summary = {
            "created": len(result.created),
            "merged": result.merged,
            "duplicates": result.duplicates,
            "invalid": result.invalid[:20],
            "refused": [{"line": r.line, "text": r.text, "reason": r.words} for r in result.refused[:MAX_REFUSALS_SHOWN]],
        }
        return JsonResponse(summary, status=201)
    return redirect(f"/cases/{case.pk}/#bulk-result")


@require_POST
def bulk_dismiss(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = case_or_404(request, case_pk)
    request.session.pop(_bulk_key(case.pk), None)
    return redirect(f"/cases/{case.pk}/#takedowns")


def bulk_result_for(request: HttpRequest, case_pk: int) -> dict[str, Any] | None:
    """The last paste's result for the case panel, with each refusal's reason in the reader's language."""
    stored = request.session.get(_bulk_key(case_pk))
    if not stored:
        return None
    refused = [{"line": line, "text": text, "reason": services.refusal_words(reason)} for line, text, reason in stored["refused"]]
    return {**stored, "refused": refused}


@require_POST
def approve(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Approves the drafts ticked on the page, and nothing else: nothing ticked is an error that
    says so. "Approve all drafts" is a separate action with its own confirmation (approve_all)."""
    case = case_or_404(request, case_pk)
    if request.POST.get("scope") == "all":
        return redirect("takedowns:approve_all", case_pk=case.pk)
    form = ApproveForm(request.POST)
    form.is_valid()
    try:
        approved = services.takedown_send_selected(
            case=case,
            ids=[i for i in request.POST.getlist("requests") if i.isdigit()],
            acting_user=_actor(request),
            **twofactor.override_fields(request, _actor(request), form.cleaned_data),
        )
    except ServiceError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": exc.message}, status=exc.status_code)
        messages.error(request, exc.message)
    else:
        if _wants_json(request):
            return JsonResponse({"approved": len(approved)}, status=202)
        _approved_message(request, approved)
    return redirect(f"/cases/{case.pk}/#takedowns")


def _approved_message(request: HttpRequest, approved: list[Any]) -> None:
    following = sum(1 for r in approved if r.duplicate_of_id)
    messages.success(request, _("%(n)s notices approved and queued.") % {"n": len(approved) - following})
    if following:
        messages.info(
            request,
            _("%(n)s addresses are already being handled by another request: no second notice is sent; they follow it.")
            % {"n": following},
        )


def approve_all(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Approve every draft of the case: a page that states the count and asks to confirm (works
    without JavaScript). The count is sent back with the confirmation; if drafts were added or
    approved meanwhile, the page asks again with the new count instead of approving a different set."""
    case = case_or_404(request, case_pk)
    drafts = selectors.requests_visible_to(request.user).filter(case=case, status=RequestStatus.DRAFT)
    count = drafts.filter(platform__isnull=False).count()
    without_platform = drafts.filter(platform__isnull=True).count()
    form = ApproveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if request.POST.get("expected") != str(count):
            messages.warning(request, _("The number of drafts changed while you looked: check the new count."))
        elif count:
            try:
                approved = services.takedown_send_selected(
                    case=case, all_drafts=True, acting_user=_actor(request), **twofactor.override_fields(request, _actor(request), form.cleaned_data)
                )  # fmt: skip
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                _approved_message(request, approved)
                return redirect(f"/cases/{case.pk}/#takedowns")
    return render(
        request,
        "takedowns/approve_all.html",
        {"case": case, "count": count, "without_platform": without_platform, "form": form},
    )


def case_statuses(request: HttpRequest, case_pk: int) -> JsonResponse:
    """Polled by the case page so a person can watch statuses change: only the rows it shows
    (?ids=...), so a case with thousands of requests is polled as cheaply as a small one."""
    case = case_or_404(request, case_pk)
    labels = dict(RequestStatus.choices)
    rows = selectors.requests_visible_to(request.user).filter(case=case)
    ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()][:500]
    if ids:
        rows = rows.filter(pk__in=ids)
    else:
        rows = rows.order_by("-created_at", "-id")[:500]
    values = rows.values("pk", "status", "escalation_level", "overdue")
    return JsonResponse({"requests": {str(r["pk"]): {**r, "label": str(labels.get(r["status"], r["status"]))} for r in values}})


PAGE_SIZE = 50


def request_list(request: HttpRequest) -> HttpResponse:
    """Every request the person may see, paged, filtered and sorted from the query string (so a
    link shows the same list), with actions on all the requests that match."""
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    filters = selectors.RequestFilters.from_query(request.GET)
    qs = selectors.requests_listed(user=request.user, filters=filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    labels = selectors.duplicate_labels(rows, user=request.user)
    for row in rows:
        row.duplicate_label = labels.get(row.pk)  # type: ignore[attr-defined]
    case = None
    if filters.case:
        case = cases_visible_to(request.user).filter(pk=int(filters.case)).first()
    return render(
        request,
        "takedowns/request_list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "hidden": _filter_fields(filters),
            "query": filters.query(),
            "sort_links": _sort_links(filters),
            "statuses": RequestStatus.choices,
            "platforms": Platform.objects.all(),
            "deadlines": _deadline_choices(),
            "status": filters.status,
            "case": case,
            "is_supervisor": getattr(request.user, "role", None) == Role.SUPERVISOR,
        },
    )


def _attempt_words() -> dict[str, str]:
    """A delivery attempt's outcome (stored as a code by the transports) in the reader's words."""
    return {
        "delivered": _("Delivered"),
        "retry": _("Did not go through; tried again later"),
        "rate_limited": _("The platform asked us to wait; tried again later"),
        "failed": _("Failed"),
        "manual": _("Waiting for a person (web form)"),
        "unavailable": _("Not sent: the page was already gone"),
    }


def _deadline_choices() -> list[tuple[str, str]]:
    return [("overdue", _("Overdue")), ("soon", _("Due within 24 hours")), ("none", _("No deadline"))]


def _sort_links(filters: selectors.RequestFilters, *, prefix: str = "") -> list[dict[str, Any]]:
    """Column headers that sort: the link for each, and which way the list is sorted now."""
    names = {"created": _("Created"), "deadline": _("Deadline"), "status": _("Status"), "platform": _("Platform")}
    links = []
    for key, label in names.items():
        current = filters.sort.lstrip("-") == key
        descending = filters.sort.startswith("-")
        target = (key if descending else f"-{key}") if current else (f"-{key}" if key == "created" else key)
        links.append(
            {"key": key, "label": label, "query": filters.query(prefix=prefix, sort=target), "current": current,
             "descending": current and descending}
        )  # fmt: skip
    return links


BULK_ACTIONS = ("recheck", "escalate")


@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """Re-check or escalate every request matching the list's filters: first a page that states how
    many and asks to confirm, then the action on exactly that set (if the count changed meanwhile,
    it asks again). Never on rows the person did not see counted."""
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        messages.error(request, _("Choose an action."))
        return redirect("takedowns:list")
    filters = selectors.RequestFilters.from_query(request.POST)
    matching = selectors.requests_listed(user=request.user, filters=filters)
    count = matching.count()
    back = f"{reverse('takedowns:list')}?{filters.query()}"
    if request.POST.get("confirm") == "1" and request.POST.get("expected") == str(count):
        try:
            if action == "recheck":
                done = services.recheck_many(requests=matching, acting_user=_actor(request))
                messages.success(request, _("%(n)s re-checks queued.") % {"n": done})
            else:
                done = services.escalate_many(requests=matching, acting_user=_actor(request))
                messages.success(request, _("%(n)s requests escalated to the regulator.") % {"n": done})
            if done < count:
                messages.info(
                    request,
                    _(
                        "%(n)s of the matching requests were left out: they were not sent yet, are already finished, or follow another request."
                    )
                    % {"n": count - done},
                )
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect(back)
    if request.POST.get("confirm") == "1":
        messages.warning(request, _("The number of matching requests changed while you looked: check the new count."))
    return render(
        request,
        "takedowns/bulk_confirm.html",
        {"action": action, "count": count, "filters": filters, "back": back, "hidden": _filter_fields(filters)},
    )


def _filter_fields(filters: selectors.RequestFilters) -> list[tuple[str, str]]:
    return [(k, v) for k, v in filters.__dict__.items() if v]


def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every request matching the list's filters as CSV, streamed (thousands of rows, constant memory)."""
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    filters = selectors.RequestFilters.from_query(request.GET)
    qs = selectors.requests_listed(user=request.user, filters=filters)
    labels = dict(RequestStatus.choices)
    audit.record_now(
        "takedown.export", actor=request.user, object_type="takedowns.takedownrequest", details={"filters": filters.query()}
    )

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    header = [_("Request"), _("Case"), _("Address"), _("Platform"), _("Status"), _("Created"), _("Sent"), _("Deadline"),
              _("Removed"), _("Escalation")]  # fmt: skip

    def when(value: Any) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    def rows() -> Iterator[str]:
        yield writer.writerow([str(h) for h in header])
        fields = ("pk", "case__reference", "url", "platform__name", "status", "created_at", "sent_at", "deadline",
                  "removed_at", "escalation_level")  # fmt: skip
        for pk, ref, url, platform, status, created, sent, deadline, removed, level in qs.values_list(*fields).iterator(
            chunk_size=2000
        ):
            # A cell starting with =, +, - or @ is a formula to a spreadsheet: quote it as text.
            safe_url = f"'{url}" if url[:1] in "=+-@" else url
            yield writer.writerow(
                [pk, ref, safe_url, platform or "", str(labels.get(status, status)), when(created), when(sent), when(deadline),
                 when(removed), level or ""]
            )  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="takedowns.csv"'
    return response


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    try:
        takedown = selectors.request_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc
    notices = list(takedown.notices.prefetch_related("attempts_log").order_by("created_at"))
    words = _attempt_words()
    for notice in notices:
        for attempt in notice.attempts_log.all():
            attempt.label = words.get(attempt.outcome, attempt.outcome)  # type: ignore[attr-defined]
    return render(
        request,
        "takedowns/request_detail.html",
        {
            "t": takedown,
            "duplicate": selectors.duplicate_labels([takedown], user=request.user).get(takedown.pk),
            "notices": notices,
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
    notices = selectors.manual_notices_visible_to(request.user)
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
