"""Writes on platforms, takedown requests, notices, deliveries, checks, deadlines.

Every function that changes state writes its audit event in the same transaction. Outbound
work (HTTP, e-mail) happens only in workers and never inside a transaction: the notice row is
the outbox, the broker only carries a wake-up.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, ConsentKind, EventKind
from cases.services import case_record_event, case_record_events, case_status_follow_work, consent_require
from core import audit
from core.errors import Conflict, PermissionDenied, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role
from evidence.models import Evidence
from takedowns.models import (
    FINISHED_STATUSES,
    LEADING_STATUSES,
    OPEN_STATUSES,
    Channel,
    Check,
    CheckOutcome,
    DeliveryAttempt,
    Notice,
    NoticeKind,
    NoticeStatus,
    Platform,
    RequestStatus,
    TakedownRequest,
)
from takedowns.selectors import PlatformMatcher, host_of
from takedowns.urlnorm import BadUrl, clean_url, url_key

logger = logging.getLogger(__name__)


def _require_case_role(user: User) -> None:
    if user.role not in CASE_ROLES:
        raise PermissionDenied(_("Only caseworkers and supervisors handle takedowns."))


# Platforms ------------------------------------------------------------------------------------


@transaction.atomic
def platform_create(*, acting_user: Any, name: str, domains: list[str], **fields: Any) -> Platform:
    if acting_user is not None and getattr(acting_user, "role", None) != Role.ADMIN:
        raise PermissionDenied(_("Only administrators manage platforms."))
    clean_domains = sorted({str(d).lower().strip().rstrip(".") for d in domains if str(d).strip()})
    if not clean_domains:
        raise ServiceError(_("Give at least one domain or address."), field="domains")
    if Platform.objects.filter(name__iexact=name).exists():
        raise Conflict(_("A platform with that name exists."))
    if "sla_hours" not in fields or not fields["sla_hours"]:
        from takedowns.jurisdictions import default_sla_hours

        fields["sla_hours"] = default_sla_hours(fields.get("jurisdiction", "KR"))
    platform = Platform.objects.create(name=name, domains=clean_domains, **fields)
    audit.record("platform.create", actor=acting_user, obj=platform, details={"name": name, "channel": platform.channel})
    # Requests waiting for a platform with a now-known host are matched at once.
    matcher = PlatformMatcher([platform])
    for request in TakedownRequest.objects.filter(platform__isnull=True).only("pk", "host"):
        if matcher.match(request.host):
            TakedownRequest.objects.filter(pk=request.pk).update(platform=platform)
    return platform


# Requests ------------------------------------------------------------------------------------


def refusal_words(reason: str) -> str:
    """Why an address was refused, in the reader's language (reasons are stored as codes)."""
    words = {
        "not_url": _("not a web address"),
        "scheme": _("only http and https addresses are accepted"),
        "too_long": _("longer than 2,000 characters"),
        "repeated": _("the same address as an earlier line"),
        "in_case": _("already requested in this case"),
        "limit": _("over the limit of 5,000 addresses at once"),
    }
    return str(words.get(reason, reason))


def normalise_url(raw: str) -> str:
    """The address to store (takedowns.urlnorm.clean_url), or a ServiceError that says why not."""
    try:
        return clean_url(raw)
    except BadUrl as exc:
        raise ServiceError(
            _("Not a web address (%(reason)s): %(url)s") % {"reason": refusal_words(exc.reason), "url": raw.strip()[:200]},
            field="url",
        ) from exc


def _case_evidence(case: Case, evidence_ids: Iterable[Any]) -> list[Evidence]:
    ids = {int(i) for i in evidence_ids}
    found = list(Evidence.objects.filter(case=case, pk__in=ids))
    if len(found) != len(ids):
        raise ServiceError(_("Evidence must belong to the same case."), field="evidence")
    return found


def _leaders(keys: Iterable[str], *, exclude_case: Any = None) -> dict[str, int]:
    """For each duplicate key, the request (any case, any centre) already working on that page:
    the oldest one being sent, followed or watched that is not itself a follower. One index hit."""
    qs = TakedownRequest.objects.filter(url_key__in=set(keys), status__in=LEADING_STATUSES, duplicate_of__isnull=True)
    if exclude_case is not None:
        qs = qs.exclude(case=exclude_case)
    found: dict[str, int] = {}
    for key, pk in qs.order_by("created_at", "pk").values_list("url_key", "pk"):
        found.setdefault(key, pk)
    return found


def _open_elsewhere(keys: Iterable[str], *, case: Case) -> dict[str, int]:
    """What a new request is a duplicate of: a leader, or else the oldest draft for the page in
    another case (so both caseworkers see each other's request before either is sent)."""
    keys = set(keys)
    found = _leaders(keys, exclude_case=case)
    waiting = keys - set(found)
    if waiting:
        drafts = (
            TakedownRequest.objects.filter(url_key__in=waiting, status=RequestStatus.DRAFT, duplicate_of__isnull=True)
            .exclude(case=case)
            .order_by("created_at", "pk")
            .values_list("url_key", "pk")
        )
        for key, pk in drafts:
            found.setdefault(key, pk)
    return found


@transaction.atomic
def takedown_create(*, case: Case, url: str, acting_user: User, evidence_ids: Iterable[Any] = ()) -> TakedownRequest:
    _require_case_role(acting_user)
    clean = normalise_url(url)
    key = url_key(clean)
    existing = TakedownRequest.objects.filter(case=case, url_key=key).first() or (
        TakedownRequest.objects.filter(case=case, url=clean).first()
    )
    if existing is not None:
        raise Conflict(_("This URL already has takedown request %(id)s in this case.") % {"id": existing.pk})
    evidence = _case_evidence(case, evidence_ids)
    host = host_of(clean)
    request = TakedownRequest.objects.create(
        case=case, url=clean, url_key=key, host=host, platform=PlatformMatcher().match(host), created_by=acting_user,
        urgent=case.priority == "urgent" or case.victim.is_minor, duplicate_of_id=_open_elsewhere([key], case=case).get(key),
    )  # fmt: skip
    if evidence:
        request.evidence.set(evidence)
    audit.record(
        "takedown.create", actor=acting_user, obj=request, centre_id=case.centre_id,
        details={"case": case.pk, "duplicate_of": request.duplicate_of_id},
    )  # fmt: skip
    return request


@dataclass(frozen=True)
class Refusal:
    """A pasted line that made no request: its number (1-based), its text (cut short) and why (a code)."""

    line: int
    text: str
    reason: str

    @property
    def words(self) -> str:
        return refusal_words(self.reason)


