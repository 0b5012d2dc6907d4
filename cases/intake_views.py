"""The public report form and status page (no account), and the staff triage queue.

The public pages use no session and set no cookie at all (language comes from ?lang=, and the
views are CSRF-exempt for the reasons given above report_form); they never read the client's
address. Responses carry no-store and no-referrer (and the site-wide strict CSP).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cases import intake, selectors
from cases.models import Category, ContactChannel, IntakeReport, IntakeStatus, ReporterRole
from cases.pow import PowContext, form_gate
from core.errors import NotFound, ServiceError
from core.models import Centre, User
from core.roles import CASE_ROLES, Role
from core.uploads import uploaded_path


def _language(request: HttpRequest) -> None:
    """The public pages take the language from ?lang= (or the form), never from a cookie."""
    lang = request.POST.get("lang") or request.GET.get("lang")
    if lang in dict(settings.LANGUAGES):
        translation.activate(lang)
        request.LANGUAGE_CODE = lang


def _public(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


class ReportForm(forms.Form):
    description = forms.CharField(
        label=gettext_lazy("What happened? (optional)"), required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("Write as much or as little as you like. You can add more later."),
    )  # fmt: skip
    urls = forms.CharField(
        label=gettext_lazy("Where is the material? (web addresses, one per line)"), required=False, max_length=400_000,
        widget=forms.Textarea(attrs={"rows": 4, "inputmode": "url"}),
    )  # fmt: skip
    reporter_role = forms.ChoiceField(label=gettext_lazy("Who are you?"), choices=ReporterRole.choices, initial=ReporterRole.VICTIM,
                                      widget=forms.RadioSelect)  # fmt: skip
    is_minor = forms.ChoiceField(
        label=gettext_lazy("Is the person in the material under 18?"), required=False,
        choices=[("", gettext_lazy("I'd rather not say")), ("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))],
    )  # fmt: skip
    is_spreading = forms.BooleanField(label=gettext_lazy("It is still being shared"), required=False)
    threatened = forms.BooleanField(label=gettext_lazy("Someone is threatening me or asking for money"), required=False)
    consent_takedown = forms.BooleanField(label=gettext_lazy("Ask platforms to remove it"), required=False, initial=True)
    consent_hash_sharing = forms.BooleanField(
        label=gettext_lazy("Share fingerprints (not the pictures) with partner platforms so they can block re-uploads"),
        required=False,
    )
    consent_police_referral = forms.BooleanField(label=gettext_lazy("Pass the report to the police"), required=False)
    consent_legal_support = forms.BooleanField(label=gettext_lazy("Put me in touch with legal support"), required=False)
    contact_name = forms.CharField(label=gettext_lazy("Name (optional)"), required=False, max_length=200)
    contact_email = forms.EmailField(label=gettext_lazy("E-mail (optional)"), required=False)
    contact_phone = forms.CharField(label=gettext_lazy("Phone (optional)"), required=False, max_length=40)
    contact_times = forms.CharField(
        label=gettext_lazy("When is it safe to contact you? (optional)"), required=False, max_length=200
    )
    contact_channel = forms.ChoiceField(
        label=gettext_lazy("How should we contact you? (optional)"), required=False,
        choices=[("", gettext_lazy("No preference"))] + list(ContactChannel.choices),
    )  # fmt: skip
    may_leave_messages = forms.BooleanField(label=gettext_lazy("You may leave a message"), required=False)
    centre = forms.ChoiceField(
        label=gettext_lazy("Which centre or region should help you? (optional)"), required=False,
        help_text=gettext_lazy("If you are not sure, leave it: we will pass your report to the right centre."),
    )  # fmt: skip
    fingerprints = forms.CharField(required=False, max_length=20_000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read when the form is built, so a centre added today is offered today.
        choices = [("", _("I don't know"))] + [(c.code, c.name) for c in Centre.objects.order_by("-is_central", "name")]
        cast(forms.ChoiceField, self.fields["centre"]).choices = choices


def _contact(data: dict[str, Any]) -> dict[str, Any]:
    fields = {"name": "contact_name", "email": "contact_email", "phone": "contact_phone", "times": "contact_times",
              "channel": "contact_channel", "may_leave_messages": "may_leave_messages"}  # fmt: skip
    return {key: data[name] for key, name in fields.items() if data[name]}


def _uploaded(request: HttpRequest) -> list[tuple[Any, str]]:
    return [(uploaded_path(f), f.name or "") for f in request.FILES.getlist("files")]


# The public pages carry no session and set no cookie, so there is nothing for CSRF to protect:
# status actions are authorised by the receipt in the body, which another site cannot know. They
# also answer with no-referrer, which makes browsers send "Origin: null" that Django's check refuses.
@csrf_exempt
def report_form(request: HttpRequest) -> HttpResponse:
    _language(request)
    form = ReportForm(request.POST or None)
    status = 200
    if getattr(request, "upload_too_large", False):
        form.is_valid()
        form.add_error(None, _("A file is larger than we can accept. Please send the addresses instead, or a smaller file."))
    elif request.method == "POST" and (refused := form_gate(request.POST)):
        # Before anything is read or kept: a missing budget or a bad proof stores nothing.
        form.is_valid()
        form.add_error(None, refused)
        status = 429
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prepared = intake.prepare_files(_uploaded(request))
            fingerprints = json.loads(data["fingerprints"] or "[]")
            if not isinstance(fingerprints, list):
                raise ValueError
            report, receipt = intake.intake_submit(
                intake.IntakeInput(
                    description=data["description"],
                    urls=tuple(data["urls"].split()),
                    contact=_contact(data),
                    is_minor={"yes": True, "no": False}.get(data["is_minor"]),
                    is_spreading=data["is_spreading"],
                    threatened=data["threatened"],
                    reporter_role=data["reporter_role"],
                    language=getattr(request, "LANGUAGE_CODE", "ko"),
                    consent={k: data[f"consent_{k}"] for k in ("takedown", "hash_sharing", "police_referral", "legal_support")},
                    fingerprints=tuple(f for f in fingerprints if isinstance(f, dict)),
                    centre=data["centre"],
                ),
                files=prepared,
            )
        except ValueError:
            form.add_error(None, _("The picture fingerprints could not be read; please try again."))
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = 503 if exc.status_code == 503 else 200  # too many files wait: "busy, try again"
        else:
            return _public(render(request, "intake/receipt.html", {"receipt": receipt, "report": report}))
    context = {"form": form, "error_summary": _error_summary(form), "pow": PowContext()}
    return _public(render(request, "intake/form.html", context, status=status))


def _error_summary(form: forms.Form) -> list[dict[str, str]]:
    """Every error of the form, in the order the fields appear, each with the id of its field
    (the summary at the top links to them; errors that belong to no field link to the form)."""
    if not form.is_bound or not form.errors:
        return []
    items = [{"id": "report-form", "text": str(e)} for e in form.non_field_errors()]
    for name, field in form.fields.items():
        for error in form.errors.get(name, []):
            items.append({"id": form[name].id_for_label or "report-form", "label": str(field.label or ""), "text": str(error)})
    return items


class ReceiptForm(forms.Form):
    receipt = forms.CharField(label=gettext_lazy("Your receipt code"), max_length=100,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}))  # fmt: skip


def _with_report(request: HttpRequest, action: Callable[[IntakeReport], None] | None = None) -> HttpResponse:
    """Every status action starts from the receipt in the POST body (never in the URL)."""
    form = ReceiptForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        refused = form_gate(request.POST)
        if refused or not intake.guess_allowed():
            error = refused or _("Too many checks right now. Please try again in a minute.")
            return _public(
                render(request, "intake/status_lookup.html", {"form": form, "error": error, "pow": PowContext()}, status=429)
            )
        report = intake.intake_find(form.cleaned_data["receipt"])
        if report is not None:
            notice = ""
            if action is not None:
                try:
                    action(report)
                    notice = _("Thank you. That is done.")
                except ServiceError as exc:
                    notice = exc.message
                report.refresh_from_db()
            context = {"progress": intake.intake_progress(report), "receipt": form.cleaned_data["receipt"], "notice": notice,
                       "files": intake.file_summary(report), "pow": PowContext()}  # fmt: skip
            return _public(render(request, "intake/status.html", context))
        tombstone = intake.intake_find_deleted(form.cleaned_data["receipt"])
        if tombstone is not None:
            # Deleted (at the reporter's request or by policy): say so and when; no action applies.
            return _public(render(request, "intake/deleted.html", {"tombstone": tombstone}))
        error = _("We could not find a report with that receipt code. Check it and try again.")
    context = {"form": form, "error": error, "pow": PowContext()}
    return _public(render(request, "intake/status_lookup.html", context, status=404 if error else 200))


@csrf_exempt
def status_page(request: HttpRequest) -> HttpResponse:
    _language(request)
    return _with_report(request)


@csrf_exempt
@require_POST
def status_action(request: HttpRequest, action: str) -> HttpResponse:
    _language(request)
    handlers: dict[str, Callable[[IntakeReport], Any]] = {
        "add_urls": lambda r: intake.intake_add_urls(report=r, urls=request.POST.get("urls", "").split()),
        "reply": lambda r: intake.intake_reply(report=r, text=request.POST.get("text", "")),
        "add_files": lambda r: intake.intake_add_files(report=r, files=intake.prepare_files(_uploaded(request))),
        "withdraw": lambda r: intake.intake_withdraw_consent(report=r, kind=request.POST.get("kind", "")),
        "delete": lambda r: intake.intake_request_deletion(report=r),
    }
    if action not in handlers:
        raise Http404
    return _with_report(request, handlers[action])


# Staff triage ---------------------------------------------------------------------------------


def _staff(request: HttpRequest) -> User:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    return cast(User, request.user)


OPEN_STATUSES = [IntakeStatus.RECEIVED, IntakeStatus.IN_REVIEW, IntakeStatus.DELETION_REQUESTED]


def triage_list(request: HttpRequest) -> HttpResponse:
    """The reports this person may see (routing: cases/selectors.py): by default those still
    waiting for triage; ?status=... one state; ?unread=1 those with a reporter's unread message."""
    user = _staff(request)
    reports = selectors.intake_reports_visible_to(user)
    unread_only = request.GET.get("unread") == "1"
    status = request.GET.get("status", "")
    if unread_only:
        reports = selectors.reports_with_unread_messages(user)
    elif status in IntakeStatus.values:
        reports = reports.filter(status=status)
    else:
        reports = reports.filter(status__in=OPEN_STATUSES)
    reports = reports.order_by("-urgent", "-received_on", "-id").prefetch_related("urls")
    page = Paginator(reports, 25).get_page(request.GET.get("page"))
    unread = selectors.unread_counts_by_report(user, [r.pk for r in page])
    rows = [(r, unread.get(r.pk, 0)) for r in page]
    query = request.GET.copy()
    query.pop("page", None)
    triage = selectors.triage_centre()
    is_triage_centre = getattr(triage, "pk", None) == user.centre_id
    # A mistyped INTAKE_TRIAGE_CENTRE silently sends unrouted reports to the central centre: its
    # supervisors, who now carry that queue, are told (the system check tells whoever deploys).
    misconfigured = selectors.triage_centre_setting_problem() if is_triage_centre and user.role == Role.SUPERVISOR else ""
    context = {
        "page": page, "rows": rows, "query": query.urlencode(), "unread_only": unread_only,
        "status": status if status in IntakeStatus.values else "", "statuses": IntakeStatus.choices,
        "is_triage_centre": is_triage_centre, "triage_setting_code": misconfigured,
    }  # fmt: skip
    return render(request, "intake/triage_list.html", context)


