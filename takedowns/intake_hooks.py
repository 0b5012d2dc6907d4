"""Takedowns' side of the public intake: addresses become drafts; progress in plain words."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.errors import ServiceError
from takedowns.models import RequestStatus, TakedownRequest


def urls_to_drafts(*, report: Any, urls: list[Any]) -> None:
    from takedowns.services import takedown_create

    case = report.case
    if case is None:
        return
    actor = report.triaged_by or case.created_by
    from takedowns.urlnorm import BadUrl, url_key

    for item in urls:
        try:
            key = url_key(item.url)
        except BadUrl:
            key = ""
        # The same page spelled another way is the same request (takedowns.urlnorm).
        existing = TakedownRequest.objects.filter(case=case, url=item.url).first() or (
            TakedownRequest.objects.filter(case=case, url_key=key).first() if key else None
        )
        request = existing
        if request is None:
            try:
                request = takedown_create(case=case, url=item.url, acting_user=actor)
            except ServiceError:
                continue  # an odd address stays on the report for a person to see
        type(item).objects.filter(pk=item.pk).update(takedown_id=request.pk)


def progress(takedown_ids: list[int]) -> dict[int, str]:
    words: dict[str, str] = {
        "draft": _("Being prepared"),
        "queued": _("Being sent to the platform"),
        "sent": _("Sent to the platform"),
        "acknowledged": _("The platform answered"),
        "rejected": _("The platform refused; we are following up"),
        "failed": _("Sending failed; we are following up"),
        "reappeared": _("Found again; sent again"),
        "unavailable": _("Already gone when we checked; no notice was needed"),
    }
    result: dict[int, str] = {}
    for pk, status, removed_at in TakedownRequest.objects.filter(pk__in=takedown_ids).values_list("pk", "status", "removed_at"):
        if status == RequestStatus.REMOVED and removed_at:
            result[pk] = _("Removed on %(date)s") % {"date": removed_at.date().isoformat()}
        else:
            result[pk] = str(words.get(status, status))
    return result