@dataclass
class Pasted:
    """What a paste or CSV holds: the addresses with their line numbers, and the lines refused."""

    urls: list[tuple[int, str]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    # Each line as pasted (cut short), to name it when it is refused later.
    lines: dict[int, str] = field(default_factory=dict)


@dataclass
class BulkResult:
    created: list[TakedownRequest] = field(default_factory=list)
    merged: int = 0
    invalid: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    # New requests for a page another case's request already works on: they follow it.
    duplicates: int = 0


_SCHEME_LIKE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")


def parse_pasted(text: str) -> Pasted:
    """Every line of a paste or CSV, one by one: the addresses in it (with or without a scheme:
    `instagram.com/p/...` becomes https://...), and each line that held none, with the reason.
    Blank lines are skipped; words beside an address on its line (a CSV note column) are ignored."""
    import csv
    import io

    pasted = Pasted()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cells = next(csv.reader(io.StringIO(line)), [])
        except csv.Error:
            cells = [line]
        found: list[str] = []
        reason = "not_url"
        for cell in cells:
            for token in cell.split():
                token = token.strip().strip("<>\"'")
                if not token:
                    continue
                try:
                    found.append(clean_url(token))
                except BadUrl as exc:
                    if exc.reason in ("scheme", "too_long") and (exc.reason == "too_long" or _SCHEME_LIKE.match(token)):
                        # An address of the wrong kind is refused even beside good ones: say so.
                        pasted.refused.append(Refusal(number, token[:200], exc.reason))
                        reason = ""
        if found:
            pasted.urls.extend((number, url) for url in found)
            pasted.lines[number] = line.strip()[:200]
        elif reason:
            pasted.refused.append(Refusal(number, line.strip()[:200], reason))
    return pasted


def parse_url_list(text: str) -> list[str]:
    """The addresses in pasted text or CSV, in order (see parse_pasted for the refused lines)."""
    return [url for _line, url in parse_pasted(text).urls]


@transaction.atomic
def takedown_bulk_create(
    *, case: Case, urls: list[str] | Pasted, acting_user: User, evidence_ids: Iterable[Any] = ()
) -> BulkResult:
    """Creates one draft per new address in a single transaction and says what happened to every
    other line: repeated in the paste or already in this case (merged), or refused with a reason.
    An address another case already works on makes a draft that follows it (duplicate_of)."""
    _require_case_role(acting_user)
    pasted = urls if isinstance(urls, Pasted) else Pasted(urls=list(enumerate(urls, start=1)))
    if len(pasted.urls) > 5000:
        raise ServiceError(_("At most 5,000 addresses at once."), field="urls")
    result = BulkResult(refused=list(pasted.refused))
    in_case = dict(TakedownRequest.objects.filter(case=case).values_list("url_key", "pk"))
    in_case_urls = set(TakedownRequest.objects.filter(case=case).values_list("url", flat=True))
    matcher = PlatformMatcher()
    evidence = _case_evidence(case, evidence_ids)
    urgent = case.priority == "urgent" or case.victim.is_minor
    rows: list[TakedownRequest] = []
    seen: dict[str, int] = {}
    for number, raw in pasted.urls:
        try:
            clean = clean_url(raw)
        except BadUrl as exc:
            result.invalid.append(raw[:200])
            result.refused.append(Refusal(number, raw[:200], exc.reason))
            continue
        key = url_key(clean)
        if key in seen:
            result.merged += 1
            result.refused.append(Refusal(number, pasted.lines.get(number, raw[:200]), "repeated"))
            continue
        if key in in_case or clean in in_case_urls:
            result.merged += 1
            result.refused.append(Refusal(number, pasted.lines.get(number, raw[:200]), "in_case"))
            continue
        seen[key] = number
        host = host_of(clean)
        rows.append(
            TakedownRequest(
                case=case, url=clean, url_key=key, host=host, platform=matcher.match(host), created_by=acting_user,
                urgent=urgent,
            )
        )  # fmt: skip
    elsewhere = _open_elsewhere([r.url_key for r in rows], case=case)
    for row in rows:
        row.duplicate_of_id = elsewhere.get(row.url_key)
    result.duplicates = sum(1 for r in rows if r.duplicate_of_id)
    result.refused.sort(key=lambda r: r.line)
    result.created = TakedownRequest.objects.bulk_create(rows, batch_size=500)
    if evidence and result.created:
        through = TakedownRequest.evidence.through
        through.objects.bulk_create(
            [through(takedownrequest_id=r.pk, evidence_id=e.pk) for r in result.created for e in evidence], batch_size=1000
        )
    audit.record(
        "takedown.bulk_create", actor=acting_user, obj=case,
        details={"created": len(result.created), "merged": result.merged, "refused": len(result.refused),
                 "duplicates": result.duplicates},
    )  # fmt: skip
    return result


@transaction.atomic
def takedown_set_platform(*, request: TakedownRequest, platform: Platform, acting_user: User) -> TakedownRequest:
    _require_case_role(acting_user)
    request.platform = platform
    request.save(update_fields=["platform", "updated_at"])
    audit.record(
        "takedown.platform", actor=acting_user, obj=request, centre_id=request.case.centre_id, details={"platform": platform.pk}
    )
    return request


def _reference_token(request: TakedownRequest) -> str:
    from takedowns.notices import make_reference_token

    return make_reference_token(request.case.reference, request.pk)


def _render(
    request: TakedownRequest, kind: str, *, language: str | None = None, history: list[str] | None = None
) -> tuple[str, str, str]:
    from takedowns.notices import render_notice
    from takedowns.transports.api import notice_fingerprints

    platform = request.platform
    assert platform is not None
    lang = language or platform.notice_language or "en"
    subject, body = render_notice(
        language=lang,
        jurisdiction=platform.jurisdiction,
        url=request.url,
        case_reference=request.case.reference,
        category=request.case.category,
        deadline=request.deadline,
        fingerprints=notice_fingerprints(request) or None,
        organisation=settings.CENTRE_NAME,
        reply_email=settings.DEFAULT_FROM_EMAIL,
        kind=kind,
        history=history,
        reference_token=_reference_token(request),
        previous_notice_at=request.last_notice_at,
        platform_name=platform.name,
        urgent=request.urgent,
    )
    return lang, subject, body


def _build_notice(request: TakedownRequest, kind: str, *, history: list[str] | None = None) -> Notice:
    """The notice for a request, rendered and addressed but not yet saved."""
    platform = request.platform
    assert platform is not None
    if kind == NoticeKind.ESCALATION:
        channel: str = Channel.EMAIL
        recipient = platform.escalation_email
        lang, subject, body = _render(request, kind, language="en", history=history)
    else:
        channel = platform.channel
        recipient = (
            platform.email if channel == Channel.EMAIL else platform.endpoint if channel == Channel.API else platform.web_form_url
        )
        lang, subject, body = _render(request, kind)
    # Every notice starts pending, web-form ones too: the worker looks at the page before the first
    # notice (takedowns.liveness), and only then does a web-form notice wait for a person (status
    # manual, set by transports.manual). A page already gone never reaches the person's queue.
    return Notice(
        request=request, kind=kind, channel=channel, language=lang, recipient=recipient, subject=subject, body=body,
        status=NoticeStatus.PENDING,
    )  # fmt: skip


def _new_notice(request: TakedownRequest, kind: str, *, history: list[str] | None = None) -> Notice:
    notice = _build_notice(request, kind, history=history)
    notice.save()
    _wake_on_commit(notice.pk)
    return notice


def _wake_on_commit(notice_id: int) -> None:
    transaction.on_commit(lambda: wake_notices([notice_id]))


def wake_notices(notice_ids: list[int]) -> int:
    """Queues delivery in batches. Losing these messages loses nothing: the sweeper finds the rows."""
    from takedowns.tasks import deliver_batch, deliver_notice

    woken = 0
    size = settings.TAKEDOWN_BATCH_SIZE
    for start in range(0, len(notice_ids), size):
        batch = notice_ids[start : start + size]
        try:
            if len(batch) == 1:
                deliver_notice.delay(batch[0])
            else:
                deliver_batch.delay(batch)
        except Exception:  # noqa: BLE001 - the broker may be down; the sweeper will wake them later
            logger.warning("could not queue %s notices; the outbox sweeper will retry", len(notice_ids) - woken)
            break
        Notice.objects.filter(pk__in=batch).update(enqueued_at=timezone.now())
        woken += len(batch)
    return woken


def _lock_keys(keys: Iterable[str]) -> None:
    """Serialises approvals of the same page across transactions (PostgreSQL advisory locks, in
    key order so two approvals never wait on each other): two centres approving the same URL at
    the same moment must not both send. Released at commit."""
    keys = sorted({k for k in keys if k})
    if keys and transaction.get_connection().vendor == "postgresql":
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 7))) FROM unnest(%s::text[]) AS k", [keys])


