"""Partner hash sharing: the shared list, its log, partners' feedback and quarantine.

Services (writes, each with its audit event in the same transaction) and selectors (reads) of
one small subsystem, kept in one module. docs/matching.md ("Partner hash sharing") describes the
API that takedowns/api/hashlist_views.py serves from here.

What is on the list: every fingerprint with algorithm pdq, phash or md5 (plain and mirrored:
a partner hashes an upload as it is, so our mirrored hash is what catches a flipped re-upload)
of evidence whose case has hash_sharing consent in force, that is not quarantined and, for PDQ,
has quality >= HASHLIST_PDQ_MIN_QUALITY. HashListEvent is the list as an append-only log; the
newest event of a fingerprint is its state. Every change goes through _sync(), which compares
"should be on the list" with "is on the list" and writes only the difference, so running it twice,
or from two triggers at once, never writes a duplicate add or delete.

Order matters in every write:
1. _lock_list() serialises writers until commit (see there);
2. read what should be and what is on the list;
3. append the difference to the log, then the audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, ConsentKind
from cases.selectors import has_consent
from core import audit
from core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from core.models import User
from core.roles import Role
from evidence.models import Fingerprint
from hashing.image import PDQ_THRESHOLD, PHASH_THRESHOLD, hamming_hex
from takedowns.models import FeedbackVerdict, HashFeedback, HashListAction, HashListEvent, HashQuarantine

PDQ, PHASH, MD5 = "pdq", "phash", "md5"
ALGORITHMS = (PDQ, PHASH, MD5)
# Hex digits of each algorithm's value: PDQ 256 bits, pHash 64 bits, MD5 128 bits.
HEX_LENGTHS = {PDQ: 64, PHASH: 16, MD5: 32}
# Largest Hamming distance that counts as a match in a lookup; MD5 matches only exactly.
THRESHOLDS = {PDQ: PDQ_THRESHOLD, PHASH: PHASH_THRESHOLD, MD5: 0}
_MAX_ID = 2**63 - 1  # bigint: a larger "id" is simply not found, never a database error


# Reads ---------------------------------------------------------------------------------------


def _newer_event() -> QuerySet[HashListEvent]:
    return HashListEvent.objects.filter(fingerprint_id=OuterRef("fingerprint_id"), id__gt=OuterRef("id"))


def current_adds() -> QuerySet[HashListEvent]:
    """The add events still in force: one per fingerprint on the list now."""
    return HashListEvent.objects.filter(action=HashListAction.ADD).exclude(Exists(_newer_event()))


def listed_ids(fingerprints: QuerySet[Fingerprint]) -> set[int]:
    """Which of these fingerprints are on the list now."""
    return set(current_adds().filter(fingerprint__in=fingerprints).values_list("fingerprint_id", flat=True))


def _eligible_ids(case: Case, fingerprints: QuerySet[Fingerprint]) -> set[int]:
    """Which of these fingerprints (all of one case) should be on the list now."""
    if not has_consent(case, ConsentKind.HASH_SHARING):
        return set()
    qs = (
        fingerprints.filter(algorithm__in=ALGORITHMS)
        .filter(~Q(algorithm=PDQ) | Q(quality__gte=settings.HASHLIST_PDQ_MIN_QUALITY))
        .exclude(pk__in=HashQuarantine.objects.filter(released_at__isnull=True).values("fingerprint_id"))
    )
    return set(qs.values_list("pk", flat=True))


def listed_fingerprint_get(pk: Any) -> Fingerprint:
    """A fingerprint that is or once was on the list. The same NotFound for one that never was
    and one that does not exist, so partners learn nothing about the rest of the locker."""
    text = str(pk)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        raise NotFound("Not found.")
    fingerprint = (
        Fingerprint.objects.filter(pk=int(text))
        .filter(Exists(HashListEvent.objects.filter(fingerprint_id=OuterRef("pk"))))
        .first()
    )
    if fingerprint is None:
        raise NotFound("Not found.")
    return fingerprint


@dataclass(frozen=True)
class Page:
    entries: list[dict[str, Any]]
    cursor: int
    has_more: bool


def hashlist_page(*, since: int, limit: int) -> Page:
    """The log after `since`, oldest first, as partners see it.

    An add that a newer event has superseded is left out: once a fingerprint has left the list
    (consent withdrawn, quarantine) its value is never sent again, not even to a partner reading
    from the start. Its delete event is sent, so every partner that had it drops it.
    """
    rows = list(
        HashListEvent.objects.filter(id__gt=since)
        .alias(superseded=Exists(_newer_event()))
        .exclude(action=HashListAction.ADD, superseded=True)
        .order_by("id")
        # values(), not model instances: nothing of the case is loaded (and nothing decrypted).
        .values(
            "id",
            "action",
            "fingerprint_id",
            "fingerprint__algorithm",
            "fingerprint__value",
            "fingerprint__frame_ms",
            "fingerprint__evidence__case__category",
        )[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    entries = []
    for row in rows:
        entry: dict[str, Any] = {
            "id": str(row["fingerprint_id"]),
            "action": row["action"],
            "algorithm": row["fingerprint__algorithm"],
            "value": row["fingerprint__value"] if row["action"] == HashListAction.ADD else None,
            "category": row["fingerprint__evidence__case__category"],
        }
        if row["fingerprint__frame_ms"] is not None:
            entry["frame_ms"] = row["fingerprint__frame_ms"]
        entries.append(entry)
    return Page(entries=entries, cursor=rows[-1]["id"] if rows else since, has_more=has_more)


def hashlist_lookup(*, algorithm: str, value: str) -> int | None:
    """Distance to the nearest fingerprint on the list within the algorithm's threshold, or None.

    A plain vectorised scan over the listed fingerprints of that algorithm: fine for the list's size
    today; the in-memory index (issue 5, hashing/index.py) can replace it behind this function.
    """
    value = value.lower()
    listed = Fingerprint.objects.filter(algorithm=algorithm, pk__in=current_adds().values("fingerprint_id"))
    if algorithm == MD5:
        return 0 if listed.filter(value=value).exists() else None
    values = [v.lower() for v in listed.values_list("value", flat=True).distinct() if len(v) == len(value)]
    if not values:
        return None
    bank = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), -1)
    probe = np.frombuffer(bytes.fromhex(value), dtype=np.uint8)
    distances = np.bitwise_count(bank ^ probe).sum(axis=1, dtype=np.int32)
    best = int(distances.argmin())
    # The scan only chooses the candidate; the distance reported is hashing's one definition of it.
    distance = hamming_hex(values[best], value)
    return distance if distance <= THRESHOLDS[algorithm] else None


@dataclass
class FingerprintState:
    fingerprint: Fingerprint
    listed: bool
    ever_listed: bool
    feedback: dict[str, int]
    quarantine: HashQuarantine | None
    low_quality: bool  # a PDQ hash too weak to share

    @property
    def quarantined(self) -> bool:
        return self.quarantine is not None and self.quarantine.active


def case_hashlist_state(case: Case, *, limit: int = 200) -> dict[str, Any]:
    """For the case page: the case's shareable fingerprints, on the list or not, partners'
    feedback per verdict and quarantine.

    A long video has tens of thousands of frame fingerprints, so counts come from the database and
    only `limit` rows are loaded: those needing attention (quarantine, reports) first, then the rest.
    """
    fingerprints = Fingerprint.objects.filter(evidence__case=case, algorithm__in=ALGORITHMS)
    total = fingerprints.count()
    if not total:
        return {"total": 0}
    feedback: dict[int, dict[str, int]] = {}
    totals = dict.fromkeys(FeedbackVerdict.values, 0)
    counted = (
        HashFeedback.objects.filter(fingerprint__in=fingerprints)
        .values_list("fingerprint_id", "verdict")
        .annotate(n=Count("id"))
        .order_by()
    )
    for fingerprint_id, verdict, n in counted:
        feedback.setdefault(fingerprint_id, {})[verdict] = n
        totals[verdict] = totals.get(verdict, 0) + n
    quarantines = {
        q.fingerprint_id: q for q in HashQuarantine.objects.filter(fingerprint__in=fingerprints).select_related("released_by")
    }
    attention = set(feedback) | set(quarantines)
    order = ("evidence_id", "frame_ms", "algorithm", "mirrored")
    picked = list(fingerprints.filter(pk__in=attention).order_by(*order)[:limit])
    picked += list(fingerprints.exclude(pk__in=attention).order_by(*order)[: max(0, limit - len(picked))])
    shown = Fingerprint.objects.filter(pk__in=[fp.pk for fp in picked])
    listed = listed_ids(shown)
    ever = set(HashListEvent.objects.filter(fingerprint__in=shown).values_list("fingerprint_id", flat=True).distinct())
    rows = [
        FingerprintState(
            fingerprint=fp,
            listed=fp.pk in listed,
            ever_listed=fp.pk in ever,
            feedback={v: feedback.get(fp.pk, {}).get(v, 0) for v in FeedbackVerdict.values},
            quarantine=quarantines.get(fp.pk),
            low_quality=fp.algorithm == PDQ and (fp.quality or 0) < settings.HASHLIST_PDQ_MIN_QUALITY,
        )
        for fp in picked
    ]
    rows.sort(key=lambda s: (not s.quarantined, s.quarantine is None, not any(s.feedback.values())))
    recent = HashFeedback.objects.filter(fingerprint__in=fingerprints).select_related("partner", "fingerprint")[:20]
    return {
        "consent": has_consent(case, ConsentKind.HASH_SHARING),
        "total": total,
        "listed": current_adds().filter(fingerprint__in=fingerprints).count(),
        "quarantined": sum(1 for q in quarantines.values() if q.active),
        "totals": totals,
        "rows": rows,
        "more": total - len(rows),
        "recent": list(recent),
    }


# Writes --------------------------------------------------------------------------------------


def _lock_list() -> None:
    """Holds the list for this transaction: one writer at a time, until commit.

    Two things depend on it. Event ids, the partners' cursor, are then handed out in commit order,
    so a partner who has read up to id N can never later miss an event below N that committed
    late. And "what is on the list" read after the lock is still true when the difference is written.
    The lock is the audit chain's own: every list change writes an audit event anyway, and the
    hooks fire after their caller's audit event, so a second lock would only add a way to deadlock.
    """
    audit._lock_chain()


def _sync(case: Case, fingerprints: QuerySet[Fingerprint]) -> tuple[int, int]:
    """Writes the add and delete events that bring these fingerprints (of one case) in line."""
    _lock_list()
    wanted = _eligible_ids(case, fingerprints)
    listed = listed_ids(fingerprints)
    removed = sorted(listed - wanted)
    added = sorted(wanted - listed)
    HashListEvent.objects.bulk_create(
        [HashListEvent(fingerprint_id=pk, action=HashListAction.DELETE) for pk in removed]
        + [HashListEvent(fingerprint_id=pk, action=HashListAction.ADD) for pk in added]
    )
    return len(added), len(removed)


@transaction.atomic
def hashlist_sync_case(*, case: Case, acting_user: User | None, trigger: str) -> tuple[int, int]:
    """Brings a whole case in line with its consent. Returns (added, removed)."""
    added, removed = _sync(case, Fingerprint.objects.filter(evidence__case=case))
    if added or removed:
        audit.record(
            "hashlist.sync", actor=acting_user, obj=case, details={"trigger": trigger, "added": added, "removed": removed}
        )
    return added, removed


@transaction.atomic
def hashlist_sync_evidence(*, evidence: Any) -> tuple[int, int]:
    """Shares the new fingerprints of one item of evidence, when its case consents."""
    fingerprints = Fingerprint.objects.filter(evidence=evidence)
    if not fingerprints.filter(algorithm__in=ALGORITHMS).exists():
        return 0, 0  # a document or web capture: nothing this could ever add, so no need to wait for the lock
    case = evidence.case
    added, removed = _sync(case, fingerprints)
    if added or removed:
        audit.record(
            "hashlist.sync",
            actor=None,
            obj=case,
            details={"trigger": "fingerprints_added", "evidence": evidence.pk, "added": added, "removed": removed},
        )
    return added, removed


def hashlist_remove_purged(fingerprints: QuerySet[Fingerprint]) -> int:
    """For the retention process, in its transaction: the list loses these fingerprints before
    they are deleted. One delete event per fingerprint on the list, so partners drop its id; the
    events outlive the fingerprint (HashListEvent.fingerprint has no database constraint) and
    carry nothing but the id. The purge's own audit event records how many. Returns that count."""
    _lock_list()
    listed = sorted(listed_ids(fingerprints))
    HashListEvent.objects.bulk_create([HashListEvent(fingerprint_id=pk, action=HashListAction.DELETE) for pk in listed])
    return len(listed)


