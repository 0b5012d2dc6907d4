"""Public reports meeting cases and receipts of deleted reports, pinned where mutation testing
(`make mutate`) found cases.intake loose.

Threat: a report is attached to a second case (its addresses and files then split between two
victims' files), the audit log cannot say who attached it, or the status page answers a
receipt-shaped string outside the receipt's length for a deleted report.
Control: intake_attach_to_case refuses a report already linked and records the person who linked
it; intake_find_deleted looks only at strings of a receipt's possible length (16 to 64 letters
and digits), as intake_find does.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import intake
from cases.models import DeletionTombstone
from core.errors import ServiceError
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_report_joins_one_case_only_and_the_audit_says_who_linked_it(caseworker) -> None:
    report = factories.make_report("posted")
    first, second = factories.make_case(caseworker), factories.make_case(caseworker)
    intake.intake_attach_to_case(report=report, case=first, acting_user=caseworker)
    event = AuditEvent.objects.get(action="intake.attached")
    assert (event.actor_id, event.object_id, event.details) == (caseworker.pk, str(report.pk), {"case": first.pk})
    with pytest.raises(ServiceError) as refused:
        intake.intake_attach_to_case(report=report, case=second, acting_user=caseworker)
    assert refused.value.message == "This report is already linked to a case."
    report.refresh_from_db()
    assert report.case_id == first.pk and AuditEvent.objects.filter(action="intake.attached").count() == 1


@pytest.mark.parametrize(("length", "found"), [(15, False), (16, True), (17, True), (63, True), (64, True), (65, False)])
def test_a_deleted_reports_receipt_is_looked_up_only_at_a_receipts_length(length, found) -> None:
    text = ("ABCDEFGHJKLMNPQRSTUVWXYZ234567" * 3)[:length]
    DeletionTombstone.objects.create(receipt_lookup=intake._lookup_key(text), deleted_on=timezone.localdate(), reason="request")
    # Typed the way a person might: lower case, in groups.
    typed = "-".join(text[i : i + 4] for i in range(0, len(text), 4)).lower()
    assert (intake.intake_find_deleted(typed) is not None) is found


def test_reading_one_thread_marks_only_that_thread_read_for_that_person(caseworker, supervisor) -> None:
    from django.contrib.auth.models import AnonymousUser

    from cases.models import IntakeReadMark

    reports = [factories.make_report(f"r{i}") for i in range(2)]
    for report in reports:
        intake.intake_reply(report=report, text="Is anyone there?")
    marks = {
        (user.pk, report.pk): IntakeReadMark.objects.create(report=report, user=user, last_read_id=0)
        for user in (caseworker, supervisor)
        for report in reports
    }
    intake.intake_mark_read(report=reports[0], user=caseworker)
    intake.intake_mark_read(report=reports[0], user=AnonymousUser())  # nobody: nothing to remember
    newest = reports[0].messages.order_by("-id").first().pk
    read = {key: IntakeReadMark.objects.get(pk=mark.pk).last_read_id for key, mark in marks.items()}
    assert read == {
        (caseworker.pk, reports[0].pk): newest, (caseworker.pk, reports[1].pk): 0,
        (supervisor.pk, reports[0].pk): 0, (supervisor.pk, reports[1].pk): 0,
    }  # fmt: skip
    assert IntakeReadMark.objects.count() == 4
