"""The public intake: reports without an account, receipts, progress, and what is never stored."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from cases import intake
from cases.models import IntakeReport
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (PrivacyTest; like Gecko) UniqueAgent/9.9"
IP = "203.0.113.77"


def _submit(client: Client, **extra: str):
    data = {
        "description": "Someone posted pictures of me in a chat room.",
        "urls": "https://chat.example/room/1\nhttps://chat.example/room/2\nhttps://chat.example/room/1",
        "reporter_role": "victim",
        "is_minor": "no",
        "consent_takedown": "on",
        "contact_email": "me@example.org",
        **extra,
    }
    return client.post("/report/", data, HTTP_USER_AGENT=UA, REMOTE_ADDR=IP, HTTP_X_FORWARDED_FOR=IP)


def _receipt(response) -> str:
    return re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)


def test_report_gives_a_receipt_once_and_stores_no_address_or_agent() -> None:
    client = Client()
    response = _submit(client)
    assert response.status_code == 200
    receipt = _receipt(response)
    assert len(intake.normalise_receipt(receipt)) * 5 >= 128  # at least 128 bits
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies  # no session, no CSRF, no language cookie: nothing
    report = IntakeReport.objects.get()
    assert report.urls.count() == 2
    assert report.consent_takedown and not report.consent_hash_sharing
    # Nothing anywhere in the database holds the address, the user agent or the receipt.
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = str(cursor.fetchall())
            for secret in (IP, "UniqueAgent", receipt, intake.normalise_receipt(receipt), "me@example.org", "chat room"):
                assert secret not in dump, (table, secret)
    assert AuditEvent.objects.filter(action="intake.received").exists()


def test_status_with_the_receipt_and_the_same_answer_for_any_wrong_one() -> None:
    client = Client()
    receipt = _receipt(_submit(client))
    ok = client.post("/report/status/", {"receipt": receipt.lower().replace("-", " ")})
    assert ok.status_code == 200
    assert "chat.example/room/1" in ok.content.decode()
    wrong = [
        client.post("/report/status/", {"receipt": r})
        for r in ("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", "x", receipt[:-1] + ("R" if receipt.endswith("Q") else "Q"))
    ]
    assert {w.status_code for w in wrong} == {404}
    bodies = {re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", w.content.decode()) for w in wrong}
    bodies = {re.sub(r'value="[^"]*"', "", b) for b in bodies}
    bodies = {re.sub(r'data-pow="[^"]*"', "", b) for b in bodies}  # a fresh proof-of-work challenge each time
    assert len(bodies) == 1  # nothing tells one wrong receipt from another
    assert client.get(f"/report/status/?receipt={receipt}").status_code == 200  # a GET shows only the form
    assert receipt not in client.get(f"/report/status/?receipt={receipt}").content.decode()


def test_reporter_adds_addresses_replies_withdraws_and_asks_for_deletion() -> None:
    client = Client()
    receipt = _receipt(_submit(client, consent_hash_sharing="on"))
    client.post("/report/status/add_urls/", {"receipt": receipt, "urls": "https://chat.example/room/3"})
    client.post("/report/status/reply/", {"receipt": receipt, "text": "There is one more room."})
    client.post("/report/status/withdraw/", {"receipt": receipt, "kind": "hash_sharing"})
    page = client.post("/report/status/delete/", {"receipt": receipt}).content.decode()
    report = IntakeReport.objects.get()
    assert report.urls.count() == 3
    assert report.messages.get().text == "There is one more room."
    assert not report.consent_hash_sharing
    assert report.status == "deletion_requested"
    assert "Deletion requested" in page


def test_withdrawing_hash_sharing_on_a_case_takes_effect_at_once(caseworker) -> None:
    from cases.selectors import has_consent

    client = Client()
    receipt = _receipt(_submit(client, consent_hash_sharing="on"))
    report = IntakeReport.objects.get()
    case = intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Hill", category="deepfake")
    assert has_consent(case, "hash_sharing")
    client.post("/report/status/withdraw/", {"receipt": receipt, "kind": "hash_sharing"})
    assert not has_consent(case, "hash_sharing")


def test_triage_opens_a_case_with_consent_and_takedown_drafts(caseworker, client_for) -> None:
    from takedowns.models import TakedownRequest

    client = Client()
    receipt = _receipt(_submit(client))
    report = IntakeReport.objects.get()
    staff = client_for(caseworker)
    page = staff.get(f"/intake/{report.pk}/").content.decode()
    assert "chat room" in page
    assert AuditEvent.objects.filter(action="intake.view", object_id=str(report.pk)).exists()
    response = staff.post(f"/intake/{report.pk}/", {"action": "open_case", "pseudonym": "Maple", "category": "intimate_image"})
    report.refresh_from_db()
    assert report.case is not None
    assert response["Location"] == f"/cases/{report.case_id}/"
    assert report.case.victim.contact_email == "me@example.org"
    assert set(TakedownRequest.objects.filter(case=report.case).values_list("url", flat=True)) == {
        "https://chat.example/room/1", "https://chat.example/room/2",
    }  # fmt: skip
    staff.post(f"/intake/{report.pk}/", {"action": "message", "text": "We have sent the first requests."})
    status = client.post("/report/status/", {"receipt": receipt}).content.decode()
    assert "We have sent the first requests." in status
    assert "Being prepared" in status  # the drafts' progress in plain words


def test_triage_is_for_case_staff_only(central, client_for) -> None:
    _submit(Client())
    report = IntakeReport.objects.get()
    for role in ("analyst", "admin", "auditor"):
        assert client_for(factories.make_user(role, central)).get(f"/intake/{report.pk}/").status_code == 404
    assert Client().get(f"/intake/{report.pk}/").status_code == 302  # to sign-in


def test_intake_api_contract() -> None:
    api = APIClient()
    response = api.post(
        "/api/v1/intake/",
        {"description": "help", "urls": ["https://x.example/1"], "contact": None, "consent": {"takedown": True}, "language": "en"},
        format="json", HTTP_USER_AGENT=UA, REMOTE_ADDR=IP,
    )  # fmt: skip
    assert response.status_code == 201
    receipt = response.json()["receipt"]
    assert set(response.json()) == {"receipt"}
    status = api.post("/api/v1/intake/status/", {"receipt": receipt}, format="json")
    assert status.status_code == 200
    assert status.json()["urls"][0]["url"] == "https://x.example/1"
    wrong = api.post("/api/v1/intake/status/", {"receipt": "NOPE-NOPE-NOPE-NOPE"}, format="json")
    assert wrong.status_code == 404
    assert api.post("/api/v1/intake/", {"urls": ["javascript:alert(1)"]}, format="json").status_code == 400
    assert api.post("/api/v1/intake/", {"description": "x" * 20_001}, format="json").status_code == 400
    assert IntakeReport.objects.count() == 1


def test_fingerprint_only_reports_are_accepted_and_validated() -> None:
    import json

    client = Client()
    fps = [{"algorithm": "pdq", "value": "f" * 64}, {"algorithm": "phash", "value": "0" * 16, "mirrored": True}]
    response = _submit(client, fingerprints=json.dumps(fps), description="", urls="")
    assert response.status_code == 200
    assert IntakeReport.objects.get().fingerprints.count() == 2
    bad = _submit(Client(), fingerprints=json.dumps([{"algorithm": "pdq", "value": "zz"}]))
    assert "fingerprint" in bad.content.decode()


def test_reports_never_triaged_are_purged_with_an_audited_count(settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _submit(Client())
    _submit(Client())
    IntakeReport.objects.filter(pk=IntakeReport.objects.order_by("pk").first().pk).update(
        received_on=timezone.localdate() - timedelta(days=settings.INTAKE_RETENTION_DAYS + 1)
    )
    assert intake.purge_stale_reports() == 1
    assert IntakeReport.objects.count() == 1
    event = AuditEvent.objects.get(action="retention.purged")
    assert event.details == {
        "kind": "intake_report", "count": 1, "policy": "intake_reports", "policy_days": settings.INTAKE_RETENTION_DAYS,
    }  # fmt: skip


def test_urgent_reports_come_first_in_the_queue(caseworker, client_for) -> None:
    _submit(Client())
    _submit(Client(), threatened="on")
    _submit(Client(), is_minor="yes")
    reports = list(IntakeReport.objects.all())
    assert [r.urgent for r in reports] == [True, True, False]
    page = client_for(caseworker).get("/intake/").content.decode()
    first, second, third = (page.index(f'href="/intake/{r.pk}/"') for r in reports)
    assert first < second < third


def test_a_report_can_be_attached_to_an_existing_case(caseworker, client_for) -> None:
    from takedowns.models import TakedownRequest

    case = factories.make_case(caseworker)
    _submit(Client())
    report = IntakeReport.objects.get()
    response = client_for(caseworker).post(f"/intake/{report.pk}/", {"action": "attach", "reference": case.reference})
    assert response["Location"] == f"/cases/{case.pk}/"
    report.refresh_from_db()
    assert report.case_id == case.pk
    assert TakedownRequest.objects.filter(case=case).count() == 2
    # Another caseworker's case cannot be named.
    other = factories.make_case(factories.make_user("caseworker"))
    _submit(Client())
    second = IntakeReport.objects.exclude(pk=report.pk).get()
    client_for(caseworker).post(f"/intake/{second.pk}/", {"action": "attach", "reference": other.reference})
    second.refresh_from_db()
    assert second.case_id is None


def test_logs_never_hold_the_address_or_user_agent(caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    _submit(Client())
    client = Client()
    client.post("/report/status/", {"receipt": "WRONG-WRONG-WRONG-WRONG"}, HTTP_USER_AGENT=UA, REMOTE_ADDR=IP)
    APIClient().post("/api/v1/intake/", {"description": "x" * 30_000}, format="json", HTTP_USER_AGENT=UA, REMOTE_ADDR=IP)
    text = caplog.text
    assert IP not in text
    assert "UniqueAgent" not in text


def test_receipt_checks_share_a_budget_per_minute(settings) -> None:
    import redis

    settings.INTAKE_STATUS_PER_MINUTE = 3
    settings.REDIS_URL = settings.CELERY_BROKER_URL
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:intake-status:*"):
        client.delete(key)
    answers = [Client().post("/report/status/", {"receipt": f"GUESS-GUESS-GUESS-{i:04d}"}).status_code for i in range(5)]
    assert answers[:3] == [404, 404, 404]
    assert answers[3:] == [429, 429]


def test_receipts_survive_a_master_key_rotation(settings) -> None:
    import base64
    import os

    from django.core.management import call_command

    receipt = _receipt(_submit(Client()))
    old = settings.EVIDENCE_ENCRYPTION_KEY
    settings.EVIDENCE_ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.EVIDENCE_ENCRYPTION_OLD_KEYS = [old]
    call_command("rotate_evidence_keys")
    settings.EVIDENCE_ENCRYPTION_OLD_KEYS = []
    report = intake.intake_find(receipt)
    assert report is not None
    assert report.description == "Someone posted pictures of me in a chat room."
