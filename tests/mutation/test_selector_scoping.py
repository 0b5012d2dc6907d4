"""Details of the access selectors that mutation testing (`make mutate`, docs/testing.md) found
no test pinning: each test here failed a mutant of cases/selectors.py or evidence/selectors.py
that every other test let live.

Threat: a selector that widens by one condition (consent of another case counting for this one,
an inactive or service account offered as an assignee, a grant of another person or an expired
one opening originals, a deactivated account still listing cases) hands a victim's case to
someone it was not meant for, while the usual happy-path tests still pass.
Control: cases/selectors.py (cases_visible_to, case_get, case_get_by_reference, consent_state,
has_consent, assignable_staff, intake_report_get) and evidence/selectors.py (evidence_get,
may_download).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import selectors
from cases.models import ConsentRecord
from core.errors import NotFound
from core.roles import Role
from evidence import selectors as evidence_selectors
from evidence.models import DownloadGrant, Evidence
from tests import factories

pytestmark = pytest.mark.django_db


def _consent(case, kind: str, granted: bool, user) -> ConsentRecord:
    return ConsentRecord.objects.create(case=case, kind=kind, granted=granted, method="phone", recorded_by=user)


def test_consent_of_another_case_or_kind_does_not_count(caseworker):
    mine = factories.make_case(caseworker)
    other = factories.make_case(caseworker)
    _consent(other, "takedown", True, caseworker)
    _consent(mine, "hash_sharing", True, caseworker)
    assert selectors.has_consent(mine, "takedown") is False
    assert selectors.consent_state(mine)["takedown"] is None
    assert selectors.has_consent(mine, "hash_sharing") is True
    assert selectors.has_consent(other, "takedown") is True


def test_the_newest_decision_is_in_force(caseworker):
    case = factories.make_case(caseworker)
    _consent(case, "takedown", True, caseworker)
    withdrawn = _consent(case, "takedown", False, caseworker)
    assert selectors.has_consent(case, "takedown") is False
    assert selectors.consent_state(case)["takedown"] == withdrawn
    given_again = _consent(case, "takedown", True, caseworker)
    assert selectors.has_consent(case, "takedown") is True
    state = selectors.consent_state(case)
    assert state["takedown"] == given_again
    assert state["takedown"].recorded_by == caseworker


def test_only_active_people_of_the_centre_can_be_assigned(central, region, supervisor, caseworker):
    inactive = factories.make_user("caseworker", central, username="gone")
    inactive.is_active = False
    inactive.save()
    twin = factories.service_twin(caseworker)
    elsewhere = factories.make_user("caseworker", region, username="elsewhere")
    auditor = factories.make_user(Role.AUDITOR, central, username="reader")
    names = list(selectors.assignable_staff(supervisor).values_list("username", flat=True))
    assert caseworker.username in names and supervisor.username in names
    for outsider in (inactive, twin, elsewhere, auditor):
        assert outsider.username not in names
    assert names == sorted(names)


def test_a_deactivated_or_centreless_account_sees_no_case(central, caseworker, supervisor):
    case = factories.make_case(caseworker)
    assert list(selectors.cases_visible_to(supervisor)) == [case]
    supervisor.is_active = False
    supervisor.save()
    assert not selectors.cases_visible_to(supervisor).exists()
    nowhere = factories.make_user("supervisor", central, username="nowhere")
    nowhere.centre = None
    nowhere.save()
    assert not selectors.cases_visible_to(nowhere).exists()


def test_a_caseworker_sees_cases_assigned_or_created(caseworker, caseworker_b, supervisor):
    created = factories.make_case(caseworker, assigned_to=caseworker_b)  # opened by them, handed on
    assigned = factories.make_case(caseworker_b, assigned_to=caseworker)
    factories.make_case(caseworker_b)
    assert set(selectors.cases_visible_to(caseworker)) == {created, assigned}


def test_not_found_says_the_same_for_missing_and_hidden(caseworker, caseworker_b):
    hidden = factories.make_case(caseworker_b)
    for pk in (hidden.pk, 999999, "x"):
        with pytest.raises(NotFound) as caught:
            selectors.case_get(user=caseworker, pk=pk)
        assert caught.value.message == "Case not found."
    with pytest.raises(NotFound) as caught:
        selectors.case_get_by_reference(user=caseworker, reference=hidden.reference)
    assert caught.value.message == "Case not found."
    assert selectors.case_get_by_reference(user=caseworker_b, reference=hidden.reference) == hidden
    with pytest.raises(NotFound) as caught:
        selectors.intake_report_get(user=caseworker, pk=999999)
    assert caught.value.message == "Report not found."


def test_a_download_needs_this_persons_unexpired_grant_for_this_case(caseworker, caseworker_b, supervisor, other_supervisor):
    case = factories.make_case(caseworker)
    other_case = factories.make_case(caseworker)
    item = Evidence.objects.create(case=case, created_by=caseworker, **_evidence_fields())
    assert evidence_selectors.may_download(supervisor, item) is True
    assert evidence_selectors.may_download(other_supervisor, item) is False
    assert evidence_selectors.may_download(caseworker, item) is False
    soon = timezone.now() + timedelta(hours=1)
    DownloadGrant.objects.create(case=other_case, user=caseworker, granted_by=supervisor, reason="r", expires_at=soon)
    DownloadGrant.objects.create(case=case, user=caseworker_b, granted_by=supervisor, reason="r", expires_at=soon)
    DownloadGrant.objects.create(
        case=case, user=caseworker, granted_by=supervisor, reason="r", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert evidence_selectors.may_download(caseworker, item) is False
    DownloadGrant.objects.create(case=case, user=caseworker, granted_by=supervisor, reason="r", expires_at=soon)
    assert evidence_selectors.may_download(caseworker, item) is True
    with pytest.raises(NotFound) as caught:
        evidence_selectors.evidence_get(user=other_supervisor, pk=item.pk)
    assert caught.value.message == "Evidence not found."
    assert evidence_selectors.evidence_get(user=caseworker, pk=str(item.pk)) == item


def _evidence_fields() -> dict:
    # A row only: may_download and evidence_get read the case and the grants, never the file.
    return {
        "sha256": "0" * 64,
        "size": 1,
        "media_type": "image/png",
        "kind": "image",
        "storage_key": "mut-test",
        "wrapped_key": "x",
        "key_id": "k",
    }


def _report(centre, received_on, n: int):
    from cases.models import IntakeReport

    return IntakeReport.objects.create(receipt_lookup=f"mut-{n}", receipt_hash="x", received_on=received_on, centre=centre)


def test_reports_list_newest_day_first_then_newest_report(central, supervisor):
    today = timezone.localdate()
    older_day = _report(central, today - timedelta(days=1), 1)
    first_today = _report(central, today, 2)
    second_today = _report(central, today, 3)
    late_entry = _report(central, today - timedelta(days=2), 4)  # typed in later, about an earlier day
    assert list(selectors.intake_reports_visible_to(supervisor)) == [second_today, first_today, older_day, late_entry]


def test_a_deactivated_or_centreless_account_sees_no_report(central, supervisor):
    _report(central, timezone.localdate(), 5)
    assert selectors.intake_reports_visible_to(supervisor).count() == 1
    supervisor.is_active = False
    supervisor.save()
    assert not selectors.intake_reports_visible_to(supervisor).exists()
    _report(None, timezone.localdate(), 6)  # unrouted: only the triage centre's staff see it
    supervisor.is_active = True
    supervisor.centre = None
    supervisor.save()
    assert not selectors.intake_reports_visible_to(supervisor).exists()
