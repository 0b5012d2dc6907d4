"""Partner hash sharing: the list follows consent, partners page through it by cursor, report
back, repeated false positives quarantine a fingerprint until a supervisor releases it, lookups
reveal nothing but match and distance, and a partner token opens nothing else."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from PIL import Image

from cases import services as case_services
from core import services as core_services
from core.models import AuditEvent
from evidence import services as evidence_services
from evidence.models import Evidence, Fingerprint
from takedowns import hashlist
from takedowns.models import HashFeedback, HashListEvent, HashQuarantine
from tests import factories, media
from tests.evidence.helpers import add_image

# evidence_add stores files and refuses to run inside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)

SHARED = {"pdq", "phash", "md5"}
ENTRY_KEYS = {"id", "action", "algorithm", "value", "category", "frame_ms"}


@pytest.fixture
def partner(central):
    return core_services.user_create(username="partner_a", role="partner", centre=central, is_service_account=True)


@pytest.fixture
def partner_api(partner, api_for):
    return api_for(partner)


def _grant(case, user, granted: bool = True) -> None:
    case_services.consent_record(case=case, kind="hash_sharing", granted=granted, method="phone", acting_user=user)


def _feed(api, **params) -> dict:
    response = api.get("/api/v1/hashlist/", params)
    assert response.status_code == 200, response.content
    return response.json()


def _all_entries(api, since: str = "0", limit: int = 1000) -> tuple[list[dict], str]:
    entries: list[dict] = []
    while True:
        page = _feed(api, since=since, limit=limit)
        entries += page["entries"]
        since = page["cursor"]
        if not page["has_more"]:
            return entries, since


def _replay(entries: list[dict]) -> dict[str, dict]:
    """What a partner holds after applying the entries in order."""
    held: dict[str, dict] = {}
    for entry in entries:
        if entry["action"] == "add":
            held[entry["id"]] = entry
        else:
            held.pop(entry["id"], None)
    return held


def _shareable(evidence: Evidence) -> dict[str, Fingerprint]:
    return {
        str(fp.pk): fp
        for fp in Fingerprint.objects.filter(evidence=evidence, algorithm__in=SHARED)
        if fp.algorithm != "pdq" or (fp.quality or 0) >= 50
    }


def _plain(evidence: Evidence, algorithm: str) -> Fingerprint:
    return Fingerprint.objects.get(evidence=evidence, algorithm=algorithm, mirrored=False, frame_ms=None)


def _flip(value: str, bits: int) -> str:
    number = int(value, 16)
    for i in range(bits):
        number ^= 1 << (i * 3)
    return f"{number:0{len(value)}x}"


def _lookup(api, algorithm: str, value: str):
    return api.post("/api/v1/hashlist/lookup/", {"algorithm": algorithm, "value": value}, format="json")


def _feedback(api, fingerprint_id, verdict: str, reason: str = ""):
    return api.post(f"/api/v1/hashlist/{fingerprint_id}/feedback/", {"verdict": verdict, "reason": reason}, format="json")


# The list follows consent -----------------------------------------------------------------------


def test_consent_granted_puts_fingerprints_on_the_list_with_nothing_about_the_case(
    caseworker, partner_api, api_for, tmp_path
) -> None:
    case = factories.make_case(caseworker, victim={"pseudonym": "Sky Blue", "is_minor": False, "language": "ko"})
    evidence = add_image(case, caseworker, tmp_path, seed=1)
    assert _feed(partner_api) == {"entries": [], "cursor": "0", "has_more": False}

    # Through the API, as a partner system of the centre would record it.
    response = api_for(caseworker).post(
        f"/api/v1/cases/{case.pk}/consent/", {"kind": "hash_sharing", "granted": True}, format="json"
    )
    assert response.status_code == 201
    raw = partner_api.get("/api/v1/hashlist/").content.decode()
    entries = json.loads(raw)["entries"]
    expected = _shareable(evidence)
    assert {"pdq", "phash"} <= {fp.algorithm for fp in expected.values()}
    assert any(fp.mirrored for fp in expected.values())  # mirrored fingerprints are shared too
    assert {e["id"] for e in entries} == set(expected)
    for entry in entries:
        assert set(entry) <= ENTRY_KEYS
        assert entry["action"] == "add"
        assert entry["category"] == "deepfake"
        assert entry["value"] == expected[entry["id"]].value
        assert entry["algorithm"] == expected[entry["id"]].algorithm
    # Nothing about the case or the victim, anywhere in the answer.
    for secret in (case.reference, "Sky Blue", '"case"', str(evidence.uid), evidence.sha256, "http"):
        assert secret not in raw
    sync = AuditEvent.objects.get(action="hashlist.sync", object_id=str(case.pk))
    assert sync.details == {"trigger": "consent_granted", "added": len(expected), "removed": 0}

    # Consent recorded again changes nothing: no duplicate adds.
    count = HashListEvent.objects.count()
    _grant(case, caseworker)
    assert HashListEvent.objects.count() == count
    assert hashlist.hashlist_sync_case(case=case, acting_user=None, trigger="test") == (0, 0)

    # New evidence of a consenting case joins the list as it is stored.
    cursor = _feed(partner_api)["cursor"]
    second = add_image(case, caseworker, tmp_path, seed=2)
    new = _feed(partner_api, since=cursor)["entries"]
    assert {e["id"] for e in new} == set(_shareable(second))
    assert {e["action"] for e in new} == {"add"}


def test_other_cases_and_weak_fingerprints_stay_off_the_list(caseworker, partner_api, tmp_path) -> None:
    quiet = factories.make_case(caseworker, consent={"takedown": True, "hash_sharing": False})
    add_image(quiet, caseworker, tmp_path, seed=3)
    consenting = factories.make_case(caseworker, consent={"hash_sharing": True})
    flat = tmp_path / "flat.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(flat)
    evidence = evidence_services.evidence_add(
        case=consenting, incoming=evidence_services.IncomingFile(path=flat, name="flat.png"), acting_user=caseworker
    )
    listed = _replay(_all_entries(partner_api)[0])
    pdq = _plain(evidence, "pdq")
    assert (pdq.quality or 0) < 50
    assert str(pdq.pk) not in listed  # a featureless image's PDQ is noise: never shared
    assert str(_plain(evidence, "phash").pk) in listed
    assert {Fingerprint.objects.get(pk=int(i)).evidence.case_id for i in listed} == {consenting.pk}


def test_withdrawal_sends_deletions_at_once_and_lookup_stops_matching(caseworker, partner_api, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    evidence = add_image(case, caseworker, tmp_path, seed=4)
    pdq = _plain(evidence, "pdq")
    assert _lookup(partner_api, "pdq", pdq.value).json() == {"match": True, "distance": 0}
    cursor = _feed(partner_api)["cursor"]

    _grant(case, caseworker, granted=False)

    deletions = _feed(partner_api, since=cursor)["entries"]
    assert {e["id"] for e in deletions} == set(_shareable(evidence))
    assert all(e["action"] == "delete" and e["value"] is None for e in deletions)
    assert _lookup(partner_api, "pdq", pdq.value).json() == {"match": False, "distance": None}
    assert _lookup(partner_api, "phash", _plain(evidence, "phash").value).json()["match"] is False
    # A partner starting from the beginning never receives the withdrawn values at all.
    everything = _all_entries(partner_api)[0]
    assert _replay(everything) == {}
    assert not any(e["value"] for e in everything)
    assert AuditEvent.objects.filter(action="hashlist.sync", details__trigger="consent_withdrawn").count() == 1

    # Consent given again: back on the list.
    _grant(case, caseworker)
    assert set(_replay(_all_entries(partner_api)[0])) == set(_shareable(evidence))


def test_video_fingerprints_and_md5_are_shared_with_frame_positions(caseworker, partner_api, tmp_path, monkeypatch) -> None:
    import hashlib

    # The worker's wake-up is not needed: the test runs the worker's function itself.
    monkeypatch.setattr("evidence.tasks.process_video.delay", lambda *args, **kwargs: None)
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    clip = media.video_bytes(seconds=2, size=(160, 120), fps=5)
    path = media.write(tmp_path, "clip.mp4", clip)
    evidence = evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=path, name="clip.mp4"), acting_user=caseworker
    )
    assert _feed(partner_api)["entries"] == []
    assert evidence_services.evidence_process_video(evidence.pk) is True

    listed = _replay(_all_entries(partner_api)[0])
    md5 = hashlib.md5(clip).hexdigest()
    assert any(e["algorithm"] == "md5" and e["value"] == md5 and "frame_ms" not in e for e in listed.values())
    assert any(e["algorithm"] == "pdq" and isinstance(e.get("frame_ms"), int) for e in listed.values())
    assert _lookup(partner_api, "md5", md5.upper()).json() == {"match": True, "distance": 0}
    assert _lookup(partner_api, "md5", _flip(md5, 1)).json() == {"match": False, "distance": None}


# Paging --------------------------------------------------------------------------------------


def test_cursor_paging(caseworker, partner_api, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    for seed in (5, 6, 7):
        add_image(case, caseworker, tmp_path, seed=seed)
    everything = _feed(partner_api)
    assert everything["has_more"] is False
    total = len(everything["entries"])
    assert total >= 9

    seen: list[str] = []
    cursors: list[int] = []
    since = "0"
    while True:
        page = _feed(partner_api, since=since, limit=4)
        assert len(page["entries"]) <= 4
        seen += [e["id"] for e in page["entries"]]
        cursors.append(int(page["cursor"]))
        since = page["cursor"]
        if not page["has_more"]:
            break
    assert seen == [e["id"] for e in everything["entries"]]
    assert cursors == sorted(cursors)
    assert page["cursor"] == everything["cursor"]
    # Nothing new: the same cursor back, so a partner can poll with it.
    assert _feed(partner_api, since=since) == {"entries": [], "cursor": since, "has_more": False}
    assert _feed(partner_api, limit=total)["has_more"] is False
    assert _feed(partner_api, limit=total - 1)["has_more"] is True

    for params in ({"limit": 0}, {"limit": 10001}, {"limit": "many"}, {"since": "abc"}, {"since": "-1"}, {"since": "1e3"}):
        response = partner_api.get("/api/v1/hashlist/", params)
        assert response.status_code == 400, params
        assert response.json()["detail"].startswith("The request is not valid")


# Feedback and quarantine ---------------------------------------------------------------------


def test_feedback(caseworker, partner, partner_api, api_for, client_for, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    evidence = add_image(case, caseworker, tmp_path, seed=8)
    pdq = _plain(evidence, "pdq")

    response = _feedback(partner_api, pdq.pk, "blocked")
    assert response.status_code == 201, response.json()
    assert response.json()["verdict"] == "blocked"
    assert response.json()["fingerprint"] == str(pdq.pk)

    missing_reason = _feedback(partner_api, pdq.pk, "not_blocked", "   ")
    assert missing_reason.status_code == 400
    assert "reason" in missing_reason.json()["errors"]
    assert _feedback(partner_api, pdq.pk, "not_blocked", "The upload was in a private group we do not scan.").status_code == 201
    assert _feedback(partner_api, pdq.pk, "maybe").status_code == 400
    assert _feedback(partner_api, pdq.pk, "blocked", "x" * 1001).status_code == 400

    # Unknown ids, and fingerprints never on the list, are the same 404.
    unlisted_case = factories.make_case(caseworker)
    unlisted = _plain(add_image(unlisted_case, caseworker, tmp_path, seed=9), "pdq")
    for target in (unlisted.pk, pdq.pk + 100_000, "abc", "99999999999999999999999", "-1"):
        response = _feedback(partner_api, target, "blocked")
        assert response.status_code == 404, target
        assert response.json() == {"detail": "Not found."}
    # Administrators may read the list but only partners report on it.
    assert _feedback(api_for(factories.make_user("admin")), pdq.pk, "blocked").status_code == 403

    rows = HashFeedback.objects.filter(fingerprint=pdq)
    assert sorted(rows.values_list("verdict", flat=True)) == ["blocked", "not_blocked"]
    assert set(rows.values_list("partner", flat=True)) == {partner.pk}
    assert AuditEvent.objects.filter(action="hashlist.feedback", object_id=str(pdq.pk), actor_id=partner.pk).count() == 2

    # The case shows it.
    html = client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()
    assert 'id="hashlist"' in html
    assert "The upload was in a private group we do not scan." in html
    assert "partner_a" in html


def test_three_false_positives_quarantine_and_release_restores(
    caseworker, supervisor, other_supervisor, partner_api, client_for, tmp_path
) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    evidence = add_image(case, caseworker, tmp_path, seed=10)
    phash = _plain(evidence, "phash")
    cursor = _feed(partner_api)["cursor"]

    for _ in range(2):
        assert _feedback(partner_api, phash.pk, "false_positive", "a different picture").status_code == 201
    assert not HashQuarantine.objects.exists()
    assert _feed(partner_api, since=cursor)["entries"] == []

    assert _feedback(partner_api, phash.pk, "false_positive").status_code == 201
    quarantine = HashQuarantine.objects.get(fingerprint=phash)
    assert quarantine.active
    page = _feed(partner_api, since=cursor)
    assert page["entries"] == [
        {"id": str(phash.pk), "action": "delete", "algorithm": "phash", "value": None, "category": "deepfake"}
    ]
    assert AuditEvent.objects.filter(action="hashlist.quarantine", object_id=str(phash.pk)).count() == 1
    # Reports on a quarantined fingerprint are still taken, and quarantine nothing twice.
    assert _feedback(partner_api, phash.pk, "false_positive").status_code == 201
    assert HashListEvent.objects.filter(fingerprint=phash, action="delete").count() == 1

    # The case shows the quarantine; only supervisors get the release button.
    assert "hashlist/quarantine/" not in client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()
    supervisor_page = client_for(supervisor).get(f"/cases/{case.pk}/").content.decode()
    assert f"/takedowns/hashlist/quarantine/{quarantine.pk}/release/" in supervisor_page

    release_url = f"/takedowns/hashlist/quarantine/{quarantine.pk}/release/"
    assert client_for(caseworker).post(release_url).status_code == 404
    assert client_for(other_supervisor).post(release_url).status_code == 404
    assert client_for(supervisor).get(release_url).status_code == 405
    assert HashQuarantine.objects.get(pk=quarantine.pk).active

    response = client_for(supervisor).post(release_url)
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/#hashlist"
    released = HashQuarantine.objects.get(pk=quarantine.pk)
    assert released.released_by == supervisor
    assert released.released_at is not None
    back = _feed(partner_api, since=page["cursor"])["entries"]
    assert back == [{"id": str(phash.pk), "action": "add", "algorithm": "phash", "value": phash.value, "category": "deepfake"}]
    assert AuditEvent.objects.filter(action="hashlist.release", actor_id=supervisor.pk).count() == 1
    # Releasing twice adds nothing twice.
    client_for(supervisor).post(release_url)
    assert HashListEvent.objects.filter(fingerprint=phash, action="add").count() == 2

    # Old reports do not count again after a release: a new quarantine needs three new ones.
    assert _feedback(partner_api, phash.pk, "false_positive").status_code == 201
    assert not HashQuarantine.objects.get(pk=quarantine.pk).active
    for _ in range(2):
        _feedback(partner_api, phash.pk, "false_positive")
    assert HashQuarantine.objects.get(pk=quarantine.pk).active
    assert _replay(_all_entries(partner_api)[0]).get(str(phash.pk)) is None


# Lookup --------------------------------------------------------------------------------------


def test_lookup_match_no_match_and_distance(caseworker, partner_api, api_for, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    evidence = add_image(case, caseworker, tmp_path, seed=11)
    pdq, phash = _plain(evidence, "pdq"), _plain(evidence, "phash")

    def answer(algorithm: str, value: str) -> dict:
        response = _lookup(partner_api, algorithm, value)
        assert response.status_code == 200, response.json()
        return response.json()

    assert answer("pdq", pdq.value) == {"match": True, "distance": 0}
    assert answer("pdq", _flip(pdq.value, 20).upper()) == {"match": True, "distance": 20}
    assert answer("pdq", _flip(pdq.value, 31)) == {"match": True, "distance": 31}
    assert answer("pdq", _flip(pdq.value, 80)) == {"match": False, "distance": None}
    assert answer("phash", _flip(phash.value, 10)) == {"match": True, "distance": 10}
    assert answer("phash", _flip(phash.value, 14)) == {"match": False, "distance": None}
    assert answer("md5", "0" * 32) == {"match": False, "distance": None}
    assert set(answer("pdq", pdq.value)) == {"match", "distance"}  # nothing else, ever
    assert api_for(factories.make_user("admin")).post(
        "/api/v1/hashlist/lookup/", {"algorithm": "pdq", "value": pdq.value}, format="json"
    ).json() == {"match": True, "distance": 0}

    for body in (
        {"algorithm": "pdq", "value": pdq.value[:-1]},
        {"algorithm": "phash", "value": pdq.value},
        {"algorithm": "md5", "value": "z" * 32},
        {"algorithm": "sha1", "value": "0" * 40},
        {"algorithm": "pdq"},
        {},
    ):
        response = partner_api.post("/api/v1/hashlist/lookup/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("The request is not valid")
    too_short = partner_api.post("/api/v1/hashlist/lookup/", {"algorithm": "pdq", "value": "abc"}, format="json")
    assert "64 hexadecimal digits" in too_short.json()["detail"]


# Who may use what ----------------------------------------------------------------------------


def _api_routes() -> list[str]:
    """Every /api/v1/ route, with an id filled in, except the hash list's own and the public
    intake's (open to anyone without authentication, by design)."""
    resolver = get_resolver()
    routes: list[str] = []
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for sub in pattern.url_patterns:  # type: ignore[attr-defined]
            assert isinstance(sub, URLPattern)
            route = str(sub.pattern)
            if not route.startswith(("hashlist/", "intake/")):
                routes.append("/api/v1/" + re.sub(r"<[^>]+>", "{id}", route))
    return routes


