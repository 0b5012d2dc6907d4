"""Compliance pages: the dashboard (analysts, supervisors, admins), drill-down, CSV, a chart as
SVG, and the public transparency page (no login)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cases.models import Category
from core.roles import COMPLIANCE_ROLES
from takedowns import charts, compliance, rollup


class FilterForm(forms.Form):
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=gettext_lazy("Until (not included)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    jurisdiction = forms.CharField(label=gettext_lazy("Jurisdiction"), required=False, max_length=8)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False, choices=[("", "—"), *Category.choices])


def _filters(request: HttpRequest) -> tuple[FilterForm, compliance.Filters]:
    if getattr(request.user, "role", None) not in COMPLIANCE_ROLES:
        raise Http404
    today = timezone.localdate()
    data = request.GET.copy()
    data.setdefault("since", (today - timedelta(days=365)).isoformat())
    data.setdefault("until", (today + timedelta(days=1)).isoformat())
    form = FilterForm(data)
    v: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    return form, compliance.Filters(
        since=v.get("since"), until=v.get("until"), jurisdiction=v.get("jurisdiction") or None, category=v.get("category") or None
    )


PAGE_ROWS = 1000


class _Echo:
    """csv.writer writes into this and gets the line back, for a streamed response."""

    def write(self, value: str) -> str:
        return value


def _streamed_csv(name: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)  # byte-order mark, so spreadsheet programs read Korean
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read Korean correctly
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


FIELDS = ["platform", "requests", "removed", "removal_rate", "median_hours_to_removal", "p90_hours_to_removal", "within_sla_rate",
          "overdue", "median_hours_to_first_answer", "reappeared", "reappearance_rate", "renotices", "escalations"]  # fmt: skip


def _summary(filters: compliance.Filters) -> compliance.Summary:
    rollup.refresh_if_dirty()
    return compliance.summary(filters)


def dashboard(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    summary = _summary(filters)
    if request.GET.get("format") == "csv":
        rows = [*summary.rows, summary.overall]
        return _csv("compliance", FIELDS, [[compliance.as_api(r)[f] for f in FIELDS] for r in rows])
    return render(request, "takedowns/compliance.html", {
        "form": form, "rows": summary.rows, "overall": summary.overall, "query": request.GET.urlencode(),
        "charts": list(charts.build(summary).values()),
    })  # fmt: skip


def chart_download(request: HttpRequest, name: str, ext: str) -> HttpResponse:
    """One chart as an image (SVG) or its data (CSV), for the same filters as the dashboard."""
    _form, filters = _filters(request)
    chart = charts.build(_summary(filters)).get(name)
    if chart is None or ext not in ("svg", "csv"):
        raise Http404
    if ext == "csv":
        return _csv(name, chart.header, chart.rows)
    response = HttpResponse(chart.svg or charts.empty(chart.title), content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="{name}.svg"'
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def requests_behind(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The requests behind a figure. A supervisor gets their own centre's rows with addresses;
    analysts and administrators every row with the host and a keyed hash instead of the address
    (takedowns.compliance, "Who sees which rows")."""
    _form, filters = _filters(request)
    figure = request.GET.get("figure", "requests")
    if figure not in compliance.DRILLDOWN:
        raise Http404
    platform = request.GET.get("platform", "")
    if platform.isdigit():
        filters = compliance.Filters(**{**filters.__dict__, "platform_id": int(platform)})
    behind = compliance.drilldown_for(request.user, filters, figure)
    # drilldown_for keeps only the rows a supervisor may open; nobody else sees an address.
    with_urls = compliance.sees_addresses_of_own_centre(request.user)
    if request.GET.get("format") == "csv":
        # Every request, not just the first page: streamed, so a year's worth never sits in memory.
        # The same columns for everyone; "url" is empty for those who may not see addresses.
        header = ["id", "platform", "host", "url_hash", "url", "status", "sent_at", "deadline", "acknowledged_at",
                  "removed_at", "reappeared_at", "escalation_level"]  # fmt: skip

        def line(r: Any) -> list[Any]:
            address = compliance.address_for(r, visible=with_urls)
            # A cell starting with =, +, - or @ is a formula to a spreadsheet: quote it as text.
            url = f"'{address.url}" if address.url[:1] in "=+-@" and address.url else address.url
            return [r.pk, r.platform.name if r.platform else "", address.host, address.pseudonym, url, r.status, r.sent_at,
                    r.deadline, r.acknowledged_at, r.removed_at, r.reappeared_at, r.escalation_level]  # fmt: skip

        return _streamed_csv(f"requests-{figure}", header, (line(r) for r in behind.iterator(chunk_size=2000)))
    rows = list(behind[:PAGE_ROWS])
    for row in rows:
        row.address = compliance.address_for(row, visible=with_urls)  # type: ignore[attr-defined]
    total = len(rows) if len(rows) < PAGE_ROWS else behind.count()
    return render(request, "takedowns/compliance_requests.html", {
        "rows": rows, "figure": figure, "label": compliance.DRILLDOWN_LABELS[figure], "total": total,
        "shown": len(rows), "query": request.GET.urlencode(), "with_urls": with_urls,
    })  # fmt: skip


def transparency_page(request: HttpRequest) -> HttpResponse:
    """Public: aggregate figures only, small counts suppressed."""
    rows = compliance.transparency()
    if request.GET.get("format") == "csv":
        return _csv("transparency", ["month", "platform", "requests", "removed", "removal_rate"],
                    [[r["month"], r["platform"], r["requests"], r["removed"], r["removal_rate"]] for r in rows])  # fmt: skip
    response = render(request, "takedowns/transparency.html", {"rows": rows, "today": date.today()})
    response["Referrer-Policy"] = "no-referrer"
    return response


def workload_page(request: HttpRequest) -> HttpResponse:
    """Supervisors: open work per caseworker of their centre, oldest untouched first."""
    if getattr(request.user, "role", None) != "supervisor":
        raise Http404
    rows = compliance.workload(request.user.centre_id)  # type: ignore[union-attr, arg-type]
    return render(request, "takedowns/workload.html", {"rows": rows})
