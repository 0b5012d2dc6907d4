"""The takedown side of the retention process (cases/retention.py drives it through hooks).

Runs first in a case's purge, inside its transaction (the retention flag is on), because these
rows point at the case's evidence and fingerprints, which the evidence app deletes next:
1. the partner hash list loses the case's fingerprints: a delete event for each one on the list,
   so every partner drops it at its next read (the events outlive the fingerprints, carrying the
   id only); partners' feedback and quarantines of those fingerprints go;
2. watchlist hits on the case's evidence, and the case's own watchlists;
3. takedown requests with their notices, delivery attempts and re-checks. The compliance roll-up
   triggers record the hours these requests leave, so the figures are rebuilt without them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from evidence.models import Fingerprint
from takedowns import hashlist
from takedowns.models import (
    Check,
    DeliveryAttempt,
    HashFeedback,
    HashQuarantine,
    Notice,
    TakedownRequest,
    Watchlist,
    WatchlistHit,
)


def _deleted(qs: QuerySet[Any]) -> int:
    """Rows of the queryset's own model that were deleted (not the cascade's)."""
    _total, per_model = qs.delete()
    return per_model.get(qs.model._meta.label, 0)


def case_purge_preview(*, case_ids: list[int]) -> dict[str, int]:
    """Hook (question): what purging these cases would delete here, counts only."""
    fingerprints = Fingerprint.objects.filter(evidence__case_id__in=case_ids)
    return {
        "takedown_requests": TakedownRequest.objects.filter(case_id__in=case_ids).count(),
        "hashlist_removals": len(hashlist.listed_ids(fingerprints)),
    }


def on_case_purging(*, case_ids: list[int]) -> dict[str, int]:
    """Hook: deletes the takedown app's rows of these cases (see the module for the order)."""
    fingerprints = Fingerprint.objects.filter(evidence__case_id__in=case_ids)
    counts = {"hashlist_removals": hashlist.hashlist_remove_purged(fingerprints)}
    counts["hash_feedback"] = _deleted(HashFeedback.objects.filter(fingerprint__in=fingerprints))
    _deleted(HashQuarantine.objects.filter(fingerprint__in=fingerprints))
    counts["watchlist_hits"] = _deleted(
        WatchlistHit.objects.filter(Q(evidence__case_id__in=case_ids) | Q(watchlist__case_id__in=case_ids))
    )
    counts["watchlists"] = _deleted(Watchlist.objects.filter(case_id__in=case_ids))
    requests = TakedownRequest.objects.filter(case_id__in=case_ids)
    _deleted(DeliveryAttempt.objects.filter(notice__request__in=requests))
    counts["notices"] = _deleted(Notice.objects.filter(request__in=requests))
    counts["checks"] = _deleted(Check.objects.filter(request__in=requests))
    counts["takedown_requests"] = _deleted(requests)
    return counts


def register() -> None:
    from core import hooks

    hooks.register("case_purging", on_case_purging)
    hooks.register("case_purge_preview", case_purge_preview)