def _report_or_404(user: User, pk: int) -> IntakeReport:
    try:
        return cast(IntakeReport, selectors.intake_report_get(user=user, pk=pk))
    except NotFound as exc:
        raise Http404 from exc


CONTACT_LABELS = {
    "name": gettext_lazy("Name"), "email": gettext_lazy("E-mail"), "phone": gettext_lazy("Phone"),
    "times": gettext_lazy("Safe times to contact"), "channel": gettext_lazy("How to contact"),
    "may_leave_messages": gettext_lazy("Messages may be left"),
}  # fmt: skip


def contact_rows(report: IntakeReport) -> list[tuple[str, str]]:
    """The reporter's contact details and wishes as labelled lines (never raw keys or codes)."""
    contact = json.loads(report.contact) if report.contact else {}
    rows = []
    for key, label in CONTACT_LABELS.items():
        if key not in contact:
            continue
        value = contact[key]
        if key == "channel":
            value = dict(ContactChannel.choices).get(value, value)
        elif key == "may_leave_messages":
            value = _("Yes") if value else _("No")
        rows.append((str(label), str(value)))
    return rows


def language_name(code: str) -> str:
    """A language code as its name in the reader's language (ko: Korean / 한국어)."""
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code


def triage_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff(request)
    report = _report_or_404(user, pk)
    from core import audit

    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "open_case":
                case = intake.intake_open_case(
                    report=report,
                    acting_user=user,
                    pseudonym=(request.POST.get("pseudonym") or "").strip() or f"Reporter {report.pk}",
                    category=request.POST.get("category") or "other",
                )
                messages.success(request, _("Case %(ref)s opened from the report.") % {"ref": case.reference})
                return redirect("cases:detail", pk=case.pk)
            if action == "attach":
                from cases.selectors import case_get_by_reference

                try:
                    case = case_get_by_reference(user=user, reference=(request.POST.get("reference") or "").strip())
                except NotFound as exc:
                    raise ServiceError(_("No case with that reference that you may see.")) from exc
                intake.intake_attach_to_case(report=report, case=case, acting_user=user)
                messages.success(request, _("The report is now part of %(ref)s.") % {"ref": case.reference})
                return redirect("cases:detail", pk=case.pk)
            if action == "route":
                centre = intake.centre_for_code(request.POST.get("centre") or "")
                intake.intake_route(report=report, centre=centre, acting_user=user)
                assert centre is not None
                messages.success(request, _("The report was passed to %(centre)s.") % {"centre": centre.name})
                # The report may now be out of this person's sight: back to the queue.
                return redirect("intake_staff:triage_list")
            if action == "message":
                intake.intake_staff_message(report=report, text=request.POST.get("text", ""), acting_user=user)
                messages.success(request, _("Message sent; the reporter sees it on their status page."))
                if request.POST.get("back") == "case" and report.case_id:
                    return redirect(reverse("cases:detail", args=[report.case_id]) + "#intake-messages")
        except ServiceError as exc:
            messages.error(request, exc.message)
            if request.POST.get("back") == "case" and report.case_id:
                return redirect(reverse("cases:detail", args=[report.case_id]) + "#intake-messages")
        return redirect("intake_staff:triage_detail", pk=report.pk)
    audit.record_now("intake.view", actor=user, obj=report)
    thread = selectors.intake_thread(report)
    unread = selectors.unread_counts_by_report(user, [report.pk]).get(report.pk, 0)
    intake.intake_mark_read(report=report, user=user)
    context = {
        "report": report, "contact": contact_rows(report), "categories": Category.choices, "thread": thread,
        "unread": unread, "language": language_name(report.language), "files": intake.file_summary(report),
        "centres": Centre.objects.exclude(pk=report.centre_id or 0).order_by("-is_central", "name") if not report.case_id else [],
        "triage_centre": selectors.triage_centre(),
    }  # fmt: skip
    return render(request, "intake/triage_detail.html", context)


def case_intake_panel(request: HttpRequest, case: Any) -> Any:
    """The case page's section for the public reports behind the case: what the reporter told us,
    and the message thread with a reply box (registered in cases/apps.py)."""
    from core.panels import Panel

    reports = list(case.intake_reports.order_by("id"))
    if not reports:
        return None
    user = cast(User, request.user)
    unread = selectors.unread_counts_by_report(user, [r.pk for r in reports])
    items = []
    for report in reports:
        items.append({"report": report, "thread": selectors.intake_thread(report), "unread": unread.get(report.pk, 0),
                      "contact": contact_rows(report), "language": language_name(report.language)})  # fmt: skip
        # Showing the thread on the case page is reading it (the case view itself is audited).
        intake.intake_mark_read(report=report, user=user)
    return Panel(template="cases/intake_panel.html", order=5, context={"case": case, "items": items})
