from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest

from core.panels import Panel
from takedowns.forms import ApproveForm, BulkForm
from takedowns.models import Platform, RequestStatus, TakedownRequest
from takedowns.selectors import RequestFilters, duplicate_labels

# The case page has other things in its query string: the takedown list's filters carry a prefix.
PREFIX = "t_"
PAGE_SIZE = 50


def case_takedowns_panel(request: HttpRequest, case: Any) -> Panel:
    """The case's takedown requests: one page of them, filtered and sorted from the query string
    (t_status, t_platform, t_deadline, t_sort, t_page), with counts per status. A fixed number of
    queries whatever the size of the case (tests/takedowns/test_large_cases.py holds it to that)."""
    from takedowns.views import _deadline_choices, _sort_links, bulk_result_for

    filters = RequestFilters.from_query(request.GET, prefix=PREFIX)
    requests = TakedownRequest.objects.filter(case=case)
    counts = dict(requests.values_list("status").annotate(n=Count("id")).order_by())
    labels = dict(RequestStatus.choices)
    listed = filters.apply(requests.select_related("platform", "duplicate_of__case"))
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get(PREFIX + "page"))
    rows = list(page.object_list)
    labels_of_duplicates = duplicate_labels(rows, user=request.user)
    for row in rows:
        row.duplicate_label = labels_of_duplicates.get(row.pk)  # type: ignore[attr-defined]
    choices = [(str(e.pk), f"#{e.pk} {e.get_kind_display()}") for e in case.evidence.all()[:200]]
    drafts = counts.get(RequestStatus.DRAFT, 0)
    return Panel(
        template="takedowns/case_panel.html",
        order=20,
        context={
            "requests": rows,
            "page": page,
            "total": sum(counts.values()),
            "counts": counts,
            "status_counts": [
                (value, labels.get(value, value), counts[value]) for value in RequestStatus.values if value in counts
            ],
            "drafts": drafts,
            "drafts_ready": requests.filter(status=RequestStatus.DRAFT, platform__isnull=False).count() if drafts else 0,
            "filters": filters,
            "query": filters.query(prefix=PREFIX),
            "list_query": filters.query(case=str(case.pk)),
            "sort_links": _sort_links(filters, prefix=PREFIX),
            "statuses": RequestStatus.choices,
            "platforms": list(Platform.objects.only("pk", "name")),
            "deadlines": _deadline_choices(),
            "ids": ",".join(str(r.pk) for r in rows),
            "bulk_result": bulk_result_for(request, case.pk),
            "bulk_form": BulkForm(evidence_choices=choices),
            "approve_form": ApproveForm(),
        },
    )