def on_consent_changed(*, case: Case, kind: str, granted: bool, acting_user: User | None, **_: Any) -> None:
    """Hook: consent granted puts the case's fingerprints on the list; withdrawn takes them off at once."""
    if kind == ConsentKind.HASH_SHARING:
        hashlist_sync_case(case=case, acting_user=acting_user, trigger="consent_granted" if granted else "consent_withdrawn")


def on_fingerprints_added(*, evidence: Any, **_: Any) -> None:
    """Hook: new fingerprints of a consenting case join the list."""
    hashlist_sync_evidence(evidence=evidence)


def _fingerprint_case(fingerprint: Fingerprint) -> Case:
    return Case.objects.get(evidence__fingerprints__pk=fingerprint.pk)


@transaction.atomic
def hashlist_feedback_record(*, fingerprint: Fingerprint, verdict: str, reason: str = "", acting_user: User) -> HashFeedback:
    """A partner's report on a listed fingerprint. Enough false positives quarantine it."""
    if getattr(acting_user, "role", None) != Role.PARTNER:
        raise PermissionDenied(_("Only partner platforms report on listed fingerprints."))
    if verdict not in FeedbackVerdict.values:
        raise ServiceError(
            _("Unknown verdict. Choose one of: %(list)s.") % {"list": ", ".join(FeedbackVerdict.values)}, field="verdict"
        )
    reason = (reason or "").strip()
    if verdict == FeedbackVerdict.NOT_BLOCKED and not reason:
        raise ServiceError(_("Say why the matching upload was not blocked."), field="reason")
    if len(reason) > 1000:
        raise ServiceError(_("The reason is too long (1,000 characters at most)."), field="reason")
    case = _fingerprint_case(fingerprint)
    feedback = HashFeedback.objects.create(fingerprint=fingerprint, partner=acting_user, verdict=verdict, reason=reason)
    audit.record(
        "hashlist.feedback",
        actor=acting_user,
        object_type="evidence.fingerprint",
        object_id=fingerprint.pk,
        centre_id=case.centre_id,
        details={"verdict": verdict, "feedback": feedback.pk},
    )
    if verdict == FeedbackVerdict.FALSE_POSITIVE:
        _quarantine_if_due(fingerprint, case)
    return feedback