def takedown_approve(
    *, requests: list[TakedownRequest], acting_user: User, override_reason: str = "", stepped_up: bool = False
) -> list[TakedownRequest]:
    """A person approves drafts (one or many): each gets its notice written to the outbox, except
    a draft whose page another request (any case, any centre) is already working on: that one
    follows it (duplicate_of, same status) and sends nothing. Nothing else is approved."""
    _require_case_role(acting_user)
    if not requests:
        raise ServiceError(_("Choose at least one request."))
    approved: list[TakedownRequest] = []
    with transaction.atomic():
        overridden: dict[int, bool] = {}
        for request in requests:
            if request.case_id not in overridden:
                overridden[request.case_id] = consent_require(
                    case=request.case, kind=ConsentKind.TAKEDOWN, acting_user=acting_user, override_reason=override_reason,
                    stepped_up=stepped_up,
                )  # fmt: skip
        locked = list(
            TakedownRequest.objects.select_for_update(of=("self",))
            .filter(pk__in=[r.pk for r in requests])
            .select_related("case", "platform")
            .prefetch_related("evidence__fingerprints")
        )
        # One case object per case, so what is looked up about it (hash-sharing consent) is asked once.
        cases: dict[int, Case] = {}
        for request in locked:
            request.case = cases.setdefault(request.case_id, request.case)
        missing = [r for r in locked if r.platform is None]
        if missing:
            raise ServiceError(
                _("%(n)s addresses have no platform yet; choose or create their platform first.") % {"n": len(missing)}
            )
        drafts = [r for r in locked if r.status == RequestStatus.DRAFT]
        for request in drafts:
            if not request.url_key:  # made before keys existed and missed by the migration
                request.url_key = url_key(request.url)
        _lock_keys(r.url_key for r in drafts)
        leaders = _leaders([r.url_key for r in drafts])
        # What each follower shows of its leader: status and times (MIRRORED_FIELDS).
        leader_state = {
            row[0]: row[1:]
            for row in TakedownRequest.objects.filter(pk__in=set(leaders.values())).values_list("pk", *MIRRORED_FIELDS)
        }
        now = timezone.now()
        notices: list[Notice] = []
        following: list[TakedownRequest] = []
        for request in drafts:
            request.approved_by = acting_user
            request.approved_at = now
            request.updated_at = now
            request.consent_overridden = overridden[request.case_id]
            leader = leaders.get(request.url_key)
            if leader is not None and leader != request.pk:
                # Someone already works on this page: follow it, send nothing (no second notice).
                request.duplicate_of_id = leader
                for name, value in zip(MIRRORED_FIELDS, leader_state[leader], strict=True):
                    setattr(request, name, value)
                following.append(request)
            else:
                request.duplicate_of_id = None
                request.status = RequestStatus.QUEUED
                notices.append(_build_notice(request, NoticeKind.INITIAL))
                # A second draft of the same page in this batch (another case) follows this one.
                leaders[request.url_key] = request.pk
                leader_state[request.pk] = (RequestStatus.QUEUED, *([None] * (len(MIRRORED_FIELDS) - 1)))
            approved.append(request)
        TakedownRequest.objects.bulk_update(
            approved,
            ["status", "approved_by", "approved_at", "consent_overridden", "updated_at", "duplicate_of", "url_key"],
            batch_size=500,
        )
        if following:
            # Only followers take their leader's times: the others have none yet, and writing five
            # more columns for every row of a batch of thousands would slow every approval.
            TakedownRequest.objects.bulk_update(following, MIRRORED_FIELDS[1:], batch_size=500)
        Notice.objects.bulk_create(notices, batch_size=500)
        to_wake = [n.pk for n in notices]
        # One wake-up per batch after commit; if it is lost, the sweeper finds the rows.
        transaction.on_commit(lambda: wake_notices(to_wake))
        audit.record(
            "takedown.approve", actor=acting_user, obj=locked[0].case if locked else None,
            details={"requests": [r.pk for r in approved][:1000], "count": len(approved), "following": len(following)},
        )  # fmt: skip
        if following:
            # A follower of a removed page is finished at once; its case may have nothing left to chase.
            _cases_follow_work({r.case_id for r in following if r.status in FINISHED_STATUSES}, reopen=set())
    return approved


def takedown_send_selected(
    *,
    case: Case,
    ids: Iterable[Any] = (),
    all_drafts: bool = False,
    acting_user: User,
    override_reason: str = "",
    stepped_up: bool = False,
) -> list[TakedownRequest]:
    """Approves exactly the chosen drafts of one case, or (all_drafts) every draft of it that has a
    platform. Nothing chosen is an error that says so, never "everything"; an id that is not a
    request of this case, or not a draft, refuses the whole choice: nothing is half approved."""
    if all_drafts:
        chosen = list(TakedownRequest.objects.filter(case=case, status=RequestStatus.DRAFT, platform__isnull=False))
        if not chosen:
            return []
        return takedown_approve(requests=chosen, acting_user=acting_user, override_reason=override_reason, stepped_up=stepped_up)
    try:
        wanted = {int(i) for i in ids}
    except (TypeError, ValueError) as exc:
        raise ServiceError(_("Request ids are numbers."), field="ids") from exc
    if not wanted:
        raise ServiceError(_("Nothing was selected: choose the drafts to approve, or approve all drafts."), field="ids")
    chosen = list(TakedownRequest.objects.filter(case=case, pk__in=wanted).select_related("case", "platform"))
    strangers = sorted(wanted - {r.pk for r in chosen})
    if strangers:
        raise ServiceError(
            _("These are not takedown requests of this case: %(ids)s. Nothing was approved.")
            % {"ids": ", ".join(f"#{i}" for i in strangers[:20])},
            field="ids",
        )
    sent = sorted(r.pk for r in chosen if r.status != RequestStatus.DRAFT)
    if sent:
        raise Conflict(
            _("Only drafts are approved; these are not drafts any more: %(ids)s. Nothing was approved.")
            % {"ids": ", ".join(f"#{i}" for i in sent[:20])}
        )
    return takedown_approve(requests=chosen, acting_user=acting_user, override_reason=override_reason, stepped_up=stepped_up)


# What a follower shows of its leader (docs/takedowns.md, "Duplicates"): the status and the times
# of what happened to the page (the platform answered, our check found it removed or back, the
# platform refused, it was gone before any notice). Never sent_at, deadline, ticket, overdue or
# escalations: those belong to the one request that was sent, and every compliance figure counts
# requests by sent_at, so a follower never counts twice. Never platform_message either: a
# platform's answer can quote the leader's case reference, which may be another centre's.
# cloak_suspected_at too: it is about the page (it answered one look "gone" and the next with the
# material), and a follower's caseworker should know it as well as the original's.
MIRRORED_FIELDS = (
    "status", "acknowledged_at", "removed_at", "rejected_at", "reappeared_at", "unavailable_at", "cloak_suspected_at",
)  # fmt: skip


