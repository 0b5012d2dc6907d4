"""What waits for a caseworker or supervisor in takedowns, for the "My work" page
(core.panels.work_items): deadlines passed and near, material back online, notices that failed,
drafts waiting for approval and web forms to submit by hand. Scoped like every takedown read,
through the cases the person may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.panels import WorkItem
from takedowns.models import Notice, NoticeStatus, RequestStatus
from takedowns.selectors import RequestFilters, requests_visible_to


def work_items(user: Any) -> list[WorkItem]:
    now = timezone.now()
    listing = reverse("takedowns:list")
    # Each card is one of the request list's filters: the count uses the filter's own condition
    # and the link its own query string, so a count and the list it opens always agree.
    cards = [
        ("overdue", _("Deadlines passed"), RequestFilters(deadline="overdue"), 1, True),
        ("reappeared", _("Material back online"), RequestFilters(status=RequestStatus.REAPPEARED), 2, True),
        ("failed", _("Notices that could not be delivered"), RequestFilters(status=RequestStatus.FAILED), 3, True),
        ("deadline_soon", _("Deadlines within 24 hours"), RequestFilters(deadline="soon"), 30, False),
        ("drafts", _("Takedown drafts waiting for approval"), RequestFilters(status=RequestStatus.DRAFT), 40, False),
    ]
    counts = requests_visible_to(user).aggregate(
        **{key: Count("pk", filter=filters.condition(now=now)) for key, _label, filters, _order, _urgent in cards}
    )
    manual = Notice.objects.filter(status=NoticeStatus.MANUAL, request__in=requests_visible_to(user).values("pk")).count()
    items = [
        WorkItem(key, label, counts[key], f"{listing}?{filters.query()}", order=order, urgent=urgent)
        for key, label, filters, order, urgent in cards
    ]
    items.append(WorkItem("manual", _("Web forms to submit by hand"), manual, reverse("takedowns:manual"), order=50))
    return items
