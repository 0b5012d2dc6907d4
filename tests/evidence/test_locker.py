"""Encryption, verification, key rotation, previews, reveal, guarded download, export."""

from __future__ import annotations

import base64
import io
import os
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from core.models import AuditEvent
from evidence import storage
from evidence.crypto import KeyError_
from evidence.export import verify_package
from evidence.models import CustodyEvent, Evidence
from evidence.services import evidence_verify
from tests import factories
from tests.evidence.conftest import stored_files
from tests.evidence.helpers import add_image

pytestmark = pytest.mark.django_db(transaction=True)


def _new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_wrong_master_key_fails_with_a_clear_message(caseworker, tmp_path, settings) -> None:
    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path)
    settings.EVIDENCE_ENCRYPTION_KEY = _new_key()
    with pytest.raises(KeyError_, match="not configured"):
        storage.read_bytes(evidence.storage_key, evidence.key_id, evidence.wrapped_key)


def test_verifier_finds_a_flipped_byte(caseworker, tmp_path, clean_evidence_root, capsys) -> None:
    case = factories.make_case(caseworker)
    good = add_image(case, caseworker, tmp_path, seed=1)
    bad = add_image(case, caseworker, tmp_path, seed=2)
    call_command("verify_evidence", "--case", case.reference)
    assert "All 2 evidence files match" in capsys.readouterr().out
    blob = clean_evidence_root / bad.storage_key
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("verify_evidence", "--case", case.reference)
    assert f"MISMATCH evidence {bad.pk}" in capsys.readouterr().out
    assert CustodyEvent.objects.filter(evidence=bad, action="verify_failed").exists()
    assert CustodyEvent.objects.filter(evidence=good, action="verify").count() == 2
    assert AuditEvent.objects.filter(action="evidence.verify_failed", object_id=str(bad.pk)).exists()


def test_verifier_finds_a_missing_file(caseworker, tmp_path, clean_evidence_root) -> None:
    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path)
    (clean_evidence_root / evidence.storage_key).unlink()
    assert evidence_verify(evidence=evidence) is False


def test_key_rotation_rewraps_and_old_key_can_go(caseworker, tmp_path, settings) -> None:
    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path)
    original = storage.read_bytes(evidence.storage_key, evidence.key_id, evidence.wrapped_key)
    old = settings.EVIDENCE_ENCRYPTION_KEY
    settings.EVIDENCE_ENCRYPTION_KEY = _new_key()
    settings.EVIDENCE_ENCRYPTION_OLD_KEYS = [old]
    call_command("rotate_evidence_keys")
    settings.EVIDENCE_ENCRYPTION_OLD_KEYS = []
    evidence = Evidence.objects.select_related("case").get(pk=evidence.pk)
    assert evidence.case.summary == "Synthetic test case"  # encrypted fields re-encrypted too
    assert storage.read_bytes(evidence.storage_key, evidence.key_id, evidence.wrapped_key) == original
    for derivative in evidence.derivatives.all():
        storage.read_bytes(derivative.storage_key, derivative.key_id, derivative.wrapped_key)
    assert evidence_verify(evidence=evidence)
    assert CustodyEvent.objects.filter(evidence=evidence, action="rewrap").exists()


def test_previews_are_blurred_by_default_and_reveal_needs_a_reason(caseworker, client_for, tmp_path) -> None:
    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path)
    client = client_for(caseworker)
    page = client.get(f"/evidence/{evidence.pk}/").content.decode()
    assert f"/evidence/{evidence.pk}/preview/blurred/" in page
    assert f"/evidence/{evidence.pk}/preview/full/" not in page
    blurred = client.get(f"/evidence/{evidence.pk}/preview/blurred/")
    assert blurred.status_code == 200
    assert blurred["Cache-Control"] == "no-store"
    assert blurred["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/evidence/{evidence.pk}/preview/full/").status_code == 404
    client.post(f"/evidence/{evidence.pk}/reveal/", {"reason": "x"})
    assert client.get(f"/evidence/{evidence.pk}/preview/full/").status_code == 404
    client.post(f"/evidence/{evidence.pk}/reveal/", {"reason": "Checking it matches the reported URL"})
    full = client.get(f"/evidence/{evidence.pk}/preview/full/")
    assert full.status_code == 200
    event = CustodyEvent.objects.get(evidence=evidence, action="reveal")
    assert event.reason == "Checking it matches the reported URL"
    assert event.actor_username == caseworker.username
    # The preview carries no metadata and is small.
    from PIL import Image

    img = Image.open(io.BytesIO(full.content))
    assert max(img.size) <= 800
    assert not img.getexif()
    assert "custody" in client.get(f"/evidence/{evidence.pk}/").content.decode()


def test_blurred_preview_is_really_blurred(caseworker, client_for, tmp_path) -> None:
    from PIL import Image, ImageFilter, ImageStat

    from evidence import services

    # A picture full of fine detail (a checkerboard with text), so blurring has something to remove.
    board = Image.new("L", (640, 480), 255)
    from PIL import ImageDraw

    draw = ImageDraw.Draw(board)
    for x in range(0, 640, 8):
        for y in range(0, 480, 8):
            if (x + y) // 8 % 2:
                draw.rectangle([x, y, x + 7, y + 7], fill=0)
    draw.text((20, 20), "SYNTHETIC TEST PATTERN 0123456789", fill=128)
    path = tmp_path / "board.png"
    board.convert("RGB").save(path)
    evidence = services.evidence_add(
        case=factories.make_case(caseworker), incoming=services.IncomingFile(path=path, name="board.png"), acting_user=caseworker
    )
    client = client_for(caseworker)
    client.post(f"/evidence/{evidence.pk}/reveal/", {"reason": "Comparing the two previews"})
    sharp = Image.open(io.BytesIO(client.get(f"/evidence/{evidence.pk}/preview/full/").content)).convert("L")
    blurred = Image.open(io.BytesIO(client.get(f"/evidence/{evidence.pk}/preview/blurred/").content)).convert("L")

    def detail(img: Image.Image) -> float:
        return ImageStat.Stat(img.filter(ImageFilter.FIND_EDGES)).mean[0]

    assert detail(blurred) < detail(sharp) / 20