def _follow_leaders(leader_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """Approved followers of these requests take their status and times (MIRRORED_FIELDS). Call in
    the transaction that changed the leaders. Returns the cases of followers that finished and of
    those that reappeared, for _cases_follow_work. One query when no follower needs a change."""
    ids = set(leader_ids)
    if not ids:
        return set(), set()
    lead_fields = [f"duplicate_of__{name}" for name in MIRRORED_FIELDS]
    found = (
        TakedownRequest.objects.filter(duplicate_of_id__in=ids)
        .exclude(status=RequestStatus.DRAFT)
        .values_list("pk", "case_id", "case__centre_id", *MIRRORED_FIELDS, *lead_fields)
    )
    width = len(MIRRORED_FIELDS)
    # (pk, case, centre, status before, the leader's values) of the followers that differ from it.
    rows = [
        (row[0], row[1], row[2], row[3], row[3 + width :])
        for row in found
        if tuple(row[3 : 3 + width]) != tuple(row[3 + width :])
    ]
    if not rows:
        return set(), set()
    now = timezone.now()
    followers = []
    for pk, _case_id, _centre, _before, lead in rows:
        follower = TakedownRequest(pk=pk, updated_at=now)
        for name, value in zip(MIRRORED_FIELDS, lead, strict=True):
            setattr(follower, name, value)
        followers.append(follower)
    TakedownRequest.objects.bulk_update(followers, [*MIRRORED_FIELDS, "updated_at"], batch_size=500)
    for centre_id in {r[2] for r in rows}:
        audit.record(
            "takedown.followed", actor=None, object_type="takedowns.takedownrequest", centre_id=centre_id,
            details={"requests": [r[0] for r in rows if r[2] == centre_id][:1000]},
        )  # fmt: skip
    # Only a change of status moves a case (a time catching up changes nothing about the work).
    moved = [(r[1], r[4][0]) for r in rows if r[3] != r[4][0]]
    # Each follower's own case says what happened on its timeline, as for a request of its own,
    # marked as followed: its caseworker may be in another centre and sees only "another case".
    case_record_events(
        entries=[
            (r[1], EventKind.TAKEDOWN, {"request": r[0], "status": r[4][0], "followed": True}) for r in rows if r[3] != r[4][0]
        ]
    )
    finished = {case_id for case_id, status in moved if status in FINISHED_STATUSES}
    reopened = {case_id for case_id, status in moved if status == RequestStatus.REAPPEARED}
    return finished, reopened


def _cases_follow_work(finished: set[int], *, reopen: set[int]) -> None:
    """Cases whose every request is removed or unavailable go to monitoring; cases with material
    back online are open again (cases.services.case_status_follow_work; closed cases stay closed).
    Two queries whatever the number of requests."""
    done: set[int] = set()
    if finished:
        stats = (
            TakedownRequest.objects.filter(case_id__in=finished)
            .values("case_id")
            .annotate(total=Count("id"), finished=Count("id", filter=Q(status__in=FINISHED_STATUSES)))
            .order_by()
        )
        done = {row["case_id"] for row in stats if row["total"] and row["total"] == row["finished"]}
    reopen = reopen - done
    if not done and not reopen:
        return
    for case in Case.objects.select_for_update(of=("self",)).filter(pk__in=done | reopen).order_by("pk"):
        case_status_follow_work(case=case, work_done=case.pk in done)


def _after_status_change(changed: Iterable[TakedownRequest]) -> None:
    """After requests changed status (in the same transaction): their followers follow, and the
    cases of everything that finished or came back follow their work."""
    changed = list(changed)
    if not changed:
        return
    finished, reopened = _follow_leaders(r.pk for r in changed)
    finished |= {r.case_id for r in changed if r.status in FINISHED_STATUSES}
    reopened |= {r.case_id for r in changed if r.status == RequestStatus.REAPPEARED}
    _cases_follow_work(finished, reopen=reopened)


@transaction.atomic
def manual_notice_done(*, notice: Notice, acting_user: User, ticket: str = "") -> Notice:
    """A person submitted the platform's web form with the prepared text."""
    _require_case_role(acting_user)
    locked = Notice.objects.select_for_update(of=("self",)).select_related("request").get(pk=notice.pk)
    if locked.status != NoticeStatus.MANUAL:
        raise Conflict(_("This notice is not waiting for a person."))
    now = timezone.now()
    locked.status = NoticeStatus.DONE
    locked.delivered_at = now
    locked.done_by = acting_user
    locked.save(update_fields=["status", "delivered_at", "done_by"])
    DeliveryAttempt.objects.create(notice=locked, outcome="delivered", detail=f"submitted by hand by {acting_user.username}")
    _mark_sent(locked.request, locked, ticket=ticket[:200])
    _after_status_change([locked.request])
    audit.record("takedown.manual_done", actor=acting_user, obj=locked.request, centre_id=locked.request.case.centre_id)
    return locked


# Delivery -------------------------------------------------------------------------------------


def _backoff_seconds(attempts: int) -> float:
    base = min(settings.NOTICE_RETRY_MAX_S, settings.NOTICE_RETRY_BASE_S * (2 ** max(0, attempts - 1)))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def deliver(notice_id: int) -> str:
    """Claims one notice, sends it through its channel, records the attempt. Safe to call twice."""
    counts = deliver_many([notice_id])
    return next(iter(counts), "skipped")


def _claim(notice_ids: list[int]) -> list[int]:
    """Claims due, pending notices by a conditional UPDATE under SKIP LOCKED: two workers woken
    for the same notices never both get one."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(pk__in=notice_ids, status=NoticeStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .values_list("pk", flat=True)
        )
        if ids:
            Notice.objects.filter(pk__in=ids, status=NoticeStatus.PENDING).update(
                status=NoticeStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
    return ids


def deliver_many(notice_ids: list[int], *, concurrency: int | None = None) -> dict[str, int]:
    """Delivers a batch: claim in one statement, send concurrently (network waits overlap and
    connections are reused per thread; the threads never touch the database), then record every
    outcome in one transaction with one audit event for the batch."""
    from concurrent.futures import ThreadPoolExecutor

    from takedowns import liveness, transports

    claimed = _claim(notice_ids)
    if not claimed:
        return {"skipped": len(notice_ids)}
    notices = list(
        Notice.objects.filter(pk__in=claimed)
        .select_related("request__platform", "request__case")
        .prefetch_related("request__evidence__fingerprints")
    )
    budget = _rate_budget(notices)
    sendable: list[Notice] = []
    held: list[Notice] = []
    for notice in notices:
        platform = notice.request.platform
        if not _budgeted(notice) or platform is None:
            sendable.append(notice)
        elif budget.get(platform.pk, 0) > 0:
            budget[platform.pk] -= 1
            sendable.append(notice)
        else:
            held.append(notice)
    if held:
        # Over the platform's per-minute budget: back to pending, due at the next minute.
        # Waiting for budget is not an attempt: give back the count the claim added.
        Notice.objects.filter(pk__in=[n.pk for n in held], status=NoticeStatus.SENDING).update(
            status=NoticeStatus.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=61 - timezone.now().second),
        )
    prepared = [(n, transports.for_notice(n)) for n in sendable]
    for notice, transport in prepared:
        if hasattr(transport, "prepare"):
            transport.prepare(notice)  # database reads happen here, before the threads start
    first_look = {n.pk for n in sendable if _needs_liveness(n)}
    # A look already found the page gone: this one is the second look (docs/takedowns.md, "Removal confirmation").
    second_look = {n.pk for n in sendable if n.pk in first_look and second_look_due(n.request)}
    cloaked: set[int] = set()

    def send(item: tuple[Notice, Any]) -> tuple[Notice, Any, int]:
        notice, transport = item
        started = time.monotonic()
        try:
            if notice.pk in first_look:
                # Before the first notice for a URL: is the page still there? (takedowns.liveness)
                # In the same thread as the send, so a batch's looks overlap like its sends do.
                second = notice.pk in second_look
                look = liveness.look(notice.request.url, second_look=second)
                if look.gone:
                    # Gone at one look is not enough: the notice waits for a second look (a new
                    # connection, another browser) before the request ends unavailable.
                    outcome = "unavailable" if second else "gone_once"
                    result = transports.Result(outcome, http_status=look.http_status, detail=look.detail)
                    return notice, result, int((time.monotonic() - started) * 1000)
                if notice.request.removal_seen_at is not None:
                    cloaked.add(notice.pk)  # one look said gone, this one sees the page: the notice goes
            result = transport.send(notice)
        except Exception as exc:
            logger.exception("transport failed for notice %s", notice.pk)
            result = transports.Result("retry", detail=f"{type(exc).__name__}: {exc}"[:500])
        return notice, result, int((time.monotonic() - started) * 1000)

    workers = max(1, min(concurrency or settings.TAKEDOWN_IO_CONCURRENCY, len(prepared)))
    if workers == 1:
        outcomes = [send(item) for item in prepared]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver") as pool:
            outcomes = list(pool.map(send, prepared))
    counts = record_results(outcomes, cloaked=cloaked, second_looks=second_look)
    if held:
        counts["rate_limited_locally"] = len(held)
    return counts


def _needs_liveness(notice: Notice) -> bool:
    """The first try of a request's first notice (the claim counted this try): look before sending.
    Later tries, repeat notices and escalations go without looking: the page was there."""
    return (
        notice.kind == NoticeKind.INITIAL
        and notice.attempts == 1
        and notice.request.sent_at is None
        and notice.request.status == RequestStatus.QUEUED
    )


def _budgeted(notice: Notice) -> bool:
    """Whether a notice spends the platform's per-minute budget. Escalations go to the regulator,
    and a web-form notice only goes to a person's queue (its look before the first notice is one
    GET of the page, like a re-check): neither sends anything to the platform's notice channel."""
    return notice.kind != NoticeKind.ESCALATION and notice.channel != Channel.MANUAL


_redis_client: Any = None


