"""Staff pages for matching a found file or URL, and for watchlists."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cases.selectors import cases_visible_to
from core import http
from core.errors import ServiceError
from core.models import User
from core.roles import CASE_ROLES
from core.uploads import uploaded_path
from evidence.selectors import evidence_visible_to
from evidence.validation import Refused
from takedowns import services
from takedowns.matching import fingerprints_of_file, match_fingerprints
from takedowns.models import Watchlist


class MatchForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("A file you found"), required=False)
    url = forms.URLField(
        label=gettext_lazy("…or the address where you found it"), required=False, max_length=2000, assume_scheme="https"
    )


class WatchlistForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("Page, channel or listing to watch"), max_length=2000, assume_scheme="https")
    case = forms.CharField(label=gettext_lazy("Case reference (empty: every case)"), required=False, max_length=32)
    label = forms.CharField(label=gettext_lazy("Label"), required=False, max_length=200)
    interval_minutes = forms.IntegerField(label=gettext_lazy("Scan every (minutes)"), min_value=15, max_value=10080, initial=360)


def _require(request: HttpRequest) -> User:
    if getattr(request.user, "role", None) not in CASE_ROLES:
        raise Http404
    return cast(User, request.user)


def match_page(request: HttpRequest) -> HttpResponse:
    user = _require(request)
    form = MatchForm(request.POST or None, request.FILES or None)
    results: list[dict[str, Any]] | None = None
    searched_url = ""
    if request.method == "POST" and form.is_valid():
        uploaded = form.cleaned_data.get("file")
        searched_url = form.cleaned_data.get("url") or ""
        try:
            with tempfile.TemporaryDirectory(prefix="match-page-") as work:
                if uploaded is not None:
                    path = uploaded_path(uploaded)
                    fingerprints = fingerprints_of_file(Path(path))
                elif searched_url:
                    fetched = http.request("GET", searched_url, timeout=20, max_bytes=50 * 1024 * 1024)
                    path = Path(work) / "found"
                    path.write_bytes(fetched.body)
                    fingerprints = fingerprints_of_file(path) if fetched.status == 200 else []
                else:
                    raise ServiceError(_("Give a file or an address."))
            matches = match_fingerprints(fingerprints, visible_evidence=evidence_visible_to(user))
            cases = {c.pk: c for c in cases_visible_to(user).filter(pk__in={m.case for m in matches})}
            results = [{"match": m, "case": cases.get(m.case)} for m in matches if m.case in cases]
        except Refused as exc:
            messages.error(request, exc.message)
        except http.OutboundError as exc:
            messages.error(request, _("The address could not be fetched: %(error)s") % {"error": exc})
        except ServiceError as exc:
            messages.error(request, exc.message)
    return render(request, "takedowns/match.html", {"form": form, "results": results, "searched_url": searched_url})


@require_POST
def match_create_drafts(request: HttpRequest) -> HttpResponse:
    """One step from matches to takedown drafts: one per chosen case, for the address searched."""
    user = _require(request)
    url = request.POST.get("url", "")
    chosen = [int(v) for v in request.POST.getlist("evidence") if v.isdigit()]
    evidence = list(evidence_visible_to(user).filter(pk__in=chosen).select_related("case"))
    created = 0
    for item in evidence:
        try:
            services.takedown_create(case=item.case, url=url, acting_user=user, evidence_ids=[item.pk])
            created += 1
        except ServiceError as exc:
            messages.error(request, f"{item.case.reference}: {exc.message}")
    if created:
        messages.success(request, _("%(n)s takedown drafts created; approve them on each case.") % {"n": created})
    return redirect("takedowns:match")


def watchlist_page(request: HttpRequest) -> HttpResponse:
    from takedowns.watchlists import watchlist_create

    user = _require(request)
    form = WatchlistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case = None
        reference = form.cleaned_data["case"].strip()
        if reference:
            case = cases_visible_to(user).filter(reference=reference).first()
            if case is None:
                form.add_error("case", _("No case with that reference that you may see."))
        if form.is_valid():
            try:
                watchlist_create(
                    url=form.cleaned_data["url"], acting_user=user, case=case, label=form.cleaned_data["label"],
                    interval_minutes=form.cleaned_data["interval_minutes"],
                )  # fmt: skip
                messages.success(request, _("Watchlist added; the first scan runs within minutes."))
                return redirect("takedowns:watchlists")
            except ServiceError as exc:
                form.add_error(None, exc.message)
    visible_cases = cases_visible_to(user)
    watchlists = Watchlist.objects.filter(case__in=visible_cases) | Watchlist.objects.filter(
        case__isnull=True, created_by__centre=user.centre
    )
    # Found: only hits on evidence this person may see. A hit on another centre's evidence is that
    # centre's (takedowns.watchlists): not even its count shows here.
    found = Count("hits", filter=Q(hits__evidence__case__in=visible_cases.values("pk")), distinct=True)
    return render(
        request,
        "takedowns/watchlists.html",
        {"form": form, "watchlists": watchlists.select_related("case").annotate(found=found)[:200]},
    )