def test_download_needs_supervisor_or_grant_and_a_fresh_code(caseworker, supervisor, client_for, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = add_image(case, caseworker, tmp_path)
    original = storage.read_bytes(evidence.storage_key, evidence.key_id, evidence.wrapped_key)
    worker = client_for(caseworker)
    response = worker.post(f"/evidence/{evidence.pk}/download/", {"reason": "For the police report"})
    assert response.status_code == 302
    assert not CustodyEvent.objects.filter(evidence=evidence, action="download").exists()

    boss = Client()
    factories.login_verified(boss, supervisor)  # verified long ago as far as the session knows
    response = boss.post(f"/evidence/{evidence.pk}/download/", {"reason": "For the police report"})
    assert response.status_code == 302  # asks for a fresh code
    device = factories.make_device(supervisor)
    response = boss.post(
        f"/evidence/{evidence.pk}/download/", {"reason": "For the police report", "code": factories.totp_code(device)}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == original
    assert CustodyEvent.objects.get(evidence=evidence, action="download").reason == "For the police report"

    # A supervisor's grant lets the caseworker download too.
    boss.post(
        f"/evidence/case/{case.pk}/grant/", {"grant-user": str(caseworker.pk), "grant-hours": "2", "grant-reason": "Court bundle"}
    )
    worker_device = factories.make_device(caseworker)
    response = worker.post(
        f"/evidence/{evidence.pk}/download/", {"reason": "Court bundle", "code": factories.totp_code(worker_device)}
    )
    assert response.status_code == 200


def test_export_package_verifies_and_detects_tampering(supervisor, caseworker, client_for, tmp_path, capsys) -> None:
    case = factories.make_case(caseworker)
    first = add_image(case, caseworker, tmp_path, seed=1)
    add_image(case, caseworker, tmp_path, seed=2, fmt="PNG", name="b.png")
    client = Client()
    factories.login_verified(client, supervisor)
    device = factories.make_device(supervisor)
    response = client.post(
        f"/evidence/case/{case.pk}/export/", {"reason": "Requested by Seoul police", "code": factories.totp_code(device)}
    )
    assert response.status_code == 200
    package = tmp_path / "export.zip"
    package.write_bytes(b"".join(response.streaming_content))
    assert verify_package(package).ok
    call_command("verify_export", str(package))
    assert "intact" in capsys.readouterr().out
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        manifest = zf.read("manifest.json").decode()
    assert {"manifest.json", "custody.json", "manifest.sig"} <= set(names)
    assert first.sha256 in manifest
    assert CustodyEvent.objects.filter(action="export").count() == 2
    # Change one original inside the package: verification fails and names it.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("originals/") and str(first.pk) in item.filename:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    report = verify_package(tampered)
    assert not report.ok
    assert any("does not match" in p for p in report.problems)
    with pytest.raises(CommandError):
        call_command("verify_export", str(tampered))
    # A package signed by someone else fails against the centre's key.
    from evidence.export import public_key_hex

    assert not verify_package(package, public_key="00" * 32).ok
    assert verify_package(package, public_key=public_key_hex()).ok


def test_evidence_pages_are_404_for_outsiders(caseworker, caseworker_b, other_supervisor, client_for, tmp_path) -> None:
    evidence = add_image(factories.make_case(caseworker_b), caseworker_b, tmp_path)
    for outsider in (caseworker, other_supervisor):
        client = client_for(outsider)
        for path in (f"/evidence/{evidence.pk}/", f"/evidence/{evidence.pk}/preview/blurred/"):
            assert client.get(path).status_code == 404
        for path in (f"/evidence/{evidence.pk}/reveal/", f"/evidence/{evidence.pk}/download/",
                     f"/evidence/case/{evidence.case_id}/upload/", f"/evidence/case/{evidence.case_id}/export/",
                     f"/evidence/case/{evidence.case_id}/capture/"):  # fmt: skip
            assert client.post(path, {"reason": "looking around", "capture-urls": "https://example.com/"}).status_code == 404
    assert not CustodyEvent.objects.filter(evidence=evidence).exclude(action="upload").exists()


def test_page_upload_of_several_files_answers_json_for_the_progress_bar(caseworker, client_for, clean_evidence_root) -> None:
    from tests import media

    case = factories.make_case(caseworker)
    files = [io.BytesIO(media.image_bytes("JPEG", seed=s)) for s in (31, 32)] + [io.BytesIO(b"<svg onload=alert(1)>")]
    for f, name in zip(files, ("a.jpg", "b.jpg", "c.svg"), strict=True):
        f.name = name
    response = client_for(caseworker).post(
        f"/evidence/case/{case.pk}/upload/", {"evidence-upload": files}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 201
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert "SVG" in results[2]["error"]
    assert Evidence.objects.filter(case=case).count() == 2
    assert len(stored_files(clean_evidence_root)) == 6


def test_capture_request_validates_urls(caseworker) -> None:
    from core.errors import ServiceError
    from evidence.services import capture_request

    case = factories.make_case(caseworker)
    with pytest.raises(ServiceError):
        capture_request(case=case, urls=["javascript:alert(1)"], acting_user=caseworker)
    with pytest.raises(ServiceError):
        capture_request(case=case, urls=["", "  "], acting_user=caseworker)
