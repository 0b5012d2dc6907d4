"""Victims' deletion requests and legal holds: services (writes) and selectors (reads).

A request comes from the reporter's status page (cases.intake.intake_request_deletion) or from
a caseworker on the case page. A supervisor approves or refuses it (with a reason). Approval
hands it to a worker that carries it out through the retention purge (cases.retention), unless
a legal hold applies: then the request waits (ON_HOLD) and the reporter is told that a staff
member will contact them. Lifting the hold sets waiting requests going again.

Order in carry_out matters: 1. lock the request, 2. lock the case (legal_hold_set locks it too,
so a hold and a purge never pass each other), 3. check the hold, 4. purge, 5. mark done.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import retention
from cases.models import (
    OPEN_DELETION_STATUSES,
    Case,
    CaseEvent,
    DeletionRequest,
    DeletionSource,
    DeletionStatus,
    EventKind,
    IntakeReport,
    IntakeStatus,
    LegalHold,
)
from cases.services import case_record_event
from core import audit
from core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role

logger = logging.getLogger(__name__)


def _require_supervisor_of(case: Case | None, user: User) -> None:
    if user.role != Role.SUPERVISOR or user.centre_id is None:
        raise PermissionDenied(_("Only a supervisor decides on legal holds and deletion requests."))
    if case is not None and case.centre_id != user.centre_id:
        raise PermissionDenied(_("Only a supervisor of the case's centre decides on it."))


def _reason(text: str, field: str) -> str:
    text = (text or "").strip()
    if len(text) < 10:
        raise ServiceError(_("Give the reason in a full sentence."), field=field)
    if len(text) > 2000:
        raise ServiceError(_("The reason is too long (2,000 characters at most)."), field=field)
    return text


def _wake(request_id: int) -> None:
    """After the commit, a worker carries the request out. If the broker is down, the daily
    retention run does it instead (the request row is the truth; the task is only a wake-up)."""

    def send() -> None:
        from cases.tasks import carry_out_deletion

        try:
            carry_out_deletion.delay(request_id)
        except Exception:  # noqa: BLE001 - the daily run picks the request up
            logger.warning("could not queue deletion request %s; the daily retention run will carry it out", request_id)

    transaction.on_commit(send)


# Legal holds -------------------------------------------------------------------------------------


@transaction.atomic
def legal_hold_set(*, case: Case, reason: str, acting_user: User) -> LegalHold:
    """Stops every purge of the case until lifted. Approved deletion requests wait (ON_HOLD)."""
    _require_supervisor_of(case, acting_user)
    reason = _reason(reason, "reason")
    Case.objects.select_for_update().filter(pk=case.pk).first()  # serialises with a purge of the case
    if LegalHold.objects.filter(case=case, lifted_at__isnull=True).exists():
        raise Conflict(_("This case is already under legal hold."))
    hold = LegalHold.objects.create(case=case, reason=reason, set_by=acting_user)
    waiting = DeletionRequest.objects.filter(case=case, status=DeletionStatus.APPROVED).update(status=DeletionStatus.ON_HOLD)
    audit.record("legal_hold.set", actor=acting_user, obj=case, details={"hold": hold.pk, "requests_waiting": waiting})
    case_record_event(case=case, kind=EventKind.LEGAL_HOLD, text=reason, data={"hold": "set"}, author=acting_user)
    return hold


@transaction.atomic
def legal_hold_lift(*, case: Case, reason: str, acting_user: User) -> LegalHold:
    """Ends the hold. Approved deletion requests that waited for it are carried out now."""
    _require_supervisor_of(case, acting_user)
    reason = _reason(reason, "lift_reason")
    Case.objects.select_for_update().filter(pk=case.pk).first()
    hold = LegalHold.objects.select_for_update().filter(case=case, lifted_at__isnull=True).first()
    if hold is None:
        raise Conflict(_("This case is not under legal hold."))
    hold.lifted_by, hold.lifted_at, hold.lift_reason = acting_user, timezone.now(), reason
    hold.save(update_fields=["lifted_by", "lifted_at", "lift_reason"])
    waiting = list(DeletionRequest.objects.filter(case=case, status=DeletionStatus.ON_HOLD).values_list("pk", flat=True))
    DeletionRequest.objects.filter(pk__in=waiting).update(status=DeletionStatus.APPROVED)
    audit.record("legal_hold.lift", actor=acting_user, obj=case, details={"hold": hold.pk, "requests_resumed": len(waiting)})
    case_record_event(case=case, kind=EventKind.LEGAL_HOLD, text=reason, data={"hold": "lifted"}, author=acting_user)
    for pk in waiting:
        _wake(pk)
    return hold


# Deletion requests -------------------------------------------------------------------------------


def _open_request(*, case: Case | None, report: IntakeReport | None) -> DeletionRequest | None:
    match = Q(case=case) if case is not None else Q(report=report, case__isnull=True)
    return DeletionRequest.objects.filter(match, status__in=OPEN_DELETION_STATUSES).first()


def deletion_request_from_reporter(*, report: IntakeReport) -> DeletionRequest:
    """The reporter asked on the status page. For a report that became (part of) a case, the
    request is for the case: the victim's data is the case. Asking twice changes nothing."""
    case = report.case
    existing = _open_request(case=case, report=report)
    if existing is not None:
        return existing
    request = DeletionRequest.objects.create(
        case=case, report=report, case_reference=case.reference if case else "", centre_id=case.centre_id if case else None,
        source=DeletionSource.REPORTER,
    )  # fmt: skip
    # An anonymous reporter's act keeps only its day (DESIGN.md): the row and its timeline entry
    # carry the day's start, not the moment the reporter asked.
    day = audit.day_start()
    DeletionRequest.objects.filter(pk=request.pk).update(requested_at=day)
    request.requested_at = day
    if case is not None:
        event = case_record_event(
            case=case, kind=EventKind.DELETION_REQUEST, data={"status": DeletionStatus.PENDING, "request": request.pk}
        )
        CaseEvent.objects.filter(pk=event.pk).update(created_at=day)
    return request


