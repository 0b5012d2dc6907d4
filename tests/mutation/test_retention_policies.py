"""The retention policies themselves (what is due, what is held, what a real run deletes), pinned
where mutation testing (`make mutate`) found cases.retention loose: the end-to-end tests showed a
due case purged, but no test ran the public-report policy at all, and a purge of recently closed
or reopened cases, or a retention setting of one day, passed every test.

Threat: the daily run deletes what must be kept (a case closed yesterday, a reopened case, a
report that became a case, a case under legal hold) or keeps for ever what the victim or the
policy says must go; its counts (due, held, purged) mislead the supervisor who reads them.
Control: cases.retention: closed cases by their closing date and status, public reports without a
case by the day received, approved deletion requests unless their case is held; policy settings
out of range stop the run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import deletion, intake, retention
from cases import services as case_services
from cases.models import Case, DeletionRequest, DeletionStatus, IntakeReport
from cases.retention import CLOSED_CASES, DELETION_REQUESTS, INTAKE_REPORTS, policy_errors, retention_run
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = "Police asked us to keep this case for the trial."


def _closed(caseworker, days_ago: int) -> Case:
    case = factories.make_case(caseworker)
    case_services.case_set_status(case=case, status="closed", acting_user=caseworker)
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=days_ago))
    return case


def _outcome(policy: str, *, apply: bool = True) -> retention.Outcome:
    return {o.policy: o for o in retention_run(apply=apply)}[policy]


def test_closed_cases_go_by_closing_date_status_and_hold(caseworker, supervisor, settings) -> None:
    days = settings.RETENTION_CLOSED_CASE_DAYS
    due, held = _closed(caseworker, days + 1), _closed(caseworker, days + 40)
    recent = _closed(caseworker, days - 1)
    reopened = _closed(caseworker, days + 5)
    case_services.case_set_status(case=reopened, status="open", acting_user=caseworker)
    Case.objects.filter(pk=reopened.pk).update(closed_at=timezone.now() - timedelta(days=days + 5))
    deletion.legal_hold_set(case=held, reason=HOLD, acting_user=supervisor)
    report = factories.make_report("posted")
    intake.intake_attach_to_case(report=report, case=due, acting_user=caseworker)

    dry = _outcome(CLOSED_CASES, apply=False)
    assert (dry.days, dry.due, dry.held, dry.purged) == (days, 2, 1, 0)
    assert dry.details["intake_reports"] == 1  # the due case's public report goes with it
    assert Case.objects.filter(pk=due.pk).exists()

    run = _outcome(CLOSED_CASES)
    assert (run.days, run.due, run.held, run.purged) == (days, 2, 1, 1)
    assert set(Case.objects.values_list("pk", flat=True)) == {held.pk, recent.pk, reopened.pk}


def test_a_hold_set_while_the_run_works_is_counted_and_the_run_goes_on(caseworker, supervisor, settings, monkeypatch) -> None:
    days = settings.RETENTION_CLOSED_CASE_DAYS
    first, second = _closed(caseworker, days + 9), _closed(caseworker, days + 8)  # oldest first
    real = retention.case_purge

    def hold_first_then_purge(*, case_id: int, **kwargs):
        if case_id == first.pk:  # a supervisor sets a hold just after the run listed the case
            deletion.legal_hold_set(case=first, reason=HOLD, acting_user=supervisor)
        return real(case_id=case_id, **kwargs)

    monkeypatch.setattr(retention, "case_purge", hold_first_then_purge)
    run = _outcome(CLOSED_CASES)
    assert (run.due, run.held, run.purged) == (2, 1, 1)
    assert Case.objects.filter(pk=first.pk).exists() and not Case.objects.filter(pk=second.pk).exists()


def test_public_reports_without_a_case_go_after_the_intake_retention_days(caseworker, settings) -> None:
    days = settings.INTAKE_RETENTION_DAYS
    reports = [factories.make_report(f"r{i}") for i in range(3)]
    old, recent, in_a_case = reports
    intake.intake_open_case(report=in_a_case, acting_user=caseworker, pseudonym="Wren", category="deepfake")
    today = timezone.localdate()
    IntakeReport.objects.filter(pk__in=[old.pk, in_a_case.pk]).update(received_on=today - timedelta(days=days + 1))
    IntakeReport.objects.filter(pk=recent.pk).update(received_on=today - timedelta(days=days))

    dry = _outcome(INTAKE_REPORTS, apply=False)
    assert (dry.days, dry.due, dry.purged) == (days, 1, 0)
    assert IntakeReport.objects.count() == 3
    run = _outcome(INTAKE_REPORTS)
    assert (run.days, run.due, run.purged) == (days, 1, 1)
    purge = AuditEvent.objects.filter(action="retention.purged").latest("id")
    assert purge.details == {"kind": "intake_report", "count": 1, "policy": INTAKE_REPORTS, "policy_days": days}
    assert set(IntakeReport.objects.values_list("pk", flat=True)) == {recent.pk, in_a_case.pk}

    settings.INTAKE_RETENTION_DAYS = 0  # keep for ever
    IntakeReport.objects.filter(pk=recent.pk).update(received_on=today - timedelta(days=400))
    kept = _outcome(INTAKE_REPORTS)
    assert (kept.days, kept.due, kept.purged) == (0, 0, 0) and IntakeReport.objects.filter(pk=recent.pk).exists()


def test_approved_deletion_requests_wait_only_for_their_own_cases_hold(caseworker, supervisor) -> None:
    held_case, free_case, other_free = (factories.make_case(caseworker) for _ in range(3))
    deletion.legal_hold_set(case=held_case, reason=HOLD, acting_user=supervisor)
    requests = [deletion.deletion_request_file(case=c, acting_user=caseworker) for c in (held_case, free_case, other_free)]
    # Approved, but the worker's wake-up was lost: the daily run carries them out.
    DeletionRequest.objects.filter(pk__in=[r.pk for r in requests]).update(status=DeletionStatus.APPROVED)
    run = _outcome(DELETION_REQUESTS)
    assert (run.due, run.held, run.purged) == (3, 1, 2)
    assert set(Case.objects.values_list("pk", flat=True)) == {held_case.pk}
    assert DeletionRequest.objects.get(pk=requests[0].pk).status == DeletionStatus.APPROVED


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("RETENTION_CLOSED_CASE_DAYS", 30, None),
        ("RETENTION_CLOSED_CASE_DAYS", 0, None),
        ("RETENTION_CLOSED_CASE_DAYS", 1, "RETENTION_CLOSED_CASE_DAYS must be 0 (keep for ever) or at least 30 days, not 1."),
        ("RETENTION_CLOSED_CASE_DAYS", 29, "RETENTION_CLOSED_CASE_DAYS must be 0 (keep for ever) or at least 30 days, not 29."),
        ("INTAKE_RETENTION_DAYS", -1, "INTAKE_RETENTION_DAYS must be 0 (keep for ever) or at least 7 days, not -1."),
        ("RETENTION_DOWNLOAD_GRANT_DAYS", 0, None),
        ("RETENTION_DOWNLOAD_GRANT_DAYS", 1, None),
        ("RETENTION_DOWNLOAD_GRANT_DAYS", -1, "RETENTION_DOWNLOAD_GRANT_DAYS must be 0 (keep for ever) or a number of days."),
        ("RETENTION_BATCH_CASES", 1, None),
        ("RETENTION_BATCH_CASES", 0, "RETENTION_BATCH_CASES must be at least 1."),
    ],
)
def test_each_policy_setting_is_checked_at_its_edges(settings, setting, value, error) -> None:
    setattr(settings, setting, value)
    assert policy_errors() == ([error] if error else [])


def test_a_small_batch_purges_the_longest_closed_first(caseworker, settings) -> None:
    days = settings.RETENTION_CLOSED_CASE_DAYS
    newer = _closed(caseworker, days + 2)  # made first, so the lower id
    _closed(caseworker, days + 50)  # made second, closed long before: it goes first
    settings.RETENTION_BATCH_CASES = 1
    run = _outcome(CLOSED_CASES)
    assert (run.due, run.purged) == (2, 1)
    assert list(Case.objects.values_list("pk", flat=True)) == [newer.pk]


def test_every_hold_set_while_the_run_works_is_counted(caseworker, supervisor, settings, monkeypatch) -> None:
    days = settings.RETENTION_CLOSED_CASE_DAYS
    cases = [_closed(caseworker, days + 10 - i) for i in range(3)]
    real = retention.case_purge

    def hold_two(*, case_id: int, **kwargs):
        if case_id in (cases[0].pk, cases[1].pk):
            deletion.legal_hold_set(case=Case.objects.get(pk=case_id), reason=HOLD, acting_user=supervisor)
        return real(case_id=case_id, **kwargs)

    monkeypatch.setattr(retention, "case_purge", hold_two)
    run = _outcome(CLOSED_CASES)
    assert (run.due, run.held, run.purged) == (3, 2, 1)


def test_tombstones_and_finished_requests_go_after_their_days(caseworker, settings) -> None:
    from cases.models import DeletionTombstone

    days = settings.RETENTION_TOMBSTONE_DAYS
    today = timezone.localdate()
    old_stone = DeletionTombstone.objects.create(
        receipt_lookup="a" * 64, deleted_on=today - timedelta(days=days + 1), reason="request"
    )
    new_stone = DeletionTombstone.objects.create(
        receipt_lookup="b" * 64, deleted_on=today - timedelta(days=days - 1), reason="request"
    )
    long_ago = timezone.now() - timedelta(days=days + 1)
    case = factories.make_case(caseworker)
    report = factories.make_report("r")

    def request(**fields) -> DeletionRequest:
        row = DeletionRequest.objects.create(case_reference="KR-OLD", **fields)
        DeletionRequest.objects.filter(pk=row.pk).update(requested_at=fields.pop("at", long_ago))
        return row

    done = request(status=DeletionStatus.DONE)
    refused = request(status=DeletionStatus.REFUSED)
    pending = request(status=DeletionStatus.PENDING)
    of_a_case = request(status=DeletionStatus.REFUSED, case=case)
    of_a_report = request(status=DeletionStatus.DONE, report=report)
    recent = DeletionRequest.objects.create(case_reference="KR-NEW", status=DeletionStatus.DONE)

    dry = _outcome(retention.TOMBSTONES, apply=False)
    assert (dry.days, dry.due, dry.purged) == (days, 3, 0)
    run = _outcome(retention.TOMBSTONES)
    assert (run.days, run.due, run.purged) == (days, 3, 3)
    assert list(DeletionTombstone.objects.values_list("pk", flat=True)) == [new_stone.pk]
    kept = set(DeletionRequest.objects.values_list("pk", flat=True))
    assert kept == {pending.pk, of_a_case.pk, of_a_report.pk, recent.pk}
    assert not {done.pk, refused.pk} & kept
    assert not DeletionTombstone.objects.filter(pk=old_stone.pk).exists()

    settings.RETENTION_TOMBSTONE_DAYS = 0  # keep for ever
    DeletionTombstone.objects.filter(pk=new_stone.pk).update(deleted_on=today - timedelta(days=900))
    forever = _outcome(retention.TOMBSTONES)
    assert (forever.days, forever.due, forever.purged) == (0, 0, 0)