def _rate_budget(notices: list[Notice]) -> dict[int, int]:
    """Per-platform sends left this minute, reserved in Redis so every worker shares the budget."""
    wanted: dict[int, int] = {}
    limits: dict[int, int] = {}
    for notice in notices:
        platform = notice.request.platform
        if platform is not None and _budgeted(notice):
            wanted[platform.pk] = wanted.get(platform.pk, 0) + 1
            limits[platform.pk] = platform.rate_limit_per_minute
    if not wanted:
        return {}
    if not settings.REDIS_URL:
        return wanted
    global _redis_client
    try:
        import redis

        if _redis_client is None:
            _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        minute = int(timezone.now().timestamp() // 60)
        budget = {}
        for platform_id, count in wanted.items():
            key = f"{settings.REDIS_KEY_PREFIX}:rate:{platform_id}:{minute}"
            used = int(_redis_client.incrby(key, count))
            _redis_client.expire(key, 120)
            budget[platform_id] = max(0, min(count, limits[platform_id] - (used - count)))
        return budget
    except Exception:  # noqa: BLE001 - without Redis, sending slowly beats not sending
        return wanted


def record_result(notice: Notice, result: Any, duration_ms: int = 0) -> None:
    record_results([(notice, result, duration_ms)])


def record_results(
    outcomes: list[tuple[Notice, Any, int]], *, cloaked: Iterable[int] = (), second_looks: Iterable[int] = ()
) -> dict[str, int]:
    """Records a batch of delivery outcomes in one transaction. `cloaked`: notices whose page a look
    found gone and the next look (this one) found there; `second_looks`: notices whose look was a second one."""
    now = timezone.now()
    cloaked = set(cloaked)
    second_looks = set(second_looks)
    counts: dict[str, int] = {}
    later: list[tuple[int, float]] = []
    delivered_requests: list[int] = []
    changed: list[TakedownRequest] = []
    with transaction.atomic():
        by_id = {
            n.pk: n
            for n in Notice.objects.select_for_update(of=("self",))
            .filter(pk__in=[o[0].pk for o in outcomes])
            .select_related("request__case", "request__platform")
        }
        attempts = []
        for original, result, duration_ms in outcomes:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            locked = by_id.get(original.pk)
            if locked is None or locked.status != NoticeStatus.SENDING:
                continue  # the sweeper already gave it back; whoever holds it now records
            if result.outcome != "gone_once":  # a notice held for a second look made no attempt
                attempts.append(
                    DeliveryAttempt(
                        notice=locked,
                        outcome=result.outcome,
                        http_status=result.http_status,
                        detail=result.detail[:2000],
                        duration_ms=duration_ms,
                    )
                )
            request = locked.request
            if locked.pk in cloaked and request.removal_seen_at is not None and request.status == RequestStatus.QUEUED:
                _suspect_cloak(request, now, second_look=locked.pk in second_looks)
                request.save(update_fields=["removal_seen_at", "cloak_suspected_at", "cloak_suspicions", "updated_at"])
                changed.append(request)
            if result.outcome == "gone_once":
                # The look before the first notice found the page gone, once: the notice waits (not an
                # attempt) for the second look REMOVAL_CONFIRM_DELAY_S later.
                if request.removal_seen_at is None and request.status == RequestStatus.QUEUED:
                    request.removal_seen_at = now
                    request.save(update_fields=["removal_seen_at", "updated_at"])
                # A person approved this notice and waits for it: the shorter, asked delay.
                due = (request.removal_seen_at or now) + removal_confirm_delay(asked=True)
                delay = max(0.0, (due - now).total_seconds())
                locked.status = NoticeStatus.PENDING
                locked.attempts -= 1
                locked.next_attempt_at = due
                locked.enqueued_at = due
                locked.last_error = result.detail[:2000]
                locked.save(update_fields=["status", "attempts", "next_attempt_at", "enqueued_at", "last_error"])
                later.append((locked.pk, delay))
            elif result.outcome == "delivered":
                locked.status = NoticeStatus.DELIVERED
                locked.delivered_at = now
                locked.last_error = ""
                locked.save(update_fields=["status", "delivered_at", "last_error"])
                if locked.kind == NoticeKind.ESCALATION:
                    audit.record("takedown.escalated", actor=None, obj=request, centre_id=request.case.centre_id)
                else:
                    before = request.status
                    _mark_sent(request, locked, ticket=result.ticket, audit_it=False)
                    delivered_requests.append(request.pk)
                    if request.status != before:
                        changed.append(request)
            elif result.outcome == "unavailable":
                # Gone before the first notice: nothing was sent, and the request stays out of every
                # platform's figures (it never gets a sent_at, which is what the figures count).
                locked.status = NoticeStatus.CANCELLED
                locked.last_error = result.detail[:2000]
                locked.save(update_fields=["status", "last_error"])
                if request.status == RequestStatus.QUEUED:
                    _mark_unavailable(request, now)
                    changed.append(request)
                audit.record(
                    "takedown.unavailable", actor=None, obj=request, centre_id=request.case.centre_id,
                    details={"notice": locked.pk, "http_status": result.http_status},
                )  # fmt: skip
            elif result.outcome == "manual":
                # A web form: the page was looked at (first notice) and shows something, so now a
                # person submits the form; the request stays queued until they mark it done.
                locked.status = NoticeStatus.MANUAL
                locked.save(update_fields=["status"])
            elif result.outcome in ("retry", "rate_limited") and locked.attempts < settings.NOTICE_MAX_ATTEMPTS:
                delay = (
                    result.retry_after_s
                    if result.outcome == "rate_limited" and result.retry_after_s
                    else _backoff_seconds(locked.attempts)
                )
                locked.status = NoticeStatus.PENDING
                locked.next_attempt_at = now + timedelta(seconds=delay)
                locked.last_error = result.detail[:2000]
                locked.enqueued_at = now + timedelta(seconds=delay)
                locked.save(update_fields=["status", "next_attempt_at", "last_error", "enqueued_at"])
                later.append((locked.pk, delay))
            else:
                locked.status = NoticeStatus.FAILED
                locked.last_error = result.detail[:2000] or _("Gave up after %(n)s attempts.") % {"n": locked.attempts}
                locked.save(update_fields=["status", "last_error"])
                if locked.kind != NoticeKind.ESCALATION and request.status == RequestStatus.QUEUED:
                    request.status = RequestStatus.FAILED
                    request.platform_message = locked.last_error
                    request.save(update_fields=["status", "platform_message", "updated_at"])
                    changed.append(request)
                    case_record_event(
                        case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "failed"}
                    )
                audit.record(
                    "takedown.notice_failed", actor=None, obj=request, centre_id=request.case.centre_id,
                    details={"notice": locked.pk, "http_status": result.http_status},
                )  # fmt: skip
        DeliveryAttempt.objects.bulk_create(attempts)
        _after_status_change(changed)
        if delivered_requests:
            # One audit event for the batch, in the same transaction as the writes it describes.
            audit.record(
                "takedown.notices_delivered", actor=None, object_type="takedowns.notice",
                details={"requests": delivered_requests[:1000], "count": len(delivered_requests)},
            )  # fmt: skip
        for notice_id, delay in later:
            _wake_later(notice_id, delay)
    return counts


def _wake_later(notice_id: int, delay: float) -> None:
    from takedowns.tasks import deliver_notice

    def wake() -> None:
        try:
            deliver_notice.apply_async((notice_id,), countdown=max(0.0, delay))
        except Exception:  # noqa: BLE001 - the sweeper wakes it when the broker is back
            logger.warning("could not schedule notice %s; the outbox sweeper will retry", notice_id)

    transaction.on_commit(wake)


def _mark_unavailable(request: TakedownRequest, now: Any) -> None:
    """No notice was needed: the page was gone. Watched like a removed page, so that if it comes
    back, the first notice goes out after all (see _apply_check)."""
    request.status = RequestStatus.UNAVAILABLE
    # Gone since the first look; the second look (now) confirmed it.
    request.unavailable_at = request.removal_seen_at or now
    request.removal_seen_at = None
    request.watch_until = now + timedelta(days=settings.TAKEDOWN_WATCH_DAYS)
    request.next_check_at = now + timedelta(seconds=settings.TAKEDOWN_WATCH_INTERVAL_S)
    request.save(update_fields=["status", "unavailable_at", "removal_seen_at", "watch_until", "next_check_at", "updated_at"])
    # The caseworker reads on the timeline why nothing was sent (CaseEvent.describe words it).
    case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "unavailable"})


