"""What waits for a caseworker or supervisor in takedowns, for the "My work" page
(core.panels.work_items): deadlines passed and near, material back online, notices that failed,
drafts waiting for approval and web forms to submit by hand. Scoped like every takedown read,
through the cases the person may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.panels import WorkItem
from takedowns.models import OPEN_STATUSES, Notice, NoticeStatus, RequestStatus
from takedowns.selectors import requests_visible_to

# "Near" on the page: the same window as the list's "due within 24 hours" filter.
SOON = timedelta(hours=24)


def work_items(user: Any) -> list[WorkItem]:
    now = timezone.now()
    listing = reverse("takedowns:list")
    counts = requests_visible_to(user).aggregate(
        overdue=Count("pk", filter=Q(status__in=OPEN_STATUSES, deadline__lt=now)),
        soon=Count("pk", filter=Q(status__in=OPEN_STATUSES, deadline__gte=now, deadline__lt=now + SOON)),
        reappeared=Count("pk", filter=Q(status=RequestStatus.REAPPEARED)),
        failed=Count("pk", filter=Q(status=RequestStatus.FAILED)),
        drafts=Count("pk", filter=Q(status=RequestStatus.DRAFT)),
    )
    manual = Notice.objects.filter(status=NoticeStatus.MANUAL, request__in=requests_visible_to(user).values("pk")).count()

    def link(**query: str) -> str:
        return f"{listing}?{urlencode(query)}"

    return [
        WorkItem("overdue", _("Deadlines passed"), counts["overdue"], link(deadline="overdue"), order=1, urgent=True),
        WorkItem("reappeared", _("Material back online"), counts["reappeared"], link(status=RequestStatus.REAPPEARED), order=2,
                 urgent=True),
        WorkItem("deadline_soon", _("Deadlines within 24 hours"), counts["soon"], link(deadline="soon"), order=30),
        WorkItem("failed", _("Notices that could not be delivered"), counts["failed"], link(status=RequestStatus.FAILED), order=3,
                 urgent=True),
        WorkItem("drafts", _("Takedown drafts waiting for approval"), counts["drafts"], link(status=RequestStatus.DRAFT), order=40),
        WorkItem("manual", _("Web forms to submit by hand"), manual, reverse("takedowns:manual"), order=50),
    ]  # fmt: skip
