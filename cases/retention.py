"""The retention process: what is kept how long, and the one purge path (docs/retention.md).

Policies (settings, days; 0 keeps for ever):

- closed_cases (RETENTION_CLOSED_CASE_DAYS): a case closed that long ago goes with everything of
  it: evidence, previews, fingerprints, custody log, captures, takedown requests with their notices
  and checks, watchlists, hash-list entries, consents, timeline, referrals, its public reports and
  the victim record (when no other case names it). Cases under legal hold are skipped and counted.
- intake_reports (INTAKE_RETENTION_DAYS): public reports never turned into a case.
- audit_log (RETENTION_AUDIT_DAYS): the oldest audit events, up to the newest signed checkpoint
  old enough (core.audit.purge_events, through the database's purge function), never past the
  first event about a case under legal hold.
- tombstones (RETENTION_TOMBSTONE_DAYS): what is left of deleted reports and finished deletion
  requests.
- sessions: expired sign-in sessions. Other apps add their own chores through the
  "retention_sweep" hook (evidence: expired download grants, file deletions to retry).

Approved deletion requests (cases/deletion.py) use the same case_purge(), at once or, when the
wake-up was lost or a legal hold has since been lifted, at the next run.

One case is purged per transaction, with the retention flag on (core.dbguard.allow_purge): the
database refuses these deletions anywhere else. Higher apps purge their rows first, through the
"case_purging" hook, called in reverse order of registration: takedowns registered after
evidence, and its rows point at evidence's, as evidence's point at the case. Each purge records
one "retention.purged" audit event with the kind, counts and policy, never content. Stored files
are deleted after the commit (evidence.retention).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from cases.models import (
    OPEN_DELETION_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    ConsentRecord,
    DeletionRequest,
    DeletionStatus,
    DeletionTombstone,
    IntakeReport,
    LegalHold,
    Referral,
    TombstoneReason,
    Victim,
)
from core import audit, dbguard, hooks
from core.models import AuditEvent

logger = logging.getLogger(__name__)

CLOSED_CASES = "closed_cases"
INTAKE_REPORTS = "intake_reports"
AUDIT_LOG = "audit_log"
TOMBSTONES = "tombstones"
SESSIONS = "sessions"
DELETION_REQUESTS = "deletion_requests"  # the run's outcome for approved requests carried out
DELETION_REQUEST = "deletion_request"  # the policy named in the audit when a request purges


@dataclass(frozen=True)
class Policy:
    name: str
    setting: str
    minimum: int  # smallest number of days accepted (0, "keep for ever", is always accepted)

    @property
    def days(self) -> int:
        return int(getattr(settings, self.setting))


# The minimums stop a typo from wiping what must be kept: an audit log shorter than a year could no
# longer answer for last year's work, and a closed case needs time to be reopened.
POLICIES = (
    Policy(CLOSED_CASES, "RETENTION_CLOSED_CASE_DAYS", 30),
    Policy(INTAKE_REPORTS, "INTAKE_RETENTION_DAYS", 7),
    Policy(AUDIT_LOG, "RETENTION_AUDIT_DAYS", 365),
    Policy(TOMBSTONES, "RETENTION_TOMBSTONE_DAYS", 30),
)


def policy_errors() -> list[str]:
    """Settings that are out of range, in words (for the system check and the run itself)."""
    errors = []
    for policy in POLICIES:
        days = policy.days
        if days < 0 or 0 < days < policy.minimum:
            errors.append(f"{policy.setting} must be 0 (keep for ever) or at least {policy.minimum} days, not {days}.")
    if settings.RETENTION_DOWNLOAD_GRANT_DAYS < 0:
        errors.append("RETENTION_DOWNLOAD_GRANT_DAYS must be 0 (keep for ever) or a number of days.")
    if settings.RETENTION_BATCH_CASES < 1:
        errors.append("RETENTION_BATCH_CASES must be at least 1.")
    return errors


@dataclass
class Outcome:
    """One policy's result: how many were due, kept for a legal hold, and deleted."""

    policy: str
    days: int | None = None
    due: int = 0
    held: int = 0
    purged: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "due": self.due, "held": self.held, "purged": self.purged, **self.details}


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + int(value)


def _active_hold() -> Exists:
    return Exists(LegalHold.objects.filter(case=OuterRef("pk"), lifted_at__isnull=True))


def is_held(case_id: int) -> bool:
    return LegalHold.objects.filter(case_id=case_id, lifted_at__isnull=True).exists()


# The purge ---------------------------------------------------------------------------------------


def _tombstones(reports: QuerySet[IntakeReport], reason: str) -> None:
    """So that the reporter's status page can still say when the report was deleted."""
    today = timezone.localdate()
    DeletionTombstone.objects.bulk_create(
        [DeletionTombstone(receipt_lookup=lookup, deleted_on=today, reason=reason) for lookup in reports.values_list("receipt_lookup", flat=True)],
        ignore_conflicts=True,
    )  # fmt: skip