def _mark_sent(request: TakedownRequest, notice: Notice, *, ticket: str = "", audit_it: bool = True) -> None:
    from takedowns.jurisdictions import deadline_hours

    now = timezone.now()
    fields = ["last_notice_at", "updated_at"]
    request.last_notice_at = now
    if ticket:
        request.ticket = ticket
        request.next_poll_at = now + timedelta(seconds=settings.TAKEDOWN_POLL_INTERVAL_S)
        fields += ["ticket", "next_poll_at"]
    if request.sent_at is None:
        platform = request.platform
        assert platform is not None
        request.sent_at = now
        request.deadline = now + timedelta(hours=deadline_hours(platform.jurisdiction, platform.sla_hours, urgent=request.urgent))
        request.next_check_at = now + timedelta(seconds=settings.TAKEDOWN_FIRST_CHECK_S)
        fields += ["sent_at", "deadline", "next_check_at"]
    if request.status in (RequestStatus.QUEUED, RequestStatus.FAILED):
        request.status = RequestStatus.SENT
        fields.append("status")
    request.save(update_fields=fields)
    case_record_event(
        case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "sent", "notice": notice.kind}
    )
    if audit_it:
        audit.record(
            "takedown.notice_delivered", actor=None, obj=request, centre_id=request.case.centre_id,
            details={"notice": notice.pk, "kind": notice.kind},
        )  # fmt: skip


def sweep_outbox(*, limit: int = 2000) -> dict[str, int]:
    """Gives back notices whose worker died and wakes notices whose wake-up was lost.

    Run every 30 s by beat: a delivery cut short goes out again within minutes of the worker and
    the broker being back, under the same idempotency key.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NOTICE_CLAIM_TIMEOUT_S)
    reclaimed = Notice.objects.filter(status=NoticeStatus.SENDING, claimed_at__lt=stale).update(
        status=NoticeStatus.PENDING, next_attempt_at=now, enqueued_at=None
    )
    due = list(
        Notice.objects.filter(status=NoticeStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - timedelta(seconds=settings.NOTICE_REWAKE_AFTER_S)))
        .values_list("pk", flat=True)[:limit]
    )
    return {"reclaimed": reclaimed, "woken": wake_notices(due)}


# Status polling ---------------------------------------------------------------------------------


def poll_status(request_id: int) -> str:
    """Asks the platform's API about its ticket; records acknowledgement or rejection."""
    from takedowns.transports.api import poll

    request = TakedownRequest.objects.select_related("platform", "case").filter(pk=request_id).first()
    if request is None or not request.ticket or request.platform is None or request.platform.channel != Channel.API:
        return "skipped"
    answer = poll(request)
    now = timezone.now()
    with transaction.atomic():
        locked = TakedownRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        locked.next_poll_at = now + timedelta(seconds=settings.TAKEDOWN_POLL_INTERVAL_S)
        fields = ["next_poll_at"]
        state = str((answer or {}).get("status", ""))
        if state in ("in_review", "removed") and locked.acknowledged_at is None:
            locked.acknowledged_at = now
            fields.append("acknowledged_at")
            if locked.status == RequestStatus.SENT:
                locked.status = RequestStatus.ACKNOWLEDGED
                fields.append("status")
            audit.record(
                "takedown.acknowledged",
                actor=None,
                obj=locked,
                centre_id=locked.case.centre_id,
                details={"platform_status": state},
            )
        elif state == "rejected" and locked.status in (RequestStatus.SENT, RequestStatus.ACKNOWLEDGED):
            locked.status = RequestStatus.REJECTED
            locked.rejected_at = now
            locked.platform_message = str(answer.get("reason", ""))[:2000] if answer else ""
            locked.next_poll_at = None
            fields += ["status", "rejected_at", "platform_message"]
            case_record_event(case=locked.case, kind=EventKind.TAKEDOWN, data={"request": locked.pk, "status": "rejected"})
            audit.record("takedown.rejected", actor=None, obj=locked, centre_id=locked.case.centre_id)
        locked.save(update_fields=[*fields, "updated_at"])
        if "status" in fields or "acknowledged_at" in fields:
            # Followers show the platform's first answer too, even when the status stays.
            _after_status_change([locked])
    return state or "no_answer"


# Re-checks ----------------------------------------------------------------------------------------

CHECK_SCHEDULE_S = [600, 3600, 4 * 3600, 12 * 3600, 24 * 3600]


def record_check(
    request_id: int,
    outcome: str,
    *,
    http_status: int | None,
    distance: int | None,
    detail: str,
    second_look: bool = False,
    asked: bool = False,
) -> Check | None:
    """Applies one re-check's outcome: only this marks a request removed (or reappeared), and only
    when a second look agrees with the first (docs/takedowns.md, "Removal confirmation"). `asked`:
    a person or an API client asked for this check and waits (the second look comes sooner)."""
    checks = record_checks(
        [(request_id, outcome, http_status, distance, detail)],
        second_looks={request_id} if second_look else set(),
        asked={request_id} if asked else set(),
    )
    return checks[0] if checks else None


_CHECK_FIELDS = [
    "check_count", "next_check_at", "status", "removed_at", "watch_until", "reappeared_at", "last_notice_at", "updated_at",
    "removal_seen_at", "cloak_suspected_at", "cloak_suspicions",
]  # fmt: skip


def record_checks(
    results: list[tuple[int, str, int | None, int | None, str]],
    *,
    second_looks: Iterable[int] = (),
    asked: Iterable[int] = (),
) -> list[Check]:
    """Applies a batch of re-check outcomes in one transaction (request id, outcome, HTTP status,
    distance, detail). `second_looks` names the requests whose outcome came from a second look (a
    new connection, another browser: takedowns.rechecks.run with second_look). State changes
    (removed, reappeared, a suspected cloak) get their own audit events."""
    now = timezone.now()
    second = set(second_looks)
    asked_ids = set(asked)
    confirm_later: list[tuple[int, bool]] = []
    with transaction.atomic():
        requests = {
            r.pk: r
            for r in TakedownRequest.objects.select_for_update(of=("self",))
            .filter(pk__in=[r[0] for r in results])
            .select_related("case", "platform")
        }
        checks = []
        changed: list[TakedownRequest] = []
        for request_id, outcome, http_status, distance, detail in results:
            request = requests.get(request_id)
            if request is None:
                continue
            checks.append(
                Check(
                    request=request, outcome=outcome, http_status=http_status, distance=distance, detail=detail[:500],
                    second_look=request_id in second,
                )
            )  # fmt: skip
            before = (request.status, request.cloak_suspected_at)
            if _apply_check(request, outcome, now, second_look=request_id in second, asked=request_id in asked_ids):
                confirm_later.append((request.pk, request_id in asked_ids))
            if (request.status, request.cloak_suspected_at) != before:
                changed.append(request)
        created = Check.objects.bulk_create(checks)
        for request in requests.values():
            request.updated_at = now
        TakedownRequest.objects.bulk_update(list(requests.values()), _CHECK_FIELDS, batch_size=200)
        _after_status_change(changed)
        if confirm_later:
            _second_look_later(confirm_later)
    return created


def removal_confirm_delay(*, asked: bool = False) -> timedelta:
    """How long after a first look the second one comes: REMOVAL_CONFIRM_DELAY_S for the schedule's
    own looks; REMOVAL_CONFIRM_ASKED_DELAY_S (never longer) when a person or an API client asked for
    the look (re-check now, or the look before the notice they approved) and waits for the answer."""
    scheduled = max(0, settings.REMOVAL_CONFIRM_DELAY_S)
    if asked:
        return timedelta(seconds=min(scheduled, max(0, settings.REMOVAL_CONFIRM_ASKED_DELAY_S)))
    return timedelta(seconds=scheduled)


