"""Retention: a closed case past its policy is purged end to end (rows, stored files, previews,
fingerprints, match index, partner hash list), a legal hold stops it, the audit log records what
went (counts, never content) and stays verifiable, also when its own oldest events are purged."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from cases import deletion, intake
from cases import services as case_services
from cases.models import Case, CaseEvent, ConsentRecord, DeletionTombstone, IntakeReport, LegalHold, Victim
from cases.retention import case_purge, policy_errors, retention_run
from core import audit, audit_signing, dbguard
from core import services as core_services
from core.errors import PermissionDenied
from core.models import AuditEvent
from evidence.models import BlobDeletion, CustodyEvent, Derivative, Evidence, Fingerprint, RemovedFingerprint
from takedowns import hashlist, matching
from takedowns.models import Check, HashListEvent, Notice, TakedownRequest
from takedowns.services import platform_create, record_check, takedown_approve, takedown_create
from tests import factories
from tests.evidence.conftest import clean_evidence_root, stored_files  # noqa: F401 - an autouse fixture: each test starts with an empty locker
from tests.evidence.helpers import add_image

# evidence_add stores files and refuses to run inside a transaction; the purge's flag must be
# transaction-local as in production, not leak through a test-wide transaction.
pytestmark = pytest.mark.django_db(transaction=True)


SUMMARY = "Private summary: the victim's former partner posted the images"
PSEUDONYM = "Heron 7"


@pytest.fixture
def partner(central):
    return core_services.user_create(username="partner_r", role="partner", centre=central, is_service_account=True)


@pytest.fixture
def partner_api(partner, api_for):
    return api_for(partner)


def _feed(api, since: str = "0") -> tuple[list[dict], str]:
    entries: list[dict] = []
    while True:
        page = api.get("/api/v1/hashlist/", {"since": since, "limit": 1000}).json()
        entries += page["entries"]
        since = page["cursor"]
        if not page["has_more"]:
            return entries, since


def _full_case(caseworker, supervisor, tmp_path):
    """A case with everything a purge must reach: two images (previews, fingerprints, custody),
    consent to takedown and hash sharing (so its fingerprints are on the partner list), a takedown
    request with its notice and a re-check, a note and a referral."""
    case = factories.make_case(
        caseworker, summary=SUMMARY, victim={"pseudonym": PSEUDONYM, "legal_name": "Kim Minji"},
        consent={"takedown": True, "hash_sharing": True},
    )  # fmt: skip
    first = add_image(case, caseworker, tmp_path, seed=11)
    second = add_image(case, caseworker, tmp_path, seed=12, fmt="PNG", name="second.png")
    platform_create(
        acting_user=None,
        name="Forum R",
        domains=["forum-r.example"],
        channel="manual",
        web_form_url="https://forum-r.example/report",
    )
    request = takedown_create(case=case, url="https://forum-r.example/post/1", acting_user=caseworker, evidence_ids=[first.pk])
    takedown_approve(requests=[request], acting_user=caseworker)
    record_check(request.pk, "still_up", http_status=200, distance=3, detail="")
    case_services.case_add_note(case=case, text="Called the victim back", acting_user=caseworker)
    case_services.case_set_status(case=case, status="closed", acting_user=caseworker)
    return case, [first, second], request


def _age(case: Case, days: int) -> None:
    # Closing happened long ago: the only way to get there in a test is to move the date.
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=days))


def test_a_closed_case_past_its_policy_is_purged_end_to_end(caseworker, supervisor, partner_api, tmp_path, settings) -> None:
    settings.MATCH_INDEX_MAX_AGE_S = 0  # every query refreshes the index, as after 30 s in production
    matching.reset_process_index()
    case, items, request = _full_case(caseworker, supervisor, tmp_path)
    root = settings.EVIDENCE_ROOT
    files = stored_files(root)
    previews = list(Derivative.objects.filter(evidence__in=items))
    assert len(previews) >= 2 and len(files) == 2 + len(previews)
    fingerprints = list(Fingerprint.objects.filter(evidence__in=items).values("pk", "algorithm", "value", "frame_ms"))
    shared = hashlist.listed_ids(Fingerprint.objects.filter(evidence__in=items))
    assert shared
    entries, cursor = _feed(partner_api)
    assert {e["id"] for e in entries if e["action"] == "add"} >= {str(pk) for pk in shared}
    pdq = next(fp for fp in fingerprints if fp["algorithm"] == "pdq")
    assert {m.evidence for m in matching.match_fingerprints([pdq])} == {items[0].pk}
    assert Notice.objects.filter(request=request).exists() and Check.objects.filter(request=request).exists()
    victim_id, start = case.victim_id, AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    # Closed yesterday: not due yet.
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    assert "closed_cases" in out.getvalue() and Case.objects.filter(pk=case.pk).exists()

    _age(case, settings.RETENTION_CLOSED_CASE_DAYS + 1)
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    dry = out.getvalue()
    assert "dry run" in dry and "evidence: 2" in dry and f"stored files: {len(files)}" in dry
    assert Case.objects.filter(pk=case.pk).exists() and len(stored_files(root)) == len(files)  # nothing deleted

    out = io.StringIO()
    call_command("retention", "--apply", stdout=out)

    # Rows: the case and everything of it.
    assert not Case.objects.filter(pk=case.pk).exists()
    assert not Victim.objects.filter(pk=victim_id).exists()
    assert not Evidence.objects.filter(pk__in=[e.pk for e in items]).exists()
    assert not Derivative.objects.filter(pk__in=[d.pk for d in previews]).exists()
    assert not Fingerprint.objects.filter(pk__in=[fp["pk"] for fp in fingerprints]).exists()
    assert not CustodyEvent.objects.filter(evidence_id__in=[e.pk for e in items]).exists()
    assert not TakedownRequest.objects.filter(pk=request.pk).exists()
    assert not Notice.objects.filter(request_id=request.pk).exists() and not Check.objects.filter(request_id=request.pk).exists()
    assert not CaseEvent.objects.filter(case_id=case.pk).exists() and not ConsentRecord.objects.filter(case_id=case.pk).exists()
    # Stored files: originals and previews gone from disk, none left queued.
    assert stored_files(root) == []
    assert not BlobDeletion.objects.exists()
    # Match index: the purged fingerprints are gone from the process's index, not only filtered out.
    assert matching.match_fingerprints([pdq]) == []
    index = matching.process_index()
    assert not set(index.evidence_of) & {fp["pk"] for fp in fingerprints}
    assert not index.indexes["pdq"].search(pdq["value"], 0)
    assert RemovedFingerprint.objects.filter(fingerprint_id=pdq["pk"]).exists()
    # Partner hash list: a delete for every fingerprint that was on it, carrying nothing else.
    deletes, _cursor = _feed(partner_api, since=cursor)
    assert {e["id"] for e in deletes} == {str(pk) for pk in shared}
    assert all(e["action"] == "delete" and e["value"] is None and e["category"] is None for e in deletes)
    held, _ = _feed(partner_api)
    assert not [e for e in held if e["action"] == "add" and int(e["id"]) in shared]  # never sent again
    assert hashlist.hashlist_lookup(algorithm="pdq", value=pdq["value"]) is None
    assert HashListEvent.objects.filter(fingerprint_id__in=shared, action="delete").count() == len(shared)

    # The audit log: one purge event with what kind, how many and which policy, and no content.
    event = AuditEvent.objects.get(id__gt=start, action="retention.purged", details__kind="case")
    assert event.object_id == str(case.pk)
    d = event.details
    assert (d["policy"], d["count"], d["reference"]) == ("closed_cases", 1, case.reference)
    assert (d["evidence"], d["previews"], d["fingerprints"]) == (2, len(previews), len(fingerprints))
    assert (d["takedown_requests"], d["notices"], d["checks"], d["hashlist_removals"]) == (1, 1, 1, len(shared))
    assert d["stored_files"] == len(files) and d["victims"] == 1
    run = AuditEvent.objects.get(id__gt=start, action="retention.run")
    assert run.details["closed_cases"]["purged"] == 1
    dump = " ".join(str(e.details) for e in AuditEvent.objects.filter(id__gt=start))
    for secret in (SUMMARY, PSEUDONYM, "Kim Minji", "Called the victim back", pdq["value"]):
        assert secret not in dump
    assert audit.verify_chain().ok
    assert "closed_cases" in out.getvalue()


def test_a_legal_hold_stops_the_purge_until_it_is_lifted(caseworker, supervisor, client_for, tmp_path) -> None:
    case, _items, _request = _full_case(caseworker, supervisor, tmp_path)
    _age(case, settings.RETENTION_CLOSED_CASE_DAYS + 30)
    page = client_for(supervisor).post(
        f"/cases/{case.pk}/legal-hold/",
        {"action": "set", "reason": "Police investigation 2026-123 asked us to keep it."},
        follow=True,
    )
    assert "Legal hold set" in page.content.decode()
    hold = LegalHold.objects.get(case=case, lifted_at__isnull=True)
    assert 'id="legal-hold"' in client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()
    files = stored_files(settings.EVIDENCE_ROOT)

    outcomes = {o.policy: o for o in retention_run(apply=True)}
    assert (outcomes["closed_cases"].due, outcomes["closed_cases"].held, outcomes["closed_cases"].purged) == (1, 1, 0)
    assert Case.objects.filter(pk=case.pk).exists() and Evidence.objects.filter(case=case).count() == 2
    assert stored_files(settings.EVIDENCE_ROOT) == files
    assert case_purge(case_id=case.pk, policy="closed_cases") is None  # the purge itself refuses too
    run = AuditEvent.objects.filter(action="retention.run").latest("id")
    assert run.details["closed_cases"]["held"] == 1
    assert AuditEvent.objects.filter(action="legal_hold.set", object_id=str(case.pk), details__hold=hold.pk).exists()

    # Only a supervisor of the case's centre lifts it.
    with pytest.raises(PermissionDenied):
        deletion.legal_hold_lift(case=case, reason="The investigation is over now.", acting_user=caseworker)
    client_for(supervisor).post(
        f"/cases/{case.pk}/legal-hold/", {"action": "lift", "lift_reason": "The investigation is closed."}
    )
    assert not LegalHold.objects.filter(case=case, lifted_at__isnull=True).exists()
    outcomes = {o.policy: o for o in retention_run(apply=True)}
    assert outcomes["closed_cases"].purged == 1
    assert not Case.objects.filter(pk=case.pk).exists() and stored_files(settings.EVIDENCE_ROOT) == []


def test_holds_are_set_only_by_a_supervisor_of_the_case_and_with_a_reason(
    caseworker, supervisor, other_supervisor, client_for
) -> None:
    case = factories.make_case(caseworker)
    client_for(caseworker).post(f"/cases/{case.pk}/legal-hold/", {"action": "set", "reason": "I want to keep this one."})
    assert not LegalHold.objects.exists()
    # Another centre's supervisor does not even see the case.
    response = client_for(other_supervisor).post(f"/cases/{case.pk}/legal-hold/", {"action": "set", "reason": "Keep it for us."})
    assert response.status_code == 404 and not LegalHold.objects.exists()
    page = client_for(supervisor).post(f"/cases/{case.pk}/legal-hold/", {"action": "set", "reason": "short"}, follow=True)
    assert "full sentence" in page.content.decode() and not LegalHold.objects.exists()


def test_public_reports_of_a_purged_case_leave_a_tombstone_the_reporter_can_read(caseworker, tmp_path) -> None:
    client = Client()
    response = client.post(
        "/report/", {"description": "It was posted.", "urls": "https://x.example/a", "reporter_role": "victim"}
    )
    receipt = response.content.decode().split('data-testid="receipt"><code>')[1].split("<")[0]
    report = IntakeReport.objects.get()
    case = intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Wren", category="deepfake")
    case_services.case_set_status(case=case, status="closed", acting_user=caseworker)
    _age(case, settings.RETENTION_CLOSED_CASE_DAYS + 1)
    retention_run(apply=True)
    assert not IntakeReport.objects.exists()
    assert DeletionTombstone.objects.get().reason == "retention"
    page = client.post("/report/status/", {"receipt": receipt}).content.decode()
    assert f"deleted on {timezone.localdate():%Y-%m-%d}" in page and "time we keep reports for has passed" in page
    api = client.post("/api/v1/intake/status/", {"receipt": receipt}, content_type="application/json").json()
    assert api == {"status": "deleted", "deleted_on": timezone.localdate().isoformat(), "reason": "retention"}


def test_audit_log_retention_purges_by_anchor_and_the_chain_still_verifies(audit_signer, central, capsys, monkeypatch) -> None:
    # Audit events are deleted by the database's own purge function, which judges their age by the
    # database's clock: the events are written with the audit clock set back, past the policy.
    real = audit.datetime

    class LongAgo(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return real.now(tz) - timedelta(days=settings.RETENTION_AUDIT_DAYS + 30)

    monkeypatch.setattr(audit, "datetime", LongAgo)
    caseworker = factories.make_user("caseworker", central, username="cw_a")
    supervisor = factories.make_user("supervisor", central, username="sup_central")
    factories.make_case(caseworker)
    # The purge goes only up to a signed checkpoint of the chain (core/audit_signing.py).
    early = audit_signing.checkpoint()
    kept = factories.make_case(caseworker)
    deletion.legal_hold_set(case=kept, reason="Court order to keep the file.", acting_user=supervisor)
    late = audit_signing.checkpoint()
    monkeypatch.setattr(audit, "datetime", real)
    assert early is not None and late is not None
    first_about_kept = AuditEvent.objects.filter(object_type="cases.case", object_id=str(kept.pk)).order_by("id").first()
    assert early.head_id < first_about_kept.id < late.head_id
    before = AuditEvent.objects.count()
    expected = AuditEvent.objects.filter(id__lte=early.head_id).count()
    assert expected

    # Every event is past the policy, but the held case's stay.
    outcome = next(o for o in retention_run(apply=True) if o.policy == "audit_log")
    assert outcome.purged == expected
    assert not AuditEvent.objects.filter(id__lte=early.head_id).exists()
    assert AuditEvent.objects.filter(pk=first_about_kept.pk).exists()
    purge = AuditEvent.objects.get(action="retention.purged", details__kind="audit_event")
    assert purge.details["held_back"] is True and purge.details["count"] == outcome.purged < before
    assert purge.details["anchor_id"] == early.head_id
    report = audit.verify_chain()
    assert report.ok and report.starts_after == purge.details["anchor_id"]
    call_command("verify_audit_chain")
    assert f"starts after event {purge.details['anchor_id']}" in capsys.readouterr().out

    # The hold lifted, the next purge takes the rest up to the later checkpoint; the chain verifies
    # again from the new anchor.
    deletion.legal_hold_lift(case=kept, reason="The court order has expired.", acting_user=supervisor)
    retention_run(apply=True)
    newest = AuditEvent.objects.filter(action="retention.purged", details__kind="audit_event").latest("id")
    assert newest.details["anchor_id"] == late.head_id > purge.details["anchor_id"]
    # The first kept event links to the anchor, not to a new genesis.
    assert AuditEvent.objects.order_by("id").first().prev_hash == newest.details["anchor_hash"]
    audit_signing.checkpoint()
    report = audit.verify_chain()
    assert report.ok and report.starts_after == newest.details["anchor_id"]

    # Deleting the oldest kept events any other way breaks the chain: nothing vouches for the gap.
    first = AuditEvent.objects.order_by("id").first()
    with transaction.atomic():
        dbguard.allow_purge()
        AuditEvent.objects.filter(pk=first.pk).delete()
    assert not audit.verify_chain().ok


def test_deletes_without_the_retention_flag_are_still_refused(caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    item = add_image(case, caseworker, tmp_path)
    for sql in (
        "DELETE FROM evidence_fingerprint",
        "DELETE FROM evidence_custodyevent",
        "DELETE FROM evidence_derivative",
        "DELETE FROM takedowns_hashlistevent",
        "DELETE FROM core_auditevent",
    ):
        with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    with pytest.raises(RuntimeError, match="inside"):
        dbguard.allow_purge()
    assert Fingerprint.objects.filter(evidence=item).exists()


def test_policy_settings_out_of_range_stop_the_check_and_the_run(settings) -> None:
    settings.RETENTION_AUDIT_DAYS = 30
    settings.RETENTION_CLOSED_CASE_DAYS = -1
    errors = policy_errors()
    assert any("RETENTION_AUDIT_DAYS" in e and "365" in e for e in errors)
    assert any("RETENTION_CLOSED_CASE_DAYS" in e for e in errors)
    with pytest.raises(SystemCheckError, match="RETENTION_AUDIT_DAYS"):
        call_command("check")
    with pytest.raises(CommandError, match="RETENTION_AUDIT_DAYS"):
        call_command("retention", "--apply")
    settings.RETENTION_AUDIT_DAYS = 0  # keep for ever
    settings.RETENTION_CLOSED_CASE_DAYS = 0
    assert policy_errors() == []
    assert {o.policy: o.days for o in retention_run(apply=False)}["audit_log"] == 0


def test_the_retention_page_shows_what_is_due_and_held_and_what_was_purged(caseworker, supervisor, central, client_for) -> None:
    due = factories.make_case(caseworker, victim={"pseudonym": "Juniper Vale", "is_minor": False, "language": "ko"})
    held = factories.make_case(caseworker)
    for case in (due, held):
        case_services.case_set_status(case=case, status="closed", acting_user=caseworker)
        _age(case, 6 * 365)
    deletion.legal_hold_set(case=held, reason="The prosecutor asked us to keep it.", acting_user=supervisor)
    admin = factories.make_user("admin", central)
    page = client_for(admin).get("/cases/retention/").content.decode()
    row = page.split("Closed cases, with their evidence")[1].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[1:3]] == ["1", "1"]  # one due, one held
    assert "Nothing was purged yet." in page
    retention_run(apply=True)
    page = client_for(supervisor).get("/cases/retention/").content.decode()
    assert "Last run:" in page
    assert "<td>Case</td><td>1</td><td>Closed cases, with their evidence</td>" in page
    assert "Juniper Vale" not in page and due.reference not in page  # kinds and counts only
    for user in (caseworker, factories.make_user("analyst", central), factories.make_user("auditor", central)):
        assert client_for(user).get("/cases/retention/").status_code == 404
