"""Videos are fingerprinted by a real Celery worker: processing, then ready; running twice
stores nothing twice."""

from __future__ import annotations

import io

import pytest

from evidence.models import Evidence, Fingerprint
from evidence.services import evidence_process_video
from tests import factories, media
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_video_becomes_ready_with_frame_fingerprints(celery_worker_process, caseworker, api_for) -> None:
    import hashlib

    case = factories.make_case(caseworker)
    clip = media.video_bytes(seconds=4, size=(320, 240), fps=10)
    upload = io.BytesIO(clip)
    upload.name = "clip.mp4"
    api = api_for(caseworker)
    response = api.post(f"/api/v1/cases/{case.pk}/evidence/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "processing"
    assert body["media_type"] == "video/mp4"
    evidence_id = body["id"]
    wait_until(lambda: api.get(f"/api/v1/evidence/{evidence_id}/").json()["status"] == "ready", timeout=90)
    body = api.get(f"/api/v1/evidence/{evidence_id}/").json()
    md5 = [f for f in body["fingerprints"] if f["algorithm"] == "md5"]
    assert md5 == [
        {"algorithm": "md5", "value": hashlib.md5(clip).hexdigest(), "quality": None, "mirrored": False, "frame_ms": None}
    ]
    frames = sorted({f["frame_ms"] for f in body["fingerprints"] if f["algorithm"] == "pdq"})
    assert len(frames) >= 4  # one a second at least
    assert frames[0] == 0 or frames[0] < 1000
    evidence = Evidence.objects.get(pk=evidence_id)
    assert set(evidence.derivatives.values_list("kind", flat=True)) == {"preview", "preview_blurred"}
    assert evidence.custody.filter(action="fingerprint").count() == 1
    # Running the task again does nothing and stores nothing twice.
    count = Fingerprint.objects.filter(evidence=evidence).count()
    assert evidence_process_video(evidence.pk) is False
    assert Fingerprint.objects.filter(evidence=evidence).count() == count
