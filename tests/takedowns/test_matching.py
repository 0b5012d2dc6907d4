"""Matching found files against evidence: API, visibility, negative bank, freshness, video, watchlists."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from PIL import Image

from evidence import services as evidence_services
from takedowns.matching import fingerprints_of_file, match_fingerprints, reset_process_index
from takedowns.models import NegativeFingerprint, TakedownRequest, WatchlistHit
from tests import factories, media
from tests.conftest import wait_until
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_index(settings):
    settings.MATCH_INDEX_MAX_AGE_S = 0
    reset_process_index()
    yield
    reset_process_index()


def _variant(seed: int, *, scale: float = 0.5, quality: int = 60) -> bytes:
    img = Image.open(io.BytesIO(media.image_bytes("JPEG", seed=seed, size=(800, 600))))
    img = img.resize((int(img.width * scale), int(img.height * scale)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _evidence(case, user, tmp_path, seed):
    path = tmp_path / f"ev-{seed}.jpg"
    path.write_bytes(media.image_bytes("JPEG", seed=seed, size=(800, 600)))
    return evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=path, name="e.jpg"), acting_user=user
    )


def _post(api, data: bytes):
    upload = io.BytesIO(data)
    upload.name = "found.jpg"
    return api.post("/api/v1/match/", {"file": upload}, format="multipart")


def test_match_api_finds_a_resized_recompressed_copy(caseworker, api_for, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = _evidence(case, caseworker, tmp_path, seed=90)
    _evidence(case, caseworker, tmp_path, seed=91)
    response = _post(api_for(caseworker), _variant(90))
    assert response.status_code == 200
    matches = response.json()["matches"]
    assert matches[0]["evidence"] == str(evidence.pk)
    assert matches[0]["case"] == str(case.pk)
    assert matches[0]["algorithm"] in ("pdq", "phash")
    assert [m["evidence"] for m in matches] == [str(evidence.pk)]  # the other photograph does not match
    assert _post(api_for(caseworker), media.image_bytes("JPEG", seed=999)).json()["matches"] == []


def test_matches_are_limited_to_what_the_caller_may_see(caseworker, caseworker_b, api_for, central, tmp_path) -> None:
    _evidence(factories.make_case(caseworker_b), caseworker_b, tmp_path, seed=92)
    assert _post(api_for(caseworker), _variant(92)).json()["matches"] == []
    assert len(_post(api_for(caseworker_b), _variant(92)).json()["matches"]) == 1
    analyst = factories.make_user("analyst", central)
    assert _post(api_for(analyst), _variant(92)).status_code == 403


def test_hostile_file_is_refused_by_the_match_api(caseworker, api_for) -> None:
    response = _post(api_for(caseworker), media.png_bomb())
    assert response.status_code in (415, 422)


def test_negative_bank_suppresses_a_known_false_positive(caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = _evidence(case, caseworker, tmp_path, seed=93)
    path = tmp_path / "found.jpg"
    path.write_bytes(_variant(93))
    fingerprints = fingerprints_of_file(path)
    assert match_fingerprints(fingerprints)
    for fp in evidence.fingerprints.filter(algorithm__in=["pdq", "phash"]):
        NegativeFingerprint.objects.create(
            algorithm=fp.algorithm, value=fp.value, reason="stock background", created_by=caseworker
        )
    reset_process_index()
    assert match_fingerprints(fingerprints) == []


def test_new_evidence_is_found_after_the_index_refreshes(caseworker, tmp_path, settings) -> None:
    case = factories.make_case(caseworker)
    path = tmp_path / "found.jpg"
    path.write_bytes(_variant(94))
    fingerprints = fingerprints_of_file(path)
    settings.MATCH_INDEX_MAX_AGE_S = 1
    assert match_fingerprints(fingerprints) == []  # loads the index now
    _evidence(case, caseworker, tmp_path, seed=94)
    # Found once the loaded index is older than MATCH_INDEX_MAX_AGE_S and the next query reloads it.
    wait_until(lambda: [m.case for m in match_fingerprints(fingerprints)] == [case.pk], timeout=10, interval=0.2)


def test_video_matches_when_frames_match_in_order(caseworker, tmp_path) -> None:
    from evidence.services import evidence_process_video

    case = factories.make_case(caseworker)
    clip = media.video_bytes(seconds=6, size=(320, 240), fps=10)
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    evidence = evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=path, name="c.mp4"), acting_user=caseworker
    )
    assert evidence_process_video(evidence.pk)
    # A copy cut to its last four seconds, re-encoded smaller with another codec.
    copy = media.video_bytes(seconds=4, size=(240, 180), fps=10, codec="libx264", start_s=2)
    copy_path = tmp_path / "copy.mp4"
    copy_path.write_bytes(copy)
    matches = match_fingerprints(fingerprints_of_file(copy_path))
    assert [m.evidence for m in matches] == [evidence.pk]
    assert matches[0].frames >= 3
    other_path = tmp_path / "other.mp4"
    other_path.write_bytes(media.video_bytes(seconds=4, size=(320, 240), fps=10, seed_offset=500))
    assert match_fingerprints(fingerprints_of_file(other_path)) == []


def test_watchlist_scan_finds_known_material_and_drafts_a_takedown(simulator, sim_platform, caseworker, tmp_path) -> None:
    from takedowns.watchlists import scan, watchlist_create

    case = consenting_case(caseworker)
    evidence = _evidence(case, caseworker, tmp_path, seed=95)
    copy = _variant(95, scale=0.7, quality=70)
    simulator.host_file("/channel/img-1.jpg", copy, "image/jpeg")
    simulator.host_file("/channel/img-2.jpg", media.image_bytes("JPEG", seed=1234), "image/jpeg")
    page = simulator.host_page("/channel", '<html><img src="/channel/img-1.jpg"><img src="/channel/img-2.jpg"></html>')
    watchlist = watchlist_create(url=page, acting_user=caseworker, case=None, interval_minutes=60)
    assert scan(watchlist.pk) == 1
    request = TakedownRequest.objects.get(case=case, url=f"{simulator.url}/channel/img-1.jpg")
    assert request.status == "draft"
    assert list(request.evidence.values_list("pk", flat=True)) == [evidence.pk]
    hit = WatchlistHit.objects.get(watchlist=watchlist)
    assert hit.evidence_id == evidence.pk
    assert case.events.filter(kind="takedown", data__status="found_again").exists()
    assert any(case.reference in m.subject for m in mail.outbox)
    assert all("channel" not in m.body for m in mail.outbox)  # no URL in the e-mail
    assert scan(watchlist.pk) == 0  # the same hit is not drafted twice
