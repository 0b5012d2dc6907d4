"""What waits for a caseworker or supervisor in the cases app, for the "My work" page
(core.panels.work_items): new public reports, unread messages from reporters, urgent cases and,
for supervisors, data deletion requests to decide and cases nobody is assigned to."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from cases.models import CaseStatus, IntakeStatus, Priority
from cases.selectors import cases_visible_to, intake_reports_visible_to, unread_message_count
from core.panels import WorkItem
from core.roles import Role


def work_items(user: Any) -> list[WorkItem]:
    triage = reverse("intake_staff:triage_list")
    cases = reverse("cases:list")
    new_reports = intake_reports_visible_to(user).filter(case__isnull=True, status=IntakeStatus.RECEIVED).count()
    open_cases = cases_visible_to(user).exclude(status=CaseStatus.CLOSED)
    items = [
        WorkItem(
            key="new_reports",
            label=_("New reports for my centre"),
            count=new_reports,
            url=f"{triage}?{urlencode({'status': IntakeStatus.RECEIVED})}",
            order=10,
            hint=_("Public reports not yet opened as a case."),
        ),
        WorkItem(
            key="unread_messages",
            label=_("Unread messages from reporters"),
            count=unread_message_count(user),
            url=f"{triage}?{urlencode({'unread': '1'})}",
            order=20,
            urgent=True,
        ),
        WorkItem(
            key="urgent_cases",
            label=_("Urgent cases still open"),
            count=open_cases.filter(priority=Priority.URGENT).count(),
            url=f"{cases}?{urlencode({'priority': Priority.URGENT})}",
            order=60,
        ),
    ]
    if user.role == Role.SUPERVISOR:
        # Only supervisors decide victims' deletion requests; one waiting is a victim waiting.
        from cases.deletion import deletion_requests_for
        from cases.models import DeletionStatus

        items.append(
            WorkItem(
                key="deletion_requests",
                label=_("Data deletion requests to decide"),
                count=deletion_requests_for(user).filter(status=DeletionStatus.PENDING).count(),
                url=reverse("cases:deletion_requests"),
                order=15,
                urgent=True,
            )
        )
        items.append(
            WorkItem(
                key="unassigned_cases",
                label=_("Open cases nobody is assigned to"),
                count=open_cases.filter(assigned_to__isnull=True).count(),
                url=f"{cases}?{urlencode({'assignee': 'none'})}",
                order=70,
            )
        )
    return items
