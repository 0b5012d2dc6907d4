"""Index freshness across processes: fingerprints stored by the worker are found here."""

from __future__ import annotations

import io

import pytest

from takedowns.matching import fingerprints_of_file, match_fingerprints, reset_process_index
from tests import factories, media
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_video_fingerprinted_by_the_worker_is_found_by_this_process(
    celery_worker_process, caseworker, api_for, tmp_path, settings
):
    reset_process_index()
    settings.MATCH_INDEX_MAX_AGE_S = 30
    probe = tmp_path / "copy.mp4"
    probe.write_bytes(media.video_bytes(seconds=4, size=(240, 180), fps=10, codec="libx264", seed_offset=700))
    fingerprints = fingerprints_of_file(probe)
    assert match_fingerprints(fingerprints) == []  # this process loads its index now
    case = factories.make_case(caseworker)
    upload = io.BytesIO(media.video_bytes(seconds=5, size=(320, 240), fps=10, seed_offset=700))
    upload.name = "clip.mp4"
    api = api_for(caseworker)
    evidence_id = api.post(f"/api/v1/cases/{case.pk}/evidence/", {"file": upload}, format="multipart").json()["id"]
    wait_until(lambda: api.get(f"/api/v1/evidence/{evidence_id}/").json()["status"] == "ready", timeout=90)
    # Within the index's maximum age (30 s, inside the 60 s promise) the new frames are found.
    found = wait_until(lambda: match_fingerprints(fingerprints), timeout=45, interval=1)
    assert [m.evidence for m in found] == [int(evidence_id)]
    reset_process_index()