def test_partner_token_reaches_nothing_else(caseworker, partner_api, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True, "takedown": True})
    evidence = add_image(case, caseworker, tmp_path, seed=12)
    routes = _api_routes()
    assert {"/api/v1/cases/", "/api/v1/cases/{id}/", "/api/v1/evidence/{id}/", "/api/v1/platforms/", "/api/v1/takedowns/"} <= set(
        routes
    )
    upload = io.BytesIO(media.image_bytes("JPEG", seed=12))
    upload.name = "photo.jpg"
    for route in routes:
        for target in (case.pk, evidence.pk):
            url = route.format(id=target)
            for method in ("get", "post", "put", "patch", "delete"):
                response = getattr(partner_api, method)(url, {"case": case.pk, "url": "https://x.example/1"}, format="json")
                assert response.status_code in (403, 404), (method, url, response.status_code)
                assert case.reference not in response.content.decode()
    listing = partner_api.get("/api/v1/cases/")
    assert listing.status_code == 403
    assert "hash-sharing" in listing.json()["detail"]
    assert partner_api.post("/api/v1/match/", {"file": upload}, format="multipart").status_code in (403, 404)
    assert not HashFeedback.objects.exists()
    assert not case.takedowns.exists()


@pytest.mark.parametrize("role", ["caseworker", "supervisor", "analyst", "auditor"])
def test_staff_other_than_admin_get_403_on_the_hash_list(role, caseworker, api_for, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    pdq = _plain(add_image(case, caseworker, tmp_path, seed=13), "pdq")
    api = api_for(caseworker if role == "caseworker" else factories.make_user(role))
    assert api.get("/api/v1/hashlist/").status_code == 403
    assert _lookup(api, "pdq", pdq.value).status_code == 403
    assert _feedback(api, pdq.pk, "blocked").status_code == 403
    assert not HashFeedback.objects.exists()
    assert api_for(factories.make_user("admin")).get("/api/v1/hashlist/").status_code == 200


def test_partner_cannot_open_staff_pages(partner, caseworker, client) -> None:
    assert not partner.has_usable_password()  # a token is its only way in
    case = factories.make_case(caseworker)
    # Even a session that somehow passed both factors is refused: service accounts never use pages.
    session = factories.login_verified(client, partner)
    for url in ("/work/", "/cases/", f"/cases/{case.pk}/", "/takedowns/", "/takedowns/manual/", "/audit/", "/staff/users/"):
        response = session.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    # The token opens no page either.
    response = Client().get("/cases/", HTTP_AUTHORIZATION=f"Token {factories.issue_token(partner)}")
    assert response.status_code == 302


def test_hash_list_log_and_reports_are_append_only(caseworker, partner_api, tmp_path) -> None:
    case = factories.make_case(caseworker, consent={"hash_sharing": True})
    pdq = _plain(add_image(case, caseworker, tmp_path, seed=14), "pdq")
    _feedback(partner_api, pdq.pk, "blocked")
    for model in (HashListEvent, HashFeedback):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.update(at=timezone.now())
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.all().delete()


def test_lower_apps_do_not_import_takedowns() -> None:
    root = Path(__file__).resolve().parents[2]
    for app, forbidden in (("cases", ("evidence", "takedowns")), ("evidence", ("takedowns",))):
        for source in (root / app).rglob("*.py"):
            text = source.read_text()
            for name in forbidden:
                assert not re.search(rf"^\s*(from|import) {name}\b", text, re.M), (source, name)