def _purge_reports(report_ids: list[int], reason: str) -> int:
    """Deletes public reports with their addresses, fingerprints, messages and files (via hook)."""
    if not report_ids:
        return 0
    reports = IntakeReport.objects.filter(pk__in=report_ids)
    _tombstones(reports, reason)
    DeletionRequest.objects.filter(report_id__in=report_ids, status__in=OPEN_DELETION_STATUSES).update(
        status=DeletionStatus.DONE, completed_at=timezone.now()
    )
    hooks.fire("intake_reports_purged", report_ids=report_ids)  # their files, after the commit
    reports.delete()
    return len(report_ids)


def case_purge(
    *, case_id: int, policy: str, acting_user: Any = None, request: DeletionRequest | None = None
) -> dict[str, int] | None:
    """Deletes one case and everything of it, in one transaction. Returns the counts, or None when
    the case is gone or under legal hold (nothing is deleted then)."""
    with transaction.atomic():
        dbguard.allow_purge()
        # Locked, so a legal hold set at this moment either comes first (and is seen) or waits.
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None or is_held(case.pk):
            return None
        counts: dict[str, int] = {}
        for purge in reversed(hooks.providers("case_purging")):
            _add(counts, purge(case_ids=[case.pk]) or {})
        reason = TombstoneReason.REQUEST if policy == DELETION_REQUEST else TombstoneReason.RETENTION
        counts["intake_reports"] = _purge_reports(list(case.intake_reports.values_list("pk", flat=True)), reason)
        counts["timeline_events"] = CaseEvent.objects.filter(case=case).delete()[0]
        counts["consent_records"] = ConsentRecord.objects.filter(case=case).delete()[0]
        counts["referrals"] = Referral.objects.filter(case=case).delete()[0]
        LegalHold.objects.filter(case=case).delete()  # only lifted ones can be left here
        # Whatever asked for it, the victim's wish is met: open requests of the case are done.
        DeletionRequest.objects.filter(case=case, status__in=OPEN_DELETION_STATUSES).update(
            status=DeletionStatus.DONE, completed_at=timezone.now()
        )
        victim = case.victim
        reference, centre_id = case.reference, case.centre_id
        case.delete()  # requests keep their case_reference; the case link becomes empty
        counts["victims"] = 0
        if not Case.objects.filter(victim=victim).exists():
            counts["victims"] = Victim.objects.filter(pk=victim.pk).delete()[0]
        details: dict[str, Any] = {"kind": "case", "count": 1, "policy": policy, "reference": reference, **counts}
        if request is not None:
            details["request"] = request.pk
        # The case reference is a file number, not victim data; nothing else of the case is kept.
        audit.record(
            audit.PURGE_ACTION, actor=acting_user, object_type="cases.case", object_id=case_id, centre_id=centre_id,
            details=details,
        )  # fmt: skip
    return counts


def reports_purge(*, report_ids: list[int], policy: str, acting_user: Any = None) -> int:
    """Deletes public reports never turned into a case (by policy or at the reporter's request)."""
    with transaction.atomic():
        dbguard.allow_purge()
        ids = list(
            IntakeReport.objects.select_for_update().filter(pk__in=report_ids, case__isnull=True).values_list("pk", flat=True)
        )
        reason = TombstoneReason.REQUEST if policy == DELETION_REQUEST else TombstoneReason.RETENTION
        count = _purge_reports(ids, reason)
        if count:
            days = settings.INTAKE_RETENTION_DAYS if policy == INTAKE_REPORTS else None
            audit.record(
                audit.PURGE_ACTION, actor=acting_user, object_type="cases.intakereport",
                details={"kind": "intake_report", "count": count, "policy": policy, "policy_days": days},
            )  # fmt: skip
    return count


# Policies ----------------------------------------------------------------------------------------


def _closed_cases(apply: bool, now: datetime) -> Outcome:
    days = settings.RETENTION_CLOSED_CASE_DAYS
    outcome = Outcome(CLOSED_CASES, days)
    if not days:
        return outcome
    due = Case.objects.filter(status=CaseStatus.CLOSED, closed_at__lt=now - timedelta(days=days)).alias(held=_active_hold())
    outcome.held = due.filter(held=True).count()
    ids = list(due.filter(held=False).order_by("closed_at", "pk").values_list("pk", flat=True))
    outcome.due = len(ids) + outcome.held
    if not apply:
        for preview in hooks.providers("case_purge_preview"):
            _add(outcome.details, preview(case_ids=ids) or {})
        outcome.details["intake_reports"] = IntakeReport.objects.filter(case_id__in=ids).count()
        return outcome
    for case_id in ids[: settings.RETENTION_BATCH_CASES]:
        counts = case_purge(case_id=case_id, policy=CLOSED_CASES)
        if counts is None:
            if Case.objects.filter(pk=case_id).exists():
                outcome.held += 1  # a hold set since the list was read
            continue  # else another run (the command beside the daily task) purged it first
        outcome.purged += 1
        _add(outcome.details, counts)
    return outcome


