"""Retention purges, pinned where mutation testing (`make mutate`) found them loose:
cases.retention.case_purge and reports_purge.

Threat: a purge meant for one case or one report reaches others (every open deletion request in
the system marked done, every unlinked public report deleted, a report already part of a case
deleted as if it had none), or reports wrong counts to the audit log and the retention page, so
nobody can tell afterwards what was deleted.
Control: case_purge deletes and counts only the case's own rows and closes only the case's own
open deletion requests; reports_purge deletes only the reports asked for that have no case,
leaving a tombstone with the reason, and records who asked, under which policy and its days.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cases import deletion, intake
from cases import services as case_services
from cases.models import (
    Case,
    CaseEvent,
    ConsentRecord,
    DeletionRequest,
    DeletionStatus,
    DeletionTombstone,
    IntakeReport,
    LegalHold,
    Referral,
    Victim,
)
from cases.retention import CLOSED_CASES, DELETION_REQUEST, INTAKE_REPORTS, case_purge, reports_purge, retention_run
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _case_with_history(caseworker, supervisor, label: str) -> Case:
    """A case with timeline entries, consent records, a referral, a lifted legal hold and an open
    deletion request filed by its caseworker."""
    case = factories.make_case(caseworker, consent={"takedown": True, "police_referral": True})
    case_services.case_add_note(case=case, text=f"note {label}", acting_user=caseworker)
    case_services.referral_create(case=case, kind="police", acting_user=caseworker, organisation=f"Station {label}")
    deletion.legal_hold_set(case=case, reason="Police asked us to keep this case.", acting_user=supervisor)
    deletion.legal_hold_lift(case=case, reason="The investigation is over now.", acting_user=supervisor)
    deletion.deletion_request_file(case=case, acting_user=caseworker, note=f"asked by phone {label}")
    return case


def _rows(case: Case) -> tuple[int, int, int, int]:
    return (
        CaseEvent.objects.filter(case=case).count(),
        ConsentRecord.objects.filter(case=case).count(),
        Referral.objects.filter(case=case).count(),
        LegalHold.objects.filter(case=case).count(),
    )


def test_a_case_purge_deletes_and_counts_only_that_case(caseworker, supervisor) -> None:
    purged, kept = _case_with_history(caseworker, supervisor, "A"), _case_with_history(caseworker, supervisor, "B")
    events, consents, referrals, holds = _rows(purged)
    assert events >= 4 and consents == 2 and referrals == 1 and holds == 1
    kept_before = _rows(kept)
    kept_request = DeletionRequest.objects.get(case=kept)
    # An earlier request of the purged case that a supervisor refused stays refused.
    refused = DeletionRequest.objects.create(
        case=purged, case_reference=purged.reference, centre_id=purged.centre_id, status=DeletionStatus.REFUSED
    )
    request = DeletionRequest.objects.get(case=purged, status=DeletionStatus.PENDING)
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    counts = case_purge(case_id=purged.pk, policy=DELETION_REQUEST, acting_user=supervisor, request=request)

    assert counts is not None
    assert (counts["timeline_events"], counts["consent_records"], counts["referrals"]) == (events, consents, referrals)
    assert counts["intake_reports"] == 0 and counts["victims"] == 1
    assert not Case.objects.filter(pk=purged.pk).exists()
    # The other case is whole, its own deletion request still waiting for a supervisor.
    assert _rows(kept) == kept_before
    kept_request.refresh_from_db()
    assert (kept_request.status, kept_request.completed_at) == (DeletionStatus.PENDING, None)
    # The purged case's own request is done, with the time it was done.
    done = DeletionRequest.objects.get(pk=request.pk)
    assert done.status == DeletionStatus.DONE and done.case_id is None
    refused.refresh_from_db()
    assert (refused.status, refused.completed_at) == (DeletionStatus.REFUSED, None)
    assert done.completed_at is not None and abs(done.completed_at - timezone.now()) < timedelta(minutes=1)
    event = AuditEvent.objects.get(id__gt=start, action="retention.purged")
    assert (event.actor_id, event.object_type, event.object_id) == (supervisor.pk, "cases.case", str(purged.pk))
    assert event.centre_id == purged.centre_id  # the centre's own auditors see what went
    assert event.details["request"] == request.pk
    assert {k: event.details[k] for k in ("timeline_events", "consent_records", "referrals", "policy")} == {
        "timeline_events": events, "consent_records": consents, "referrals": referrals, "policy": DELETION_REQUEST,
    }  # fmt: skip


def test_the_retention_run_adds_up_the_counts_of_every_case_it_purged(caseworker, supervisor) -> None:
    cases = [_case_with_history(caseworker, supervisor, label) for label in "AB"]
    expected = [_rows(case) for case in cases]
    for case in cases:
        DeletionRequest.objects.filter(case=case).update(status=DeletionStatus.REFUSED)
        case_services.case_set_status(case=case, status="closed", acting_user=caseworker)
    # Closing wrote one more timeline entry each.
    expected = [_rows(case) for case in cases]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        closed_at=timezone.now() - timedelta(days=settings.RETENTION_CLOSED_CASE_DAYS + 1)
    )
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    outcome = {o.policy: o for o in retention_run(apply=True)}[CLOSED_CASES]
    assert outcome.purged == 2
    run = AuditEvent.objects.get(id__gt=start, action="retention.run").details[CLOSED_CASES]
    assert {k: run[k] for k in ("days", "due", "held", "purged")} == {
        "days": settings.RETENTION_CLOSED_CASE_DAYS, "due": 2, "held": 0, "purged": 2,
    }  # fmt: skip
    assert outcome.details["timeline_events"] == sum(e[0] for e in expected)
    assert outcome.details["consent_records"] == sum(e[1] for e in expected) == 4
    assert outcome.details["referrals"] == 2 and outcome.details["victims"] == 2


def test_a_report_purge_deletes_only_the_reports_asked_for_that_have_no_case(caseworker, settings) -> None:
    asked, other = factories.make_report("first report"), factories.make_report("second report")
    in_a_case = factories.make_report("third report")
    intake.intake_open_case(report=in_a_case, acting_user=caseworker, pseudonym="Wren", category="deepfake")
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    assert reports_purge(report_ids=[asked.pk, in_a_case.pk], policy=INTAKE_REPORTS) == 1

    assert set(IntakeReport.objects.values_list("pk", flat=True)) == {other.pk, in_a_case.pk}
    stone = DeletionTombstone.objects.get()
    assert (stone.receipt_lookup, stone.reason) == (asked.receipt_lookup, "retention")
    event = AuditEvent.objects.get(id__gt=start, action="retention.purged")
    assert event.object_type == "cases.intakereport" and event.actor_id is None
    assert event.details == {
        "kind": "intake_report", "count": 1, "policy": INTAKE_REPORTS, "policy_days": settings.INTAKE_RETENTION_DAYS,
    }  # fmt: skip


def test_a_report_deleted_at_the_reporters_request_says_so(supervisor) -> None:
    report = factories.make_report("please delete this")
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    assert reports_purge(report_ids=[report.pk], policy=DELETION_REQUEST, acting_user=supervisor) == 1
    assert DeletionTombstone.objects.get().reason == "request"
    event = AuditEvent.objects.get(id__gt=start, action="retention.purged")
    assert event.actor_id == supervisor.pk
    assert event.details["policy"] == DELETION_REQUEST and event.details["policy_days"] is None


def test_a_victim_with_another_case_is_kept_until_their_last_case_goes(caseworker) -> None:
    first, second = factories.make_case(caseworker), factories.make_case(caseworker)
    Case.objects.filter(pk=second.pk).update(victim=first.victim)
    other_victim = factories.make_case(caseworker).victim
    assert case_purge(case_id=first.pk, policy=CLOSED_CASES)["victims"] == 0
    assert Victim.objects.filter(pk=first.victim_id).exists() and Case.objects.filter(pk=second.pk).exists()
    assert case_purge(case_id=second.pk, policy=CLOSED_CASES)["victims"] == 1
    assert not Victim.objects.filter(pk=first.victim_id).exists()
    assert Victim.objects.filter(pk=other_victim.pk).exists()