def _quarantine_if_due(fingerprint: Fingerprint, case: Case) -> HashQuarantine | None:
    """Quarantines after HASHLIST_FALSE_POSITIVE_LIMIT false-positive reports. Only reports made
    after the latest release count, so a person's release is not undone by the old reports."""
    _lock_list()
    quarantine = HashQuarantine.objects.filter(fingerprint=fingerprint).first()
    if quarantine is not None and quarantine.active:
        return None
    reports = HashFeedback.objects.filter(fingerprint=fingerprint, verdict=FeedbackVerdict.FALSE_POSITIVE)
    if quarantine is not None and quarantine.released_at is not None:
        reports = reports.filter(at__gt=quarantine.released_at)
    count = reports.count()
    if count < settings.HASHLIST_FALSE_POSITIVE_LIMIT:
        return None
    reason = f"{count} false-positive reports from partners"
    if quarantine is None:
        quarantine = HashQuarantine.objects.create(fingerprint=fingerprint, since=timezone.now(), reason=reason)
    else:
        quarantine.since, quarantine.reason = timezone.now(), reason
        quarantine.released_by, quarantine.released_at = None, None
        quarantine.save(update_fields=["since", "reason", "released_by", "released_at"])
    _added, removed = _sync(case, Fingerprint.objects.filter(pk=fingerprint.pk))
    audit.record(
        "hashlist.quarantine",
        actor=None,
        object_type="evidence.fingerprint",
        object_id=fingerprint.pk,
        centre_id=case.centre_id,
        details={"false_positives": count, "removed": removed, "case": case.pk},
    )
    return quarantine


@transaction.atomic
def hashlist_quarantine_release(*, quarantine: HashQuarantine, acting_user: User) -> HashQuarantine:
    """A person reviewed the reports and puts the fingerprint back (if the consent is still in force)."""
    fingerprint = quarantine.fingerprint
    case = _fingerprint_case(fingerprint)
    role = getattr(acting_user, "role", None)
    if not (role == Role.ADMIN or (role == Role.SUPERVISOR and acting_user.centre_id == case.centre_id)):
        raise PermissionDenied(_("Only a supervisor of the case's centre or an administrator releases a fingerprint."))
    _lock_list()
    current = HashQuarantine.objects.select_for_update().get(pk=quarantine.pk)
    if not current.active:
        raise Conflict(_("This fingerprint is not in quarantine."))
    current.released_by, current.released_at = acting_user, timezone.now()
    current.save(update_fields=["released_by", "released_at"])
    added, _removed = _sync(case, Fingerprint.objects.filter(pk=fingerprint.pk))
    audit.record(
        "hashlist.release",
        actor=acting_user,
        object_type="evidence.fingerprint",
        object_id=fingerprint.pk,
        centre_id=case.centre_id,
        details={"restored": bool(added), "case": case.pk},
    )
    return current