@transaction.atomic
def deletion_request_file(*, case: Case, acting_user: User, note: str = "") -> DeletionRequest:
    """A caseworker records that the victim asked them to delete their data."""
    if acting_user.role not in CASE_ROLES or acting_user.centre_id != case.centre_id:
        raise PermissionDenied(_("Only caseworkers and supervisors of the case's centre file deletion requests."))
    note = (note or "").strip()
    if len(note) > 2000:
        raise ServiceError(_("The note is too long (2,000 characters at most)."), field="note")
    Case.objects.select_for_update().filter(pk=case.pk).first()
    if _open_request(case=case, report=None) is not None:
        raise Conflict(_("A deletion request for this case is already open."))
    request = DeletionRequest.objects.create(
        case=case, case_reference=case.reference, centre_id=case.centre_id, source=DeletionSource.STAFF, note=note,
        requested_by=acting_user,
    )  # fmt: skip
    audit.record("deletion.requested", actor=acting_user, obj=case, details={"request": request.pk, "source": "staff"})
    case_record_event(
        case=case, kind=EventKind.DELETION_REQUEST, text=note, data={"status": DeletionStatus.PENDING, "request": request.pk},
        author=acting_user,
    )  # fmt: skip
    return request


def _locked(request: DeletionRequest) -> DeletionRequest:
    locked = DeletionRequest.objects.select_for_update().filter(pk=request.pk).first()
    if locked is None:
        raise NotFound(_("This deletion request no longer exists."))
    _follow_report(locked)
    return locked


def _follow_report(request: DeletionRequest) -> None:
    """A report asked to be deleted may have been triaged into a case since: the request then
    concerns that case (the victim's data is the case), and its centre decides."""
    if request.case_id is None and request.report_id is not None:
        case_id = IntakeReport.objects.filter(pk=request.report_id).values_list("case_id", flat=True).first()
        if case_id is not None:
            case = Case.objects.get(pk=case_id)
            request.case, request.case_reference, request.centre_id = case, case.reference, case.centre_id
            request.save(update_fields=["case", "case_reference", "centre"])


def _audit_target(request: DeletionRequest) -> dict[str, Any]:
    if request.case is not None:
        return {"obj": request.case}
    return {"object_type": "cases.deletionrequest", "object_id": request.pk}


@transaction.atomic
def deletion_request_approve(*, request: DeletionRequest, acting_user: User) -> DeletionRequest:
    """Approves: carried out at once by a worker, or, under legal hold, when the hold is lifted."""
    request = _locked(request)
    _require_supervisor_of(request.case, acting_user)
    if request.status != DeletionStatus.PENDING:
        raise Conflict(_("This request was already decided."))
    held = request.case_id is not None and retention.is_held(request.case_id)
    request.status = DeletionStatus.ON_HOLD if held else DeletionStatus.APPROVED
    request.decided_by, request.decided_at = acting_user, timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        "deletion.approved", actor=acting_user, **_audit_target(request), details={"request": request.pk, "on_hold": held}
    )
    if request.case is not None:
        case_record_event(
            case=request.case, kind=EventKind.DELETION_REQUEST, data={"status": request.status, "request": request.pk},
            author=acting_user,
        )  # fmt: skip
    if not held:
        _wake(request.pk)
    return request


