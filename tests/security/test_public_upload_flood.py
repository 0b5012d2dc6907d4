"""Threat: anonymous requests exhaust the web workers: many large or crafted files, each parsed
by the sandboxed probe inside the public request, hold every web process.

Control: public files get only cheap checks in the request (count INTAKE_MAX_FILES=5, size
INTAKE_MAX_IMAGE_MB=20 / INTAKE_MAX_VIDEO_MB=200, type by magic bytes) and wait encrypted in
quarantine; a Celery task on the plain worker's queue parses them (evidence/intake_files.py,
evidence.tasks.parse_intake_file). A file the worker refuses is dropped, and staff and the
reporter are told. Past INTAKE_QUARANTINE_MAX_PENDING waiting files the form answers 503
("busy, try again") and keeps nothing.
"""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.test import Client

from cases.models import IntakeReport
from evidence.models import IntakeFile
from tests import media
from tests.conftest import wait_until
from tests.evidence.conftest import clean_evidence_root  # noqa: F401 - autouse: each test starts with an empty locker

pytestmark = pytest.mark.django_db(transaction=True)


def _post(files: list[tuple[str, bytes]], path: str = "/report/", **data: str):
    uploads = []
    for name, content in files:
        f = io.BytesIO(content)
        f.name = name
        uploads.append(f)
    return Client().post(path, {"description": "see files", "reporter_role": "victim", "files": uploads, **data})


def _stored() -> list:
    return [p for p in settings.EVIDENCE_ROOT.rglob("*") if p.is_file()]


def test_more_than_five_files_are_refused_and_nothing_is_kept() -> None:
    response = _post([(f"{i}.png", media.image_bytes("PNG", seed=500 + i, size=(40, 30))) for i in range(6)])
    assert "at most 5 files" in response.content.decode()
    assert not IntakeReport.objects.exists()
    assert _stored() == []


def test_public_size_limit_is_lower_than_the_staff_one(settings) -> None:
    settings.INTAKE_MAX_IMAGE_MB = 0  # any image is above it; staff limits are unchanged
    response = _post([("a.jpg", media.image_bytes("JPEG", seed=510))])
    assert "too large" in response.content.decode()
    assert not IntakeReport.objects.exists()
    assert settings.EVIDENCE_LIMITS["max_image_bytes"] > 20 * 1024 * 1024 >= settings.INTAKE_MAX_IMAGE_MB


def test_the_web_request_does_not_run_the_probe(monkeypatch) -> None:
    from evidence import sandbox

    def no_probe(*args, **kwargs):
        raise AssertionError("the public request ran the probe")

    monkeypatch.setattr(sandbox, "probe", no_probe)
    response = _post([("a.jpg", media.image_bytes("JPEG", seed=511))])
    assert 'data-testid="receipt"' in response.content.decode()
    assert IntakeFile.objects.get().state == "pending"


def test_a_full_quarantine_answers_busy_and_keeps_nothing(settings) -> None:
    settings.INTAKE_QUARANTINE_MAX_PENDING = 0
    response = _post([("a.jpg", media.image_bytes("JPEG", seed=512))])
    assert response.status_code == 503
    assert "try again in a few minutes" in response.content.decode()
    assert not IntakeReport.objects.exists()
    assert not IntakeFile.objects.exists()
    assert _stored() == []


def test_a_worker_checks_the_files_and_drops_a_crafted_one(celery_worker_process, caseworker) -> None:
    response = _post([("ok.jpg", media.image_bytes("JPEG", seed=513)), ("bomb.png", media.png_bomb())])
    receipt = re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)
    wait_until(lambda: not IntakeFile.objects.filter(state="pending").exists(), timeout=60)
    assert sorted(IntakeFile.objects.values_list("original_name", "state")) == [("bomb.png", "dropped"), ("ok.jpg", "checked")]
    assert len(_stored()) == 1  # the dropped file's blob is gone
    status = Client().post("/report/status/", {"receipt": receipt}).content.decode()
    assert 'data-testid="files-dropped"' in status
    from cases import intake

    # The triage page shows staff this summary ("1 file could not be read safely and was dropped").
    assert intake.file_summary(IntakeReport.objects.get()) == {"pending": 0, "checked": 1, "dropped": 1}


def test_the_default_public_limits_are_20_mib_an_image_and_200_mib_a_video() -> None:
    """The public limits are the issue's defaults and each stays under the staff limit of its own
    kind (a video was once held to the 50 MiB document limit by mistake)."""
    from evidence.intake_files import public_limit

    mib = 1024 * 1024
    assert public_limit("image") == 20 * mib
    assert public_limit("video") == 200 * mib
    assert public_limit("document") == 20 * mib