def _second_look_later(request_ids: list[tuple[int, bool]]) -> None:
    """After commit, queue the second look of each (request, asked) after its delay. Its
    next_check_at says the same, so beat's schedule_due_checks catches a wake-up the broker lost."""
    from takedowns.tasks import recheck_request

    def queue() -> None:
        for request_id, asked in request_ids:
            delay = removal_confirm_delay(asked=asked).total_seconds()
            try:
                recheck_request.apply_async((request_id,), {"second_look": True}, countdown=delay)
            except Exception:  # noqa: BLE001 - beat's schedule_due_checks finds it by next_check_at
                logger.warning("could not queue the second look of request %s; the schedule will", request_id)

    transaction.on_commit(queue)


def second_look_due(request: TakedownRequest, now: Any = None) -> bool:
    """A first look found the page gone and the shorter confirmation delay has passed: the next
    fetch (over a new connection, as another browser) is the second look. The schedule's own
    second look is queued later (removal_confirm_delay), so the shorter one only lets a person's
    re-check confirm sooner."""
    seen = request.removal_seen_at
    return seen is not None and (now or timezone.now()) >= seen + removal_confirm_delay(asked=True)


def _suspect_cloak(request: TakedownRequest, now: Any, *, second_look: bool) -> None:
    """One look said gone, a later one found the material: the page may answer the centre (or one
    client pattern) differently from its visitors. The request goes on; the analysts see the flag."""
    first_seen = request.removal_seen_at
    request.removal_seen_at = None
    request.cloak_suspected_at = now
    request.cloak_suspicions += 1
    case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "cloak_suspected"})
    audit.record(
        "takedown.cloak_suspected", actor=None, obj=request, centre_id=request.case.centre_id,
        details={"first_look": first_seen.isoformat() if first_seen else None, "second_look": second_look},
    )  # fmt: skip


def _apply_check(request: TakedownRequest, outcome: str, now: Any, *, second_look: bool = False, asked: bool = False) -> bool:
    """Applies one outcome to the (locked) request. True when a second look must be queued."""
    request.check_count += 1
    schedule = CHECK_SCHEDULE_S[min(request.check_count - 1, len(CHECK_SCHEDULE_S) - 1)]
    if request.status == RequestStatus.UNAVAILABLE:
        if outcome == CheckOutcome.STILL_UP:
            # Gone before the first notice, back now: the first notice goes out after all (the
            # worker looks again before sending it).
            request.status = RequestStatus.QUEUED
            case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "reappeared"})
            audit.record("takedown.reappeared", actor=None, obj=request, centre_id=request.case.centre_id)
            _new_notice(request, NoticeKind.INITIAL)
            request.next_check_at = None
        else:
            watching = request.watch_until and request.watch_until > now
            request.next_check_at = now + timedelta(seconds=settings.TAKEDOWN_WATCH_INTERVAL_S) if watching else None
        return False
    pending = request.status in OPEN_STATUSES and request.removal_seen_at is not None
    if outcome == CheckOutcome.REMOVED:
        if request.status in OPEN_STATUSES:
            if not pending:
                # The first look that finds the page gone: wait for a second one before believing it.
                request.removal_seen_at = now
                request.next_check_at = now + removal_confirm_delay(asked=asked)
                return True
            first_seen = request.removal_seen_at
            assert first_seen is not None  # pending
            if not (second_look and second_look_due(request, now)):
                # Another first-pattern look (a re-check before the delay) confirms nothing: the second look stays due.
                request.next_check_at = first_seen + removal_confirm_delay(asked=asked)
                return False
            # Confirmed. The page was gone at the first look, so that is when it was removed (figures
            # count the removal only now, with that time).
            request.status = RequestStatus.REMOVED
            request.removed_at = first_seen
            request.removal_seen_at = None
            request.watch_until = now + timedelta(days=settings.TAKEDOWN_WATCH_DAYS)
            case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "removed"})
            audit.record(
                "takedown.removed", actor=None, obj=request, centre_id=request.case.centre_id,
                details={"confirmed": True, "first_look": first_seen.isoformat()},
            )  # fmt: skip
        if request.status == RequestStatus.REMOVED:
            watching = request.watch_until and request.watch_until > now
            request.next_check_at = now + timedelta(seconds=settings.TAKEDOWN_WATCH_INTERVAL_S) if watching else None
        else:
            request.next_check_at = now + timedelta(seconds=schedule)
    elif outcome == CheckOutcome.STILL_UP:
        if pending:
            _suspect_cloak(request, now, second_look=second_look)
        if request.status == RequestStatus.REMOVED:
            request.status = RequestStatus.REAPPEARED
            request.reappeared_at = now
            case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "reappeared"})
            audit.record("takedown.reappeared", actor=None, obj=request, centre_id=request.case.centre_id)
            _new_notice(request, NoticeKind.RESEND)
            request.last_notice_at = now
        elif request.status in (RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.REAPPEARED):
            # Still up a day after the last notice: send it again (Project Arachnid's rhythm).
            resend_after = timedelta(seconds=settings.TAKEDOWN_RESEND_INTERVAL_S)
            if request.last_notice_at and now - request.last_notice_at >= resend_after and not _notice_in_flight(request):
                _new_notice(request, NoticeKind.RESEND)
                request.last_notice_at = now
        request.next_check_at = now + timedelta(seconds=schedule)
    elif pending:
        # Inconclusive while a removal waits for its second look: look again after the same delay.
        request.next_check_at = now + removal_confirm_delay()
        return second_look
    else:
        request.next_check_at = now + timedelta(seconds=min(schedule, 3600))
    if request.status not in (*OPEN_STATUSES, RequestStatus.REMOVED):
        request.next_check_at = None
    return False


def _notice_in_flight(request: TakedownRequest) -> bool:
    return request.notices.filter(status__in=[NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.MANUAL]).exists()