@transaction.atomic
def deletion_request_refuse(*, request: DeletionRequest, reason: str, acting_user: User) -> DeletionRequest:
    """Refuses with a reason for the record; the reporter is told a staff member will explain."""
    request = _locked(request)
    _require_supervisor_of(request.case, acting_user)
    if request.status not in (DeletionStatus.PENDING, DeletionStatus.ON_HOLD):
        raise Conflict(_("This request can no longer be refused."))
    request.status = DeletionStatus.REFUSED
    request.refusal_reason = _reason(reason, "reason")
    request.decided_by, request.decided_at = acting_user, timezone.now()
    request.save(update_fields=["status", "refusal_reason", "decided_by", "decided_at"])
    # The reports are no longer waiting for deletion: they show their ordinary state again.
    concerned = Q(pk=request.report_id)
    if request.case_id is not None:
        concerned |= Q(case_id=request.case_id)
    for report in IntakeReport.objects.filter(concerned, status=IntakeStatus.DELETION_REQUESTED):
        report.status = IntakeStatus.CASE_OPENED if report.case_id else IntakeStatus.RECEIVED
        report.save(update_fields=["status"])
    audit.record("deletion.refused", actor=acting_user, **_audit_target(request), details={"request": request.pk})
    if request.case is not None:
        case_record_event(
            case=request.case, kind=EventKind.DELETION_REQUEST, text=request.refusal_reason,
            data={"status": DeletionStatus.REFUSED, "request": request.pk}, author=acting_user,
        )  # fmt: skip
    return request


def deletion_request_carry_out(request_id: int) -> bool:
    """Carries out an approved request (the worker's task and the daily run call this). Returns
    True when the data was deleted; running it twice, or for a request not approved, does nothing."""
    with transaction.atomic():
        request = DeletionRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.status not in (DeletionStatus.APPROVED, DeletionStatus.ON_HOLD):
            return False
        _follow_report(request)
        if request.case_id is not None:
            case = Case.objects.select_for_update().filter(pk=request.case_id).first()
            if case is not None and retention.is_held(case.pk):
                if request.status == DeletionStatus.APPROVED:
                    request.status = DeletionStatus.ON_HOLD
                    request.save(update_fields=["status"])
                    audit.record("deletion.on_hold", actor=None, obj=case, details={"request": request.pk})
                return False
            if case is not None:
                retention.case_purge(case_id=case.pk, policy=retention.DELETION_REQUEST, request=request)
        elif request.report_id is not None:
            retention.reports_purge(report_ids=[request.report_id], policy=retention.DELETION_REQUEST)
        DeletionRequest.objects.filter(pk=request.pk).update(status=DeletionStatus.DONE, completed_at=timezone.now())
    return True


# Reads -------------------------------------------------------------------------------------------


def deletion_requests_for(user: Any) -> QuerySet[DeletionRequest]:
    """What a supervisor decides on: requests for cases of their centre, and for public reports
    without a case that the intake routing shows them (routed to their centre, or unrouted when
    their centre is the triage centre: cases/selectors.py). Nobody else sees the queue."""
    from cases.selectors import intake_reports_visible_to, triage_centre

    if getattr(user, "role", None) != Role.SUPERVISOR or user.centre_id is None:
        return DeletionRequest.objects.none()
    reports = intake_reports_visible_to(user).filter(case__isnull=True).values("pk")
    scope = Q(centre_id=user.centre_id) | Q(centre__isnull=True, report__in=reports)
    if getattr(triage_centre(), "pk", None) == user.centre_id:
        scope |= Q(centre__isnull=True, report__isnull=True)  # a report already purged: the triage centre keeps the outcome
    return (
        DeletionRequest.objects.filter(scope)
        .select_related("case", "report", "requested_by", "decided_by")
        .order_by("-requested_at", "-id")
    )


def deletion_request_get(*, user: Any, pk: Any) -> DeletionRequest:
    try:
        return deletion_requests_for(user).get(pk=int(pk))
    except (DeletionRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Not found.") from exc


def deletion_state_for_report(report: IntakeReport) -> DeletionRequest | None:
    """The newest deletion request concerning this report (its own, or its case's)."""
    match = Q(report=report)
    if report.case_id is not None:
        match |= Q(case_id=report.case_id)
    return DeletionRequest.objects.filter(match).order_by("-requested_at", "-id").first()
