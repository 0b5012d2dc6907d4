"""Evidence pages: upload, blurred previews, reveal with a reason, guarded download, custody."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.selectors import assignable_staff
from cases.views import case_or_404
from core import twofactor
from core.errors import NotFound, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role
from core.uploads import uploaded_path
from evidence import selectors, services, storage
from evidence.forms import CaptureForm, DownloadForm, GrantForm, RevealForm, UploadForm
from evidence.models import Derivative, Evidence

REVEAL_SECONDS = 10 * 60
_REVEALED = "revealed_evidence"


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _evidence_or_404(request: HttpRequest, pk: int) -> Evidence:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    try:
        return selectors.evidence_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404 from exc


def _revealed(request: HttpRequest, evidence: Evidence) -> bool:
    until = request.session.get(_REVEALED, {}).get(str(evidence.pk), 0)
    return bool(until and until > time.time())


def _private(response: HttpResponseBase) -> HttpResponseBase:
    # Sensitive bytes: never cached, never sniffed, never run as a document.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@require_POST
def upload(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Several files at once. Answers JSON for the page's progress bar, or redirects."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    case = case_or_404(request, case_pk)
    if getattr(request, "upload_too_large", False):
        message = _("The upload is larger than the largest file accepted and was not stored.")
        if wants_json:
            return JsonResponse({"detail": message}, status=413)
        messages.error(request, message)
        return redirect("cases:detail", pk=case.pk)
    form = UploadForm(request.POST, request.FILES)
    results: list[dict[str, Any]] = []
    if form.is_valid():
        for uploaded in request.FILES.getlist("evidence-upload"):
            path = uploaded_path(uploaded)
            try:
                evidence = services.evidence_add(
                    case=case,
                    incoming=services.IncomingFile(path=path, name=uploaded.name or "", sha256=getattr(uploaded, "sha256", None)),
                    acting_user=_actor(request),
                    description=form.cleaned_data["description"],
                    source_url=form.cleaned_data["source_url"],
                )
                results.append({"name": uploaded.name, "ok": True, "id": evidence.pk, "status": evidence.status})
            except ServiceError as exc:
                results.append({"name": uploaded.name, "ok": False, "error": exc.message})
            finally:
                if not callable(getattr(uploaded, "temporary_file_path", None)):
                    Path(path).unlink(missing_ok=True)
    else:
        results.append({"name": "", "ok": False, "error": " ".join(str(e) for errs in form.errors.values() for e in errs)})
    if not results:
        results.append({"name": "", "ok": False, "error": _("Choose at least one file.")})
    if wants_json:
        return JsonResponse({"results": results}, status=201 if any(r["ok"] for r in results) else 400)
    for r in results:
        if r["ok"]:
            messages.success(request, _("%(name)s stored and locked.") % {"name": r["name"]})
        else:
            messages.error(request, f"{r['name']}: {r['error']}" if r["name"] else r["error"])
    return redirect(f"/cases/{case.pk}/#evidence")


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = _evidence_or_404(request, pk)
    services.evidence_record_view(evidence=evidence, acting_user=_actor(request))
    user = _actor(request)
    context = {
        "evidence": evidence,
        "case": evidence.case,
        "revealed": _revealed(request, evidence),
        "reveal_form": RevealForm(),
        "download_form": DownloadForm(),
        "may_download": selectors.may_download(user, evidence),
        "needs_code": not twofactor.recently_verified(request),
        "custody": evidence.custody.select_related("actor").all(),
        "fingerprints": evidence.fingerprints.all(),
        "derivatives": {d.kind for d in evidence.derivatives.all()},
    }
    return render(request, "evidence/detail.html", context)


@require_POST
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = _evidence_or_404(request, pk)
    form = RevealForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why you need to see it unblurred."))
        return redirect("evidence:detail", pk=evidence.pk)
    try:
        services.evidence_reveal(evidence=evidence, acting_user=_actor(request), reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("evidence:detail", pk=evidence.pk)
    revealed = dict(request.session.get(_REVEALED, {}))
    revealed[str(evidence.pk)] = time.time() + REVEAL_SECONDS
    request.session[_REVEALED] = revealed
    return redirect("evidence:detail", pk=evidence.pk)


@require_POST
def hide(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = _evidence_or_404(request, pk)
    revealed = dict(request.session.get(_REVEALED, {}))
    revealed.pop(str(evidence.pk), None)
    request.session[_REVEALED] = revealed
    return redirect("evidence:detail", pk=evidence.pk)


def preview(request: HttpRequest, pk: int, kind: str) -> HttpResponseBase:
    """Serves a derivative image. The unblurred one only within a recorded reveal."""
    evidence = _evidence_or_404(request, pk)
    if kind not in ("blurred", "full"):
        raise Http404
    if kind == "full" and not _revealed(request, evidence):
        raise Http404
    derivative_kind = Derivative.Kind.PREVIEW if kind == "full" else Derivative.Kind.PREVIEW_BLURRED
    derivative = evidence.derivatives.filter(kind=derivative_kind).first()
    if derivative is None:
        raise Http404
    data = storage.read_bytes(derivative.storage_key, derivative.key_id, derivative.wrapped_key)
    return _private(HttpResponse(data, content_type=derivative.media_type))


@require_POST
def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    evidence = _evidence_or_404(request, pk)
    form = DownloadForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why you need the original."))
        return redirect("evidence:detail", pk=evidence.pk)
    user = _actor(request)
    code = form.cleaned_data.get("code") or ""
    verified = twofactor.step_up(request, user, code)
    if code and not verified:
        messages.error(request, _("That code did not work. Codes change every 30 seconds and each works only once."))
        return redirect("evidence:detail", pk=evidence.pk)
    try:
        services.evidence_download(
            evidence=evidence, acting_user=user, reason=form.cleaned_data["reason"], recently_verified=verified
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("evidence:detail", pk=evidence.pk)
    response = StreamingHttpResponse(
        storage.plain_chunks(evidence.storage_key, evidence.key_id, evidence.wrapped_key),
        content_type="application/octet-stream",
    )
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "video/mp4": "mp4",
                 "application/pdf": "pdf"}.get(evidence.media_type, "bin")  # fmt: skip
    # The saved name is built by us: the client's name is never trusted as a path or header.
    response["Content-Disposition"] = f'attachment; filename="evidence-{evidence.pk}-{evidence.sha256[:12]}.{extension}"'
    response["Content-Length"] = str(evidence.size)
    return _private(response)


@require_POST
def grant(request: HttpRequest, case_pk: int) -> HttpResponse:
    if getattr(request.user, "role", None) != Role.SUPERVISOR:
        raise Http404
    case = case_or_404(request, case_pk)
    staff = assignable_staff(request.user)
    form = GrantForm(request.POST, staff=staff)
    if form.is_valid():
        target = staff.filter(pk=form.cleaned_data["user"]).first()
        try:
            if target is None:
                raise ServiceError(_("Choose someone from the list."))
            services.download_grant_create(
                case=case,
                user=target,
                reason=form.cleaned_data["reason"],
                hours=form.cleaned_data["hours"],
                acting_user=_actor(request),
            )
            messages.success(request, _("Download permission granted."))
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Fill in who, for how long and why."))
    return redirect(f"/cases/{case.pk}/#evidence")


@require_POST
def export(request: HttpRequest, case_pk: int) -> HttpResponseBase:
    """Streams a signed ZIP of the chosen originals with manifest and custody log."""
    case = case_or_404(request, case_pk)
    user = _actor(request)
    ids = [int(i) for i in request.POST.getlist("items") if i.isdigit()]
    items = list(selectors.evidence_for_case(case).filter(pk__in=ids)) if ids else list(selectors.evidence_for_case(case))
    verified = twofactor.step_up(request, user, request.POST.get("code") or "")
    try:
        path = services.evidence_export(
            case=case, items=items, acting_user=user, reason=request.POST.get("reason", ""), recently_verified=verified
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(f"/cases/{case.pk}/#evidence")
    handle = path.open("rb")
    path.unlink()  # the open handle keeps the bytes readable until the response is sent
    response = FileResponse(handle, as_attachment=True, filename=f"{case.reference}-evidence.zip", content_type="application/zip")
    return _private(response)


@require_POST
def capture(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = case_or_404(request, case_pk)
    form = CaptureForm(request.POST)
    if form.is_valid():
        try:
            rows = services.capture_request(case=case, urls=form.cleaned_data["urls"].splitlines(), acting_user=_actor(request))
            messages.success(request, _("%(n)s addresses queued for capture.") % {"n": len(rows)})
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Give at least one web address."))
    return redirect(f"/cases/{case.pk}/#evidence")
