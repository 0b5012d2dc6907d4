"""Watchlists: pages, channels and listings scanned on a schedule for known material.

A scan fetches the page through the one outbound client, takes every image and video on it,
and looks each up: by SHA-256 first (an exact copy), else by fingerprints computed in the
sandboxed probe and searched in the process index. A match becomes a takedown draft on the
matching case, a timeline entry ("found again") and a message to its caseworker. Nothing is
sent without a person's approval unless WATCHLIST_AUTO_SEND_MAX_DISTANCE is set.

Whose evidence (docs/matching.md, "Watchlists across centres"): a scan looks up every evidence
fingerprint, because a repost of another centre's victim matters, but acts in the name of the
watchlist's creator only on evidence that person may see (cases.selectors.cases_visible_to). A hit
on any other evidence makes no draft, nothing the creator can see (no count on the watchlist page,
no e-mail, no detail in the scan's audit event), and instead:
1. the hit row, a "found again" timeline entry on that case and an audit event for that case's
   centre are written in one transaction;
2. after the commit the active supervisors of that centre get one e-mail naming the case and
   linking to it, with no address and nothing about the victim. They decide what to do.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases.models import EventKind
from cases.selectors import cases_visible_to
from cases.services import case_record_event
from core import audit, http
from core.errors import ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role
from evidence.capture import extract_media_urls
from evidence.models import Evidence
from takedowns.matching import Match, fingerprints_of_file, match_fingerprints
from takedowns.models import TakedownRequest, Watchlist, WatchlistHit

logger = logging.getLogger(__name__)


@transaction.atomic
def watchlist_create(*, url: str, acting_user: User, case: Any = None, label: str = "", interval_minutes: int = 360) -> Watchlist:
    from takedowns.services import normalise_url

    if acting_user.role not in CASE_ROLES:
        raise ServiceError(_("Only caseworkers and supervisors keep watchlists."))
    if not 15 <= interval_minutes <= 7 * 24 * 60:
        raise ServiceError(_("Scan between every 15 minutes and once a week."), field="interval_minutes")
    watchlist = Watchlist.objects.create(
        case=case, url=normalise_url(url), label=label[:200], interval_minutes=interval_minutes, created_by=acting_user,
        next_scan_at=timezone.now(),
    )  # fmt: skip
    audit.record(
        "watchlist.create", actor=acting_user, obj=watchlist, centre_id=case.centre_id if case else acting_user.centre_id
    )
    return watchlist


def _media_of(url: str) -> tuple[int, list[tuple[str, bytes]]]:
    max_bytes = int(settings.EVIDENCE_LIMITS["max_image_bytes"])
    response = http.request("GET", url, timeout=20, max_bytes=max_bytes)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if response.status != 200:
        return response.status, []
    if content_type.startswith(("image/", "video/")):
        return response.status, [(response.url, response.body)]
    found = []
    for ref in extract_media_urls(response.body, response.url, response.headers.get("Content-Type"))[
        : settings.RECHECK_MAX_MEDIA
    ]:
        try:
            media = http.request("GET", ref.url, timeout=20, max_bytes=max_bytes)
        except http.OutboundError:
            continue
        if media.status == 200:
            found.append((ref.url, media.body))
    return response.status, found


def _lookup(body: bytes) -> list[Match]:
    exact = Evidence.objects.filter(sha256=hashlib.sha256(body).hexdigest()).values_list("pk", "case_id")
    if exact:
        return [Match(evidence=pk, case=case_id, algorithm="sha256", distance=0) for pk, case_id in exact]
    with tempfile.TemporaryDirectory(prefix="watch-") as work:
        path = Path(work) / "media"
        path.write_bytes(body)
        try:
            fingerprints = fingerprints_of_file(path)
        except Exception:  # noqa: BLE001 - a file we cannot read is simply not a match
            return []
    return match_fingerprints(fingerprints)


def scan(watchlist_id: int) -> int:
    """Scans one watchlist; returns how many new drafts it made."""
    watchlist = Watchlist.objects.select_related("created_by", "case").filter(pk=watchlist_id, active=True).first()
    if watchlist is None:
        return 0
    now = timezone.now()
    try:
        status, media = _media_of(watchlist.url)
        result = f"HTTP {status}, {len(media)} media"
    except http.OutboundError as exc:
        media, result = [], f"{type(exc).__name__}: {exc}"[:500]
    drafts = 0
    for media_url, body in media:
        matches = _lookup(body)
        if not matches:
            continue
        # What the creator may see, read now: a person who left or changed centre sees no more.
        mine = set(cases_visible_to(watchlist.created_by).filter(pk__in={m.case for m in matches}).values_list("pk", flat=True))
        for match in matches:
            if match.case in mine:
                drafts += _record_hit(watchlist, media_url, match)
            else:
                _record_hit_elsewhere(watchlist, media_url, match)
    with transaction.atomic():
        Watchlist.objects.filter(pk=watchlist.pk).update(
            last_scanned_at=now, next_scan_at=now + timedelta(minutes=watchlist.interval_minutes), last_result=result
        )
        # Counts of the creator's own drafts only: hits elsewhere are their case's centre's business.
        audit.record("watchlist.scanned", actor=None, obj=watchlist, details={"media": len(media), "drafts": drafts})
    return drafts


def _record_hit(watchlist: Watchlist, media_url: str, match: Match) -> int:
    from takedowns.services import takedown_approve, takedown_create

    evidence = Evidence.objects.select_related("case", "case__assigned_to").get(pk=match.evidence)
    case = evidence.case
    if WatchlistHit.objects.filter(watchlist=watchlist, media_url=media_url, evidence=evidence).exists():
        return 0
    actor = watchlist.created_by
    existing = TakedownRequest.objects.filter(case=case, url=media_url).first()
    with transaction.atomic():
        request = existing
        if request is None:
            try:
                request = takedown_create(case=case, url=media_url, acting_user=actor, evidence_ids=[evidence.pk])
            except ServiceError:
                request = None
        WatchlistHit.objects.create(
            watchlist=watchlist, media_url=media_url, evidence=evidence, algorithm=match.algorithm, distance=match.distance,
            takedown=request,
        )  # fmt: skip
        case_record_event(
            case=case, kind=EventKind.TAKEDOWN,
            data={"request": request.pk if request else "", "status": "found_again", "distance": match.distance},
        )  # fmt: skip
        audit.record(
            "watchlist.match", actor=None, obj=case,
            details={"watchlist": watchlist.pk, "evidence": evidence.pk, "algorithm": match.algorithm, "distance": match.distance},
        )  # fmt: skip
    made = 1 if request is not None and existing is None else 0
    if made and request is not None:
        _notify_caseworker(case, request)
        limit = settings.WATCHLIST_AUTO_SEND_MAX_DISTANCE
        if limit != "" and match.algorithm in ("pdq", "sha256") and match.distance <= int(limit) and request.platform_id:
            try:
                takedown_approve(requests=[request], acting_user=actor)
            except ServiceError as exc:
                logger.info("automatic sending skipped for request %s: %s", request.pk, exc.message)
    return made


def _record_hit_elsewhere(watchlist: Watchlist, media_url: str, match: Match) -> None:
    """A hit on evidence the watchlist's creator may not see: recorded for the case's centre, and
    its supervisors told; nothing in the creator's name and nothing they can see."""
    evidence = Evidence.objects.select_related("case").get(pk=match.evidence)
    case = evidence.case
    if WatchlistHit.objects.filter(watchlist=watchlist, media_url=media_url, evidence=evidence).exists():
        return
    with transaction.atomic():
        WatchlistHit.objects.create(
            watchlist=watchlist, media_url=media_url, evidence=evidence, algorithm=match.algorithm, distance=match.distance,
        )  # fmt: skip
        case_record_event(
            case=case, kind=EventKind.TAKEDOWN, data={"request": "", "status": "found_again", "distance": match.distance}
        )
        # For the case's centre (obj=case sets it); neither the watchlist's creator nor its centre.
        audit.record(
            "watchlist.match", actor=None, obj=case,
            details={"evidence": evidence.pk, "algorithm": match.algorithm, "distance": match.distance,
                     "creator_may_see": False},
        )  # fmt: skip
    _notify_case_supervisors(case)


