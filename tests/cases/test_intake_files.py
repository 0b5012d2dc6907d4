"""Files sent with a public report: checked and encrypted at once, evidence once a case opens."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.test import Client

from cases import intake
from cases.models import IntakeReport
from evidence.models import Evidence, IntakeFile
from tests import media
from tests.evidence.conftest import clean_evidence_root  # noqa: F401 - an autouse fixture: each test starts with an empty locker

pytestmark = pytest.mark.django_db(transaction=True)


def _post(files: list[tuple[str, bytes]]):
    uploads = []
    for name, data in files:
        f = io.BytesIO(data)
        f.name = name
        uploads.append(f)
    return Client().post("/report/", {"description": "screenshots attached", "reporter_role": "victim", "files": uploads})


def test_files_are_checked_encrypted_and_become_evidence_at_triage(caseworker) -> None:
    picture = media.image_bytes("JPEG", seed=301)
    response = _post([("a.jpg", picture), ("b.png", media.image_bytes("PNG", seed=302))])
    assert response.status_code == 200
    assert re.search(r'data-testid="receipt"', response.content.decode())
    report = IntakeReport.objects.get()
    assert IntakeFile.objects.filter(report=report).count() == 2
    for path in (p for p in settings.EVIDENCE_ROOT.rglob("*") if p.is_file()):
        assert picture[:64] not in path.read_bytes()  # encrypted at rest
    case = intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Brook", category="intimate_image")
    evidence = Evidence.objects.filter(case=case)
    assert evidence.count() == 2
    assert all(e.locked for e in evidence)
    assert IntakeFile.objects.filter(report=report, evidence__isnull=False).count() == 2


def test_a_file_of_an_unknown_type_refuses_the_report_and_leaves_nothing() -> None:
    # Only cheap checks run in the request (a crafted image is dropped later by a worker:
    # tests/security/test_public_upload_flood.py); a file that is no accepted type is refused at once.
    response = _post([("ok.jpg", media.image_bytes("JPEG", seed=303)), ("notes.exe", b"MZ" + b"\x00" * 200)])
    assert response.status_code == 200
    assert 'data-testid="receipt"' not in response.content.decode()
    assert not IntakeReport.objects.exists()
    assert not IntakeFile.objects.exists()
    assert [p for p in settings.EVIDENCE_ROOT.rglob("*") if p.is_file()] == []


def test_reporter_sends_more_files_from_the_status_page(caseworker, celery_worker_process) -> None:
    response = _post([("a.jpg", media.image_bytes("JPEG", seed=304))])
    receipt = re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)
    report = IntakeReport.objects.get()
    case = intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Dune", category="other")
    extra = io.BytesIO(media.image_bytes("PNG", seed=305))
    extra.name = "more.png"
    Client().post("/report/status/add_files/", {"receipt": receipt, "files": [extra]})
    assert IntakeFile.objects.filter(report=report).count() == 2
    # The worker checks the new file out of quarantine and makes it evidence of the case.
    from tests.conftest import wait_until

    wait_until(lambda: Evidence.objects.filter(case=case).count() == 2, timeout=60)


def test_files_of_reports_survive_a_key_rotation(caseworker) -> None:
    import base64
    import os

    from django.core.management import call_command

    _post([("a.jpg", media.image_bytes("JPEG", seed=306))])
    report = IntakeReport.objects.get()
    old = settings.EVIDENCE_ENCRYPTION_KEY
    settings.EVIDENCE_ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.EVIDENCE_ENCRYPTION_OLD_KEYS = [old]
    try:
        call_command("rotate_evidence_keys")
        settings.EVIDENCE_ENCRYPTION_OLD_KEYS = []
        case = intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Reed", category="other")
        assert Evidence.objects.filter(case=case).count() == 1
    finally:
        settings.EVIDENCE_ENCRYPTION_KEY = old
        settings.EVIDENCE_ENCRYPTION_OLD_KEYS = []
