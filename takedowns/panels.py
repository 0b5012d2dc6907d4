from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest

from core.panels import Panel
from takedowns.forms import ApproveForm, BulkForm
from takedowns.models import TakedownRequest


def case_takedowns_panel(request: HttpRequest, case: Any) -> Panel:
    requests = TakedownRequest.objects.filter(case=case).select_related("platform").order_by("-created_at", "-id")
    counts = dict(requests.values_list("status").annotate(n=Count("id")).order_by())
    choices = [(str(e.pk), f"#{e.pk} {e.get_kind_display()}") for e in case.evidence.all()[:200]]
    return Panel(
        template="takedowns/case_panel.html",
        order=20,
        context={
            "requests": requests[:300],
            "total": sum(counts.values()),
            "counts": counts,
            "drafts": counts.get("draft", 0),
            "bulk_form": BulkForm(evidence_choices=choices),
            "approve_form": ApproveForm(),
        },
    )
