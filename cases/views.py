"""Staff pages for cases. Thin: forms in, services out; reads through selectors."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import selectors, services
from cases.forms import (
    AssignForm,
    CaseFilterForm,
    CaseForm,
    ConsentForm,
    NoteForm,
    ReferralForm,
    ReferralStatusForm,
    StatusForm,
)
from cases.models import Case, Referral
from core import twofactor
from core.errors import NotFound, ServiceError
from core.models import User
from core.panels import case_panels
from core.roles import CASE_ROLES, Role


def case_or_404(request: HttpRequest, pk: int) -> Case:
    """The same 404 for a case that is missing or not the user's (roles without casework see none)."""
    try:
        return selectors.case_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc


def _actor(request: HttpRequest) -> User:
    # The two-factor middleware guarantees a signed-in staff user on every page here.
    return cast(User, request.user)


def _require_case_role(request: HttpRequest) -> None:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404


def _form_error(request: HttpRequest, form: Any, exc: ServiceError) -> None:
    if form is not None and exc.field in getattr(form, "fields", {}):
        form.add_error(exc.field, exc.message)
    else:
        messages.error(request, exc.message)


def case_list(request: HttpRequest) -> HttpResponse:
    _require_case_role(request)
    staff = selectors.assignable_staff(request.user) if request.user.role == Role.SUPERVISOR else []  # type: ignore[union-attr]
    form = CaseFilterForm(request.GET or None, staff=staff)
    filters: dict[str, str] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    qs = selectors.case_search(user=request.user, **filters)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "cases/case_list.html", {"form": form, "page": page, "query": query.urlencode()})


def case_create(request: HttpRequest) -> HttpResponse:
    _require_case_role(request)
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        victim = {k: data[k] for k in CaseForm.VICTIM_FIELDS}
        try:
            case = services.case_create(
                acting_user=request.user,  # type: ignore[arg-type]
                category=data["category"],
                summary=data["summary"],
                priority=data["priority"],
                is_spreading=data["is_spreading"],
                victim=victim,
            )
        except ServiceError as exc:
            _form_error(request, form, exc)
        else:
            messages.success(request, _("Case %(ref)s opened. Record the victim's consent next.") % {"ref": case.reference})
            return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/case_form.html", {"form": form, "case": None})


def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    if request.method == "GET":
        # The edit form shows identity and contact details, so opening it counts as seeing them.
        services.victim_identity_reveal(case=case, acting_user=_actor(request))
    v = case.victim
    initial = {
        "category": case.category,
        "summary": case.summary,
        "priority": case.priority,
        "is_spreading": case.is_spreading,
        **{k: getattr(v, k) for k in CaseForm.VICTIM_FIELDS},
        "is_minor": v.minor,  # True, False or None (not known)
    }
    form = CaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.case_update(
                case=case,
                acting_user=request.user,  # type: ignore[arg-type]
                category=data["category"],
                summary=data["summary"],
                priority=data["priority"],
                is_spreading=data["is_spreading"],
                victim={k: data[k] for k in CaseForm.VICTIM_FIELDS},
            )
        except ServiceError as exc:
            _form_error(request, form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/case_form.html", {"form": form, "case": case})


def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    services.case_record_view(case=case, acting_user=request.user)  # type: ignore[arg-type]
    is_supervisor = request.user.role == Role.SUPERVISOR  # type: ignore[union-attr]
    context = {
        "case": case,
        "consents": selectors.consent_state(case),
        "consent_history": case.consents.select_related("recorded_by")[:50],
        "events": case.events.select_related("author")[:200],
        "referrals": [
            (r, ReferralStatusForm(prefix=f"referral-{r.pk}", initial={"status": r.status})) for r in case.referrals.all()
        ],
        "consent_form": ConsentForm(),
        "note_form": NoteForm(),
        "status_form": StatusForm(initial={"status": case.status}),
        "referral_form": ReferralForm(),
        "assign_form": AssignForm(
            initial={"assigned_to": case.assigned_to_id or ""}, staff=selectors.assignable_staff(request.user)
        )
        if is_supervisor
        else None,
        "is_supervisor": is_supervisor,
        "panels": case_panels(request, case),
    }
    return render(request, "cases/case_detail.html", context)


@require_POST
def case_identity(request: HttpRequest, pk: int) -> HttpResponse:
    """Shows identity and contact on a page of its own, after recording who looked."""
    case = case_or_404(request, pk)
    identity = services.victim_identity_reveal(case=case, acting_user=request.user)  # type: ignore[arg-type]
    return render(request, "cases/case_identity.html", {"case": case, "identity": identity})


def _post_action(request: HttpRequest, pk: int, form_class: Any, action: Any, success: str) -> HttpResponse:
    case = case_or_404(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("cases:detail", pk=case.pk)
    try:
        action(case, form.cleaned_data)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("cases:detail", pk=case.pk)


@require_POST
def case_consent(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(
        request,
        pk,
        ConsentForm,
        lambda case, d: services.consent_record(case=case, acting_user=_actor(request), **d),
        _("Consent recorded."),
    )


@require_POST
def case_note(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(
        request,
        pk,
        NoteForm,
        lambda case, d: services.case_add_note(case=case, text=d["text"], acting_user=_actor(request)),
        _("Note added."),
    )


@require_POST
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(
        request,
        pk,
        StatusForm,
        lambda case, d: services.case_set_status(case=case, status=d["status"], acting_user=_actor(request)),
        _("Status changed."),
    )


@require_POST
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    form = AssignForm(request.POST, staff=selectors.assignable_staff(request.user))
    if form.is_valid():
        target = form.cleaned_data["assigned_to"]
        assignee = selectors.assignable_staff(request.user).filter(pk=target).first() if target else None
        try:
            services.case_assign(case=case, assignee=assignee, acting_user=request.user)  # type: ignore[arg-type]
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Assignment saved."))
    else:
        messages.error(request, _("Choose someone from the list."))
    return redirect("cases:detail", pk=case.pk)


@require_POST
def case_referral(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_action(
        request,
        pk,
        ReferralForm,
        lambda case, d: services.referral_create(
            case=case, acting_user=_actor(request), **twofactor.override_fields(request, _actor(request), d)
        ),
        _("Referral recorded."),
    )


@require_POST
def referral_status(request: HttpRequest, pk: int, referral_pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    referral = Referral.objects.filter(case=case, pk=referral_pk).first()
    if referral is None:
        raise Http404
    form = ReferralStatusForm(request.POST, prefix=f"referral-{referral.pk}")
    if form.is_valid():
        with transaction.atomic():
            services.referral_set_status(referral=referral, status=form.cleaned_data["status"], acting_user=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Referral updated."))
    return redirect("cases:detail", pk=case.pk)