def _notify_case_supervisors(case: Any) -> None:
    """One e-mail to the active supervisors of the case's centre: the case and a link, no address,
    nothing about the victim, and nothing about whose watchlist found it."""
    from core.links import site_url

    recipients = sorted(
        User.objects.filter(centre_id=case.centre_id, role=Role.SUPERVISOR, is_active=True, is_service_account=False)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    link = f"{site_url()}{reverse('cases:detail', args=[case.pk])}"
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("[%(centre)s] %(ref)s: a watched page matched evidence of one of your cases") % {
            "centre": settings.CENTRE_NAME, "ref": case.reference,
        }  # fmt: skip
        body = _(
            "A watched page matched evidence of one of your cases; see case %(ref)s: %(link)s\n\n"
            "No takedown request was made. Decide on the case page what to do.\n\n"
            "(For the victim's safety this e-mail never contains the address or anything about the victim.)"
        ) % {"ref": case.reference, "link": link}
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - the hit is on the case's timeline whatever happens to the e-mail
        logger.warning("could not e-mail the supervisors of case %s", case.pk)


def _notify_caseworker(case: Any, request: TakedownRequest) -> None:
    recipient = case.assigned_to.email if case.assigned_to and case.assigned_to.email else ""
    if not recipient:
        return
    # Only the reference and the request number: no victim detail, no URL, in the e-mail.
    try:
        send_mail(
            f"[{settings.CENTRE_NAME}] {case.reference}: known material found again",
            f"A watchlist scan found material matching evidence of case {case.reference}. "
            f"Takedown request #{request.pk} waits for your approval on the case page.",
            settings.DEFAULT_FROM_EMAIL,
            [recipient],
        )
    except Exception:  # noqa: BLE001 - the case page shows the hit whatever happens to the e-mail
        logger.warning("could not e-mail the caseworker of case %s", case.pk)


def schedule_due_scans(*, limit: int = 500) -> int:
    from takedowns.tasks import scan_watchlist

    now = timezone.now()
    due = list(Watchlist.objects.filter(active=True, next_scan_at__lte=now).values_list("pk", flat=True)[:limit])
    Watchlist.objects.filter(pk__in=due).update(next_scan_at=now + timedelta(minutes=30))
    for watchlist_id in due:
        scan_watchlist.delay(watchlist_id)
    return len(due)
