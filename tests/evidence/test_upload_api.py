"""Uploads through the API: the contract's shape, type by content, hostile files refused with
nothing left behind, and locked records."""

from __future__ import annotations

import io

import pytest
from django.db import DatabaseError, connection, transaction

from core.models import AuditEvent
from evidence.models import CustodyEvent, Derivative, Evidence, Fingerprint
from tests import factories, media
from tests.evidence.conftest import stored_files

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(api, case, name: str, data: bytes, **extra):
    upload = io.BytesIO(data)
    upload.name = name
    return api.post(f"/api/v1/cases/{case.pk}/evidence/", {"file": upload, **extra}, format="multipart")


def test_image_upload_answers_the_contract(caseworker, api_for, clean_evidence_root) -> None:
    case = factories.make_case(caseworker)
    data = media.image_bytes("JPEG", seed=11)
    response = _upload(
        api_for(caseworker), case, "photo.jpg", data, source_url="https://example.com/p/1", description="from a chat"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    import hashlib

    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["media_type"] == "image/jpeg"
    assert body["locked"] is True
    assert body["status"] == "ready"
    assert body["case"] == str(case.pk)
    algorithms = {(f["algorithm"], f["mirrored"]) for f in body["fingerprints"]}
    assert {("phash", False), ("pdq", False), ("phash", True), ("pdq", True)} <= algorithms
    phash = next(f for f in body["fingerprints"] if f["algorithm"] == "phash" and not f["mirrored"])
    assert len(phash["value"]) == 16
    pdq = next(f for f in body["fingerprints"] if f["algorithm"] == "pdq" and not f["mirrored"])
    assert len(pdq["value"]) == 64
    again = api_for(caseworker).get(f"/api/v1/evidence/{body['id']}/")
    assert again.status_code == 200
    assert again.json()["sha256"] == body["sha256"]
    evidence = Evidence.objects.get(pk=body["id"])
    assert evidence.custody.filter(action="upload").count() == 1
    assert AuditEvent.objects.filter(action="evidence.add", object_id=str(evidence.pk)).exists()
    assert set(Derivative.objects.filter(evidence=evidence).values_list("kind", flat=True)) == {"preview", "preview_blurred"}


def test_type_comes_from_content_not_name_or_header(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    png = media.image_bytes("PNG", seed=12)
    upload = io.BytesIO(png)
    upload.name = "holiday.pdf"
    response = api_for(caseworker).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": upload}, format="multipart")
    assert response.status_code == 201
    assert response.json()["media_type"] == "image/png"
    assert response.json()["original_name"] == "holiday.pdf"


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_other_image_formats_are_accepted(caseworker, api_for, fmt) -> None:
    case = factories.make_case(caseworker)
    response = _upload(api_for(caseworker), case, f"x.{fmt.lower()}", media.image_bytes(fmt, seed=13))
    assert response.status_code == 201, response.json()


def test_animated_gif_is_accepted(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    response = _upload(api_for(caseworker), case, "anim.gif", media.animated_gif(4))
    assert response.status_code == 201, response.json()


def test_pdf_is_accepted_as_a_document(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    response = _upload(api_for(caseworker), case, "statement.pdf", pdf)
    assert response.status_code == 201, response.json()
    assert response.json()["media_type"] == "application/pdf"
    assert response.json()["fingerprints"] == []


@pytest.mark.parametrize("name", sorted(media.hostile_corpus()))
def test_hostile_and_broken_files_are_refused_leaving_nothing(name, caseworker, api_for, clean_evidence_root) -> None:
    data, why = media.hostile_corpus()[name]
    case = factories.make_case(caseworker)
    api = api_for(caseworker)
    before = (Evidence.objects.count(), Fingerprint.objects.count(), CustodyEvent.objects.count(), AuditEvent.objects.count())
    response = _upload(api, case, name, data)
    assert 400 <= response.status_code < 500, (name, response.status_code)
    detail = response.json()["detail"]
    assert why.lower() in detail.lower(), (name, detail)
    after = (Evidence.objects.count(), Fingerprint.objects.count(), CustodyEvent.objects.count(), AuditEvent.objects.count())
    assert after == before
    assert stored_files(clean_evidence_root) == []


def test_upload_over_the_size_limit_answers_413(caseworker, api_for, settings, clean_evidence_root) -> None:
    settings.UPLOAD_MAX_BYTES = 10_000
    case = factories.make_case(caseworker)
    response = _upload(api_for(caseworker), case, "big.jpg", media.image_bytes("JPEG", seed=14, size=(1200, 900)))
    assert response.status_code == 413
    assert "larger" in response.json()["detail"]
    assert Evidence.objects.count() == 0
    assert stored_files(clean_evidence_root) == []


def test_per_type_size_limit(caseworker, api_for, settings) -> None:
    settings.EVIDENCE_LIMITS = {**settings.EVIDENCE_LIMITS, "max_image_bytes": 5_000}
    case = factories.make_case(caseworker)
    response = _upload(api_for(caseworker), case, "a.jpg", media.image_bytes("JPEG", seed=15))
    assert response.status_code == 413
    assert "at most" in response.json()["detail"]


def test_missing_file_is_a_clear_400(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    response = api_for(caseworker).post(f"/api/v1/cases/{case.pk}/evidence/", {"description": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_same_file_twice_in_a_case_is_a_conflict(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    data = media.image_bytes("JPEG", seed=16)
    api = api_for(caseworker)
    assert _upload(api, case, "a.jpg", data).status_code == 201
    response = _upload(api, case, "b.jpg", data)
    assert response.status_code == 409
    assert Evidence.objects.filter(case=case).count() == 1


def test_ownership_upload_and_read(caseworker, caseworker_b, other_supervisor, api_for) -> None:
    theirs = factories.make_case(caseworker_b)
    evidence_id = _upload(api_for(caseworker_b), theirs, "a.jpg", media.image_bytes("JPEG", seed=17)).json()["id"]
    for outsider in (caseworker, other_supervisor):
        api = api_for(outsider)
        assert _upload(api, theirs, "b.jpg", media.image_bytes("JPEG", seed=18)).status_code == 404
        assert api.get(f"/api/v1/evidence/{evidence_id}/").status_code == 404
        assert api.get(f"/api/v1/cases/{theirs.pk}/evidence/").status_code == 404
        assert api.delete(f"/api/v1/evidence/{evidence_id}/").status_code == 404
    assert Evidence.objects.filter(case=theirs).count() == 1


def test_put_patch_delete_refused_and_record_unchanged(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    api = api_for(caseworker)
    body = _upload(api, case, "a.jpg", media.image_bytes("JPEG", seed=19)).json()
    for method in (api.put, api.patch):
        response = method(f"/api/v1/evidence/{body['id']}/", {"sha256": "0" * 64, "original_name": "x"}, format="json")
        assert response.status_code == 405
        assert "locked" in response.json()["detail"]
    assert api.delete(f"/api/v1/evidence/{body['id']}/").status_code == 405
    evidence = Evidence.objects.get(pk=body["id"])
    assert evidence.sha256 == body["sha256"]
    assert evidence.original_name == "a.jpg"


def test_database_refuses_changes_to_locked_evidence(caseworker, api_for) -> None:
    case = factories.make_case(caseworker)
    evidence_id = _upload(api_for(caseworker), case, "a.jpg", media.image_bytes("JPEG", seed=20)).json()["id"]
    for sql in (
        "UPDATE evidence_evidence SET sha256 = 'tampered' WHERE id = %s",
        "UPDATE evidence_evidence SET original_name = 'renamed' WHERE id = %s",
        "UPDATE evidence_evidence SET locked = false WHERE id = %s",
        "DELETE FROM evidence_evidence WHERE id = %s",
        "UPDATE evidence_fingerprint SET value = 'x' WHERE evidence_id = %s",
        "DELETE FROM evidence_fingerprint WHERE evidence_id = %s",
        "UPDATE evidence_custodyevent SET reason = 'x' WHERE evidence_id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [evidence_id])
    for table in ("evidence_evidence", "evidence_fingerprint", "evidence_custodyevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table} CASCADE")
    with pytest.raises(DatabaseError), transaction.atomic():
        Evidence.objects.filter(pk=evidence_id).update(original_name="bulk")
    assert Evidence.objects.get(pk=evidence_id).original_name == "a.jpg"
    # Processing columns may still change (the worker marks videos ready).
    Evidence.objects.filter(pk=evidence_id).update(status="ready")


def test_no_stored_file_holds_the_original_bytes(caseworker, api_for, clean_evidence_root) -> None:
    case = factories.make_case(caseworker)
    data = media.image_bytes("PNG", seed=21)
    _upload(api_for(caseworker), case, "a.png", data)
    files = stored_files(clean_evidence_root)
    assert len(files) == 3  # original and two previews
    for path in files:
        blob = path.read_bytes()
        assert data[:64] not in blob
        assert data[len(data) // 2 : len(data) // 2 + 64] not in blob
        assert b"\x89PNG" not in blob and b"\xff\xd8\xff" not in blob
        assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("fmt", "codec", "name", "media_type"),
    [
        ("mp4", "libx264", "clip.mp4", "video/mp4"),
        ("mov", "mpeg4", "clip.mov", "video/quicktime"),
        ("webm", "libvpx", "clip.webm", "video/webm"),
        ("matroska", "mpeg4", "clip.mkv", "video/x-matroska"),
        ("avi", "mpeg4", "clip.avi", "video/x-msvideo"),
    ],
)
def test_video_containers_are_accepted_and_queued(caseworker, api_for, fmt, codec, name, media_type) -> None:
    case = factories.make_case(caseworker)
    clip = media.video_bytes(seconds=1, size=(160, 120), fps=5, codec=codec, fmt=fmt)
    response = _upload(api_for(caseworker), case, name, clip)
    assert response.status_code == 201, response.json()
    assert response.json()["media_type"] == media_type
    assert response.json()["status"] == "processing"


def test_video_over_the_duration_limit_is_refused(caseworker, api_for, settings, clean_evidence_root) -> None:
    settings.EVIDENCE_LIMITS = {**settings.EVIDENCE_LIMITS, "max_duration_s": 1}
    case = factories.make_case(caseworker)
    response = _upload(api_for(caseworker), case, "long.mp4", media.video_bytes(seconds=4, size=(160, 120), fps=5))
    assert response.status_code == 422
    assert "too long" in response.json()["detail"]
    assert stored_files(clean_evidence_root) == []
