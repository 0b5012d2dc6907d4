"""Victims' deletion requests through the web pages: the reporter asks on the status page (or a
caseworker for them on the case page), a supervisor approves or refuses, a worker carries it out
through the retention purge unless a legal hold applies, and the status page shows the outcome."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cases.deletion import deletion_request_carry_out
from cases.models import Case, DeletionRequest, DeletionTombstone, IntakeReport, LegalHold
from cases.retention import retention_run
from core.models import AuditEvent
from evidence.models import Evidence, IntakeFile
from tests import factories, media
from tests.conftest import wait_until
from tests.evidence.conftest import clean_evidence_root, stored_files  # noqa: F401 - an autouse fixture: each test starts with an empty locker
from tests.evidence.helpers import add_image

pytestmark = pytest.mark.django_db(transaction=True)


PENDING = "A supervisor will look at your request soon."
ON_HOLD = "the law requires us to keep it for now"
REFUSED = "We could not delete your report. A staff member will contact you to explain why."


def _report(client: Client, **extra) -> str:
    data = {
        "description": "Someone shared my pictures.",
        "urls": "https://forum-d.example/p/1",
        "reporter_role": "victim",
        **extra,
    }
    response = client.post("/report/", data)
    return re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)


def _status(client: Client, receipt: str) -> str:
    return client.post("/report/status/", {"receipt": receipt, "lang": "en"}).content.decode()


def _ask_deletion(client: Client, receipt: str) -> str:
    return client.post("/report/status/delete/", {"receipt": receipt, "lang": "en"}).content.decode()


def _open_case(caseworker, client_for, report: IntakeReport) -> Case:
    client_for(caseworker).post(f"/intake/{report.pk}/", {"action": "open_case", "pseudonym": "Robin", "category": "deepfake"})
    return Case.objects.get(intake_reports=report)


def test_a_refused_request_tells_the_reporter_and_they_may_ask_again(supervisor, client_for) -> None:
    public = Client()
    receipt = _report(public)
    _ask_deletion(public, receipt)
    request = DeletionRequest.objects.get()
    assert request.case is None and request.report is not None
    sup = client_for(supervisor)
    sup.post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "refuse", "reason": "no"})
    assert DeletionRequest.objects.get().status == "pending"  # a reason in a full sentence is required
    sup.post(
        f"/cases/deletion-requests/{request.pk}/decide/", {"action": "refuse", "reason": "The report is needed for a complaint."}
    )
    assert DeletionRequest.objects.get().status == "refused"
    page = _status(public, receipt)
    assert REFUSED in page and "Ask for deletion" in page and "needed for a complaint" not in page
    assert IntakeReport.objects.get().status == "received"
    assert AuditEvent.objects.filter(action="deletion.refused", details__request=request.pk).exists()


def test_under_legal_hold_the_request_waits_and_goes_ahead_once_the_hold_is_lifted(
    caseworker, supervisor, client_for, tmp_path, monkeypatch
) -> None:
    # The wake-up that lifting the hold sends is lost (as when the broker is down), so that only
    # the daily run below can carry the request out, whatever else runs on this run's broker.
    from cases import deletion

    monkeypatch.setattr(deletion, "_wake", lambda request_id: None)
    public = Client()
    receipt = _report(public)
    case = _open_case(caseworker, client_for, IntakeReport.objects.get())
    add_image(case, caseworker, tmp_path, seed=42)
    sup = client_for(supervisor)
    sup.post(f"/cases/{case.pk}/legal-hold/", {"action": "set", "reason": "The police asked us to keep the evidence."})
    _ask_deletion(public, receipt)
    request = DeletionRequest.objects.get()
    answer = sup.post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "approve"}, follow=True).content.decode()
    assert "when it is lifted" in answer
    assert DeletionRequest.objects.get().status == "on_hold"
    assert ON_HOLD in _status(public, receipt)
    assert not deletion_request_carry_out(request.pk)  # a worker that picks it up changes nothing
    retention_run(apply=True)
    assert Case.objects.filter(pk=case.pk).exists() and Evidence.objects.filter(case=case).exists()

    case_page = sup.get(f"/cases/{case.pk}/").content.decode()
    assert "lifting the hold carries it out at once" in case_page
    sup.post(f"/cases/{case.pk}/legal-hold/", {"action": "lift", "lift_reason": "The investigation is closed."})
    assert not LegalHold.objects.filter(lifted_at__isnull=True).exists()
    assert DeletionRequest.objects.get().status == "approved"
    # No worker runs in this test: the daily run carries out what a lost wake-up left.
    outcomes = {o.policy: o for o in retention_run(apply=True)}
    assert outcomes["deletion_requests"].purged == 1
    assert not Case.objects.filter(pk=case.pk).exists() and stored_files(settings.EVIDENCE_ROOT) == []
    assert "because you asked us to" in _status(public, receipt)


def test_a_report_without_a_case_is_deleted_with_its_files(supervisor, client_for) -> None:
    picture = io.BytesIO(media.image_bytes("JPEG", seed=43))
    picture.name = "a.jpg"
    public = Client()
    response = public.post("/report/", {"description": "screenshot", "reporter_role": "victim", "files": [picture]})
    receipt = re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)
    assert IntakeFile.objects.count() == 1 and stored_files(settings.EVIDENCE_ROOT)
    _ask_deletion(public, receipt)
    request = DeletionRequest.objects.get()
    client_for(supervisor).post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "approve"})
    assert deletion_request_carry_out(request.pk)  # what the worker's task does
    assert not IntakeReport.objects.exists() and not IntakeFile.objects.exists()
    assert stored_files(settings.EVIDENCE_ROOT) == []
    assert DeletionTombstone.objects.get().reason == "request"
    assert DeletionRequest.objects.get().status == "done"
    assert not deletion_request_carry_out(request.pk)  # twice is harmless
    purge = AuditEvent.objects.get(action="retention.purged", details__kind="intake_report")
    assert purge.details == {"kind": "intake_report", "count": 1, "policy": "deletion_request", "policy_days": None}
    assert "deleted on" in _status(public, receipt)


def test_caseworker_files_for_the_victim_and_only_their_centres_supervisors_decide(
    caseworker, supervisor, other_supervisor, client_for
) -> None:
    case = factories.make_case(caseworker)
    cw = client_for(caseworker)
    page = cw.post(f"/cases/{case.pk}/deletion-request/", {"note": "She called and asked."}, follow=True).content.decode()
    assert "Deletion request recorded" in page
    again = cw.post(f"/cases/{case.pk}/deletion-request/", {"note": ""}, follow=True).content.decode()
    assert "already open" in again and DeletionRequest.objects.count() == 1
    request = DeletionRequest.objects.get()
    assert (request.source, request.requested_by, request.case_reference) == ("staff", caseworker, case.reference)
    # Caseworkers have no queue; another centre's supervisor neither sees nor decides it.
    assert cw.get("/cases/deletion-requests/").status_code == 404
    other = client_for(other_supervisor)
    assert case.reference not in other.get("/cases/deletion-requests/").content.decode()
    assert other.post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "approve"}).status_code == 404
    assert cw.post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "approve"}).status_code == 404
    assert DeletionRequest.objects.get().status == "pending"
    assert case.reference in client_for(supervisor).get("/cases/deletion-requests/").content.decode()


# Last in the module: its worker (module-scoped) would otherwise race the tests above, which
# check that the daily run carries out what no worker did.
@pytest.mark.worker
def test_victim_asks_supervisor_approves_worker_deletes_and_the_status_page_says_so(
    caseworker, supervisor, client_for, celery_worker_process, tmp_path
) -> None:
    public = Client()
    receipt = _report(public)
    case = _open_case(caseworker, client_for, IntakeReport.objects.get())
    add_image(case, caseworker, tmp_path, seed=41)
    assert stored_files(settings.EVIDENCE_ROOT)

    page = _ask_deletion(public, receipt)
    assert PENDING in page and "Deletion requested" in page
    assert "Ask for deletion" not in page  # asked once; the page now shows where it stands
    _ask_deletion(public, receipt)
    assert DeletionRequest.objects.count() == 1  # asking twice files one request

    sup = client_for(supervisor)
    queue = sup.get("/cases/deletion-requests/").content.decode()
    assert case.reference in queue and "The reporter, on the status page" in queue
    request = DeletionRequest.objects.get()
    answer = sup.post(f"/cases/deletion-requests/{request.pk}/decide/", {"action": "approve"}, follow=True).content.decode()
    assert "deleted within a few minutes" in answer

    wait_until(lambda: not Case.objects.filter(pk=case.pk).exists(), timeout=60)
    wait_until(lambda: DeletionRequest.objects.get().status == "done", timeout=30)
    assert not Evidence.objects.exists() and not IntakeReport.objects.exists()
    wait_until(lambda: stored_files(settings.EVIDENCE_ROOT) == [], timeout=30)
    page = _status(public, receipt)
    assert f"deleted on {timezone.localdate():%Y-%m-%d}" in page and "because you asked us to" in page
    purge = AuditEvent.objects.get(action="retention.purged", details__kind="case")
    assert purge.details["policy"] == "deletion_request" and purge.details["request"] == request.pk
    assert purge.details["evidence"] == 1 and purge.details["intake_reports"] == 1
    decided = sup.get("/cases/deletion-requests/").content.decode()
    assert case.reference in decided and "Carried out" in decided