def schedule_due_checks(*, limit: int = 2000) -> int:
    """Queues re-checks that are due. The next_check_at lease stops double queuing."""
    from takedowns.tasks import recheck_batch

    now = timezone.now()
    due = list(
        TakedownRequest.objects.filter(
            next_check_at__lte=now, status__in=[*OPEN_STATUSES, RequestStatus.REMOVED, RequestStatus.UNAVAILABLE]
        )
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    TakedownRequest.objects.filter(pk__in=due).update(next_check_at=now + timedelta(minutes=15))
    size = settings.TAKEDOWN_BATCH_SIZE
    for start in range(0, len(due), size):
        recheck_batch.delay(due[start : start + size])
    return len(due)


def recheck_now(*, request: TakedownRequest, acting_user: User) -> None:
    """On demand, from a person or the API."""
    from takedowns.tasks import recheck_request

    _require_case_role(acting_user)
    with transaction.atomic():
        audit.record("takedown.recheck_requested", actor=acting_user, obj=request, centre_id=request.case.centre_id)
        request_id = request.pk
        transaction.on_commit(lambda: recheck_request.delay(request_id, asked=True))


RECHECKABLE_STATUSES = [*OPEN_STATUSES, RequestStatus.REMOVED]


def recheck_many(*, requests: Any, acting_user: User) -> int:
    """A person re-checks every request of a filtered list at once (already scoped to what they
    may see). Only requests a notice went out for are checked; the count says how many."""
    from takedowns.tasks import recheck_batch

    _require_case_role(acting_user)
    ids = list(
        requests.filter(status__in=RECHECKABLE_STATUSES, sent_at__isnull=False, duplicate_of__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    size = settings.TAKEDOWN_BATCH_SIZE
    with transaction.atomic():
        audit.record(
            "takedown.recheck_requested", actor=acting_user, object_type="takedowns.takedownrequest",
            details={"requests": ids[:1000], "count": len(ids)},
        )  # fmt: skip

        def queue() -> None:
            for start in range(0, len(ids), size):
                recheck_batch.delay(ids[start : start + size])

        transaction.on_commit(queue)
    return len(ids)


ESCALATABLE_STATUSES = [RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.REAPPEARED]


def escalate_many(*, requests: Any, acting_user: User) -> int:
    """A supervisor escalates every request of a filtered list to the platform's regulator now
    (the schedule does it by itself later for overdue ones). Only requests that were sent and are
    still up, on a platform with a regulator's address, are escalated; the count says how many."""
    if acting_user.role != Role.SUPERVISOR:
        raise PermissionDenied(_("Only a supervisor escalates to the regulator."))
    ids = list(
        requests.filter(status__in=ESCALATABLE_STATUSES, duplicate_of__isnull=True)
        .exclude(platform__escalation_email="")
        .filter(platform__isnull=False)
        .order_by()
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    done = 0
    for start in range(0, len(ids), 200):
        with transaction.atomic():
            locked = list(
                TakedownRequest.objects.select_for_update(of=("self",))
                .filter(pk__in=ids[start : start + 200], status__in=ESCALATABLE_STATUSES)
                .select_related("case", "platform")
            )
            for request in locked:
                request.escalation_level += 1
                request.escalated_at = now
                request.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
                _new_notice(request, NoticeKind.ESCALATION, history=request_history(request))
                case_record_event(
                    case=request.case, kind=EventKind.TAKEDOWN,
                    data={"request": request.pk, "status": "escalated", "level": request.escalation_level},
                )  # fmt: skip
            if locked:
                audit.record(
                    "takedown.escalate", actor=acting_user, object_type="takedowns.takedownrequest",
                    details={"requests": [r.pk for r in locked], "count": len(locked), "by_hand": True},
                )  # fmt: skip
            done += len(locked)
    return done


# Deadlines and escalation -------------------------------------------------------------------------


def process_deadlines() -> dict[str, int]:
    """Reminders before the deadline, overdue after it, escalation to the regulator later."""
    now = timezone.now()
    counts = {"reminded": 0, "overdue": 0, "escalated": 0}
    open_qs = TakedownRequest.objects.filter(
        status__in=[RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.REAPPEARED]
    )
    remind = open_qs.filter(
        reminded_at__isnull=True, deadline__gt=now, deadline__lte=now + timedelta(seconds=settings.TAKEDOWN_REMINDER_BEFORE_S)
    ).select_related("case")
    for request in remind[:1000]:
        with transaction.atomic():
            TakedownRequest.objects.filter(pk=request.pk).update(reminded_at=now)
            case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "deadline_soon"})
            audit.record("takedown.reminder", actor=None, obj=request, centre_id=request.case.centre_id)
        counts["reminded"] += 1
    # A removal waiting for its second look is not made overdue or escalated until that look (minutes) says.
    for request in open_qs.filter(overdue=False, deadline__lte=now, removal_seen_at__isnull=True).select_related("case")[:1000]:
        with transaction.atomic():
            TakedownRequest.objects.filter(pk=request.pk).update(overdue=True)
            case_record_event(case=request.case, kind=EventKind.TAKEDOWN, data={"request": request.pk, "status": "overdue"})
            audit.record("takedown.overdue", actor=None, obj=request, centre_id=request.case.centre_id)
        counts["overdue"] += 1
    escalate_before = now - timedelta(seconds=settings.TAKEDOWN_ESCALATION_DELAY_S)
    candidates = (
        open_qs.filter(overdue=True, deadline__lte=escalate_before, removal_seen_at__isnull=True)
        .filter(
            Q(escalated_at__isnull=True) | Q(escalated_at__lte=now - timedelta(seconds=settings.TAKEDOWN_ESCALATION_REPEAT_S))
        )
        .select_related("case", "platform")
    )
    for request in candidates[:500]:
        if request.platform is None or not request.platform.escalation_email:
            continue
        with transaction.atomic():
            locked = TakedownRequest.objects.select_for_update(of=("self",)).select_related("case", "platform").get(pk=request.pk)
            locked.escalation_level += 1
            locked.escalated_at = now
            locked.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
            _new_notice(locked, NoticeKind.ESCALATION, history=request_history(locked))
            case_record_event(
                case=locked.case,
                kind=EventKind.TAKEDOWN,
                data={"request": locked.pk, "status": "escalated", "level": locked.escalation_level},
            )
            audit.record(
                "takedown.escalate",
                actor=None,
                obj=locked,
                centre_id=locked.case.centre_id,
                details={"level": locked.escalation_level},
            )
        counts["escalated"] += 1
    return counts


def request_history(request: TakedownRequest) -> list[str]:
    """Plain lines for an escalation: what was sent, when, what the checks found."""
    lines = [f"{request.created_at:%Y-%m-%d %H:%M} UTC request opened for {request.url}"]
    for notice in request.notices.exclude(kind=NoticeKind.ESCALATION).order_by("created_at"):
        when = notice.delivered_at or notice.created_at
        lines.append(f"{when:%Y-%m-%d %H:%M} UTC {notice.get_kind_display()} ({notice.channel}): {notice.get_status_display()}")
    for check in request.checks.order_by("at")[:100]:
        lines.append(f"{check.at:%Y-%m-%d %H:%M} UTC check: {check.outcome} (HTTP {check.http_status or '-'})")
    if request.deadline:
        lines.append(f"Deadline was {request.deadline:%Y-%m-%d %H:%M} UTC.")
    return lines


# Failed work (the administrators' page, core.ops) ---------------------------------------------


def stuck_notices_filter(now: Any = None) -> Q:
    """Notices the outbox should have moved on by now: a claim older than NOTICE_CLAIM_TIMEOUT_S
    (its worker died and the sweeper has not given it back), or due and waiting for longer than
    NOTICE_STUCK_ALERT_S (no worker, or no beat to run the sweeper)."""
    now = now or timezone.now()
    waiting_since = now - timedelta(seconds=settings.NOTICE_STUCK_ALERT_S)
    return Q(status=NoticeStatus.SENDING, claimed_at__lt=now - timedelta(seconds=settings.NOTICE_CLAIM_TIMEOUT_S)) | Q(
        Q(next_attempt_at__lt=waiting_since) | Q(next_attempt_at__isnull=True, created_at__lt=waiting_since),
        status=NoticeStatus.PENDING,
    )


# A failed notice matters while its request is still being worked on; once the material is gone
# (or the platform refused and a person took over) it is history, not failed work.
FAILED_NOTICE_REQUEST_STATUSES = [*OPEN_STATUSES, RequestStatus.FAILED]


def failed_notices_filter() -> Q:
    return Q(status=NoticeStatus.FAILED, request__status__in=FAILED_NOTICE_REQUEST_STATUSES)


def notice_retry(*, notice: Notice, acting_user: User) -> Notice:
    """An administrator sends a failed or stuck notice again, under the same idempotency key.

    A failed notice gets a fresh round of attempts (its delivery attempts stay on record) and its
    request, if that failed with it, is queued again. A notice whose worker died is given back at
    once instead of waiting for the sweeper. A notice that is already due is woken now.
    """
    if getattr(acting_user, "role", None) != Role.ADMIN:
        raise PermissionDenied(_("Only administrators handle failed work."))
    now = timezone.now()
    with transaction.atomic():
        locked = Notice.objects.select_for_update(of=("self",)).select_related("request__case").get(pk=notice.pk)
        before = locked.status
        if locked.status == NoticeStatus.SENDING:
            if locked.claimed_at and locked.claimed_at >= now - timedelta(seconds=settings.NOTICE_CLAIM_TIMEOUT_S):
                raise Conflict(_("This notice is being sent right now."))
        elif locked.status not in (NoticeStatus.FAILED, NoticeStatus.PENDING):
            raise Conflict(_("This notice is not failed or stuck."))
        previous_attempts = locked.attempts
        locked.status = NoticeStatus.PENDING
        locked.next_attempt_at = now
        locked.enqueued_at = None
        locked.claimed_at = None
        if before == NoticeStatus.FAILED:
            locked.attempts = 0
        locked.save(update_fields=["status", "next_attempt_at", "enqueued_at", "claimed_at", "attempts"])
        request = locked.request
        if before == NoticeStatus.FAILED and locked.kind != NoticeKind.ESCALATION and request.status == RequestStatus.FAILED:
            request.status = RequestStatus.QUEUED
            request.save(update_fields=["status", "updated_at"])
            _after_status_change([request])
        audit.record(
            "takedown.notice_retry", actor=acting_user, obj=request, centre_id=request.case.centre_id,
            details={"notice": locked.pk, "from": before, "attempts": previous_attempts},
        )  # fmt: skip
        _wake_on_commit(locked.pk)
    return locked