def _approved_requests(apply: bool) -> Outcome:
    """Approved deletion requests still to carry out: a lost wake-up, or a hold lifted since."""
    from cases.deletion import deletion_request_carry_out

    outcome = Outcome(DELETION_REQUESTS)
    waiting = DeletionRequest.objects.filter(status__in=[DeletionStatus.APPROVED, DeletionStatus.ON_HOLD])
    held = waiting.filter(case__isnull=False).filter(
        Exists(LegalHold.objects.filter(case=OuterRef("case"), lifted_at__isnull=True))
    )
    outcome.held = held.count()
    ids = list(waiting.exclude(pk__in=held.values("pk")).order_by("requested_at").values_list("pk", flat=True))
    outcome.due = len(ids) + outcome.held
    if apply:
        for pk in ids:
            if deletion_request_carry_out(pk):
                outcome.purged += 1
    return outcome


def _intake_reports(apply: bool, now: datetime) -> Outcome:
    days = settings.INTAKE_RETENTION_DAYS
    outcome = Outcome(INTAKE_REPORTS, days)
    if not days:
        return outcome
    cutoff = timezone.localdate(now) - timedelta(days=days)
    ids = list(IntakeReport.objects.filter(case__isnull=True, received_on__lt=cutoff).values_list("pk", flat=True))
    outcome.due = len(ids)
    if apply and ids:
        outcome.purged = reports_purge(report_ids=ids, policy=INTAKE_REPORTS)
    return outcome


def _tombstones_policy(apply: bool, now: datetime) -> Outcome:
    days = settings.RETENTION_TOMBSTONE_DAYS
    outcome = Outcome(TOMBSTONES, days)
    if not days:
        return outcome
    cutoff = now - timedelta(days=days)
    stones = DeletionTombstone.objects.filter(deleted_on__lt=timezone.localdate(cutoff))
    finished = DeletionRequest.objects.filter(
        status__in=[DeletionStatus.DONE, DeletionStatus.REFUSED], case__isnull=True, report__isnull=True, requested_at__lt=cutoff
    )
    outcome.due = stones.count() + finished.count()
    if apply and outcome.due:
        with transaction.atomic():
            outcome.purged = stones.delete()[0] + finished.delete()[0]
            audit.record(
                audit.PURGE_ACTION, actor=None, object_type="cases.deletiontombstone",
                details={"kind": "tombstone", "count": outcome.purged, "policy": TOMBSTONES, "policy_days": days},
            )  # fmt: skip
    return outcome


def _sessions(apply: bool, now: datetime) -> Outcome:
    outcome = Outcome(SESSIONS)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return outcome  # other engines expire sessions themselves
    from django.contrib.sessions.models import Session

    expired = Session.objects.filter(expire_date__lt=now)
    outcome.due = expired.count()
    if apply and outcome.due:
        outcome.purged = expired.delete()[0]
    return outcome


def _first_held_event() -> int | None:
    held = [str(pk) for pk in LegalHold.objects.filter(lifted_at__isnull=True).values_list("case_id", flat=True)]
    if not held:
        return None
    return (
        AuditEvent.objects.filter(object_type="cases.case", object_id__in=held)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def _audit_log(apply: bool, now: datetime) -> Outcome:
    days = settings.RETENTION_AUDIT_DAYS
    outcome = Outcome(AUDIT_LOG, days)
    if not days:
        return outcome
    before = now - timedelta(days=days)
    stop = _first_held_event()
    due = AuditEvent.objects.filter(created_at__lt=before)
    outcome.due = due.count()
    if stop is not None:
        outcome.held = due.filter(id__gte=stop).count()
    if apply and outcome.due > outcome.held:
        with transaction.atomic():
            dbguard.allow_purge()
            outcome.purged = audit.purge_events(before=before, policy_days=days, stop_before_id=stop)
            if outcome.purged:
                # A checkpoint of the new head soon after (the purge event itself), by a worker.
                from core.tasks import audit_checkpoint_task

                transaction.on_commit(audit_checkpoint_task.delay)
    return outcome


def _sweeps(apply: bool, now: datetime) -> list[Outcome]:
    outcomes = []
    for sweep in hooks.providers("retention_sweep"):
        for name, figures in (sweep(apply=apply, now=now) or {}).items():
            outcomes.append(Outcome(name, figures.get("days"), due=figures.get("due", 0), purged=figures.get("purged", 0)))
    return outcomes


def retention_run(*, apply: bool, now: datetime | None = None) -> list[Outcome]:
    """Every policy in turn: counts only (apply=False, the dry run) or the deletions themselves.

    A real run ends with one "retention.run" audit event summarising all policies (counts only).
    """
    errors = policy_errors()
    if errors:
        raise ImproperlyConfigured(" ".join(errors))
    now = now or timezone.now()
    outcomes = [_closed_cases(apply, now), _approved_requests(apply), _intake_reports(apply, now)]
    outcomes += [_tombstones_policy(apply, now), _sessions(apply, now), *_sweeps(apply, now)]
    # The audit log last: the purge events written above are then the newest, far from any cutoff.
    outcomes.append(_audit_log(apply, now))
    if apply:
        audit.record_now("retention.run", actor=None, details={o.policy: o.as_dict() for o in outcomes})
    return outcomes
