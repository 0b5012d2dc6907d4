"""With a real worker, real HTTP to the platform simulator on 127.0.0.1 and real PostgreSQL/Redis:
a page already gone before the first notice ends `unavailable` with no notice and out of the
figures; a duplicate across centres sends no second notice and follows the original; a case's
status follows its work."""

from __future__ import annotations

import re

import pytest

from cases.models import Case, CaseEvent
from evidence import services as evidence_services
from takedowns.models import Notice, TakedownRequest
from tests import media
from tests.conftest import clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.takedowns.conftest import consenting_case
from tools.platform_sim import SOFT_REMOVED_HTML

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, smtp_sink):
    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port, NOTICE_RETRY_BASE_S="1", NOTICE_RETRY_MAX_S="2"),
                        "test-liveness-worker.log")  # fmt: skip
    yield proc
    stop_process(proc)


def _post(simulator, path: str, seed: int) -> tuple[bytes, str]:
    image = media.image_bytes("JPEG", seed=seed)
    simulator.host_file(f"{path}.jpg", image, "image/jpeg")
    simulator.host_page(path, f'<html><body><h1>post</h1><img src="{path}.jpg"></body></html>')
    return image, f"{simulator.url}{path}"


def _evidence(case, user, image: bytes, tmp_path) -> int:
    path = tmp_path / f"e{case.pk}.jpg"
    path.write_bytes(image)
    incoming = evidence_services.IncomingFile(path=path, name="e.jpg")
    return evidence_services.evidence_add(case=case, incoming=incoming, acting_user=user).pk


def _status(api, pk) -> str:
    return api.get(f"/api/v1/takedowns/{pk}/").json()["status"]


def _figures(api) -> dict[str, dict]:
    response = api.get("/api/v1/compliance/platforms/")
    assert response.status_code == 200, response.content
    return {row["platform"]: row for row in response.json()}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_pages_gone_before_the_first_notice_end_unavailable_with_no_notice(
    worker, simulator, sim_platform, caseworker, supervisor, api_for, client_for
) -> None:
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    _image, live = _post(simulator, "/l/live", seed=81)
    _image, removed = _post(simulator, "/l/gone410", seed=82)
    simulator.remove("/l/gone410", status=410)
    soft = simulator.host_page("/l/soft", SOFT_REMOVED_HTML)
    never = f"{simulator.url}/l/never-there"  # the simulator answers 404
    flaky = simulator.host_page("/l/flaky", "<h1>Service unavailable</h1>", status=503)  # inconclusive: send anyway
    ids = {}
    for name, url in {"live": live, "410": removed, "soft": soft, "404": never, "503": flaky}.items():
        created = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url}, format="json")
        assert created.status_code == 201, created.json()
        assert created.json()["duplicate_of"] is None
        ids[name] = created.json()["id"]
    sent = api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    assert sent.status_code == 202
    assert sent.json()["queued"] == 5
    for name in ("410", "soft", "404"):
        wait_until(lambda n=name: _status(api, ids[n]) == "unavailable", timeout=30)
    wait_until(lambda: _status(api, ids["live"]) == "sent" and _status(api, ids["503"]) == "sent", timeout=30)
    # The platform received the two notices for pages that showed something, and no other.
    assert sorted(n["body"]["url"] for n in simulator.notices) == sorted([live, flaky])
    gone = TakedownRequest.objects.get(pk=ids["410"])
    assert gone.sent_at is None and gone.deadline is None and gone.unavailable_at is not None
    assert Notice.objects.get(request=gone).status == "cancelled"
    # Not in any platform's figures: two requests, not five; nothing overdue or removed from the gone ones.
    row = _figures(api_for(supervisor))["Simulated Video"]
    assert row["requests"] == 2
    assert row["removed"] == 0 and row["overdue"] == 0
    # The caseworker reads what happened, in words.
    detail = _text(client_for(caseworker).get(f"/takedowns/{ids['soft']}/").content.decode())
    assert "Gone before a notice was needed" in detail
    assert "No notice was sent" in detail
    assert "Not sent: the page was already gone" in detail  # the attempt, in words
    assert " unavailable " not in detail
    assert "Gone before a notice was needed" in client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()


def test_a_duplicate_in_another_centre_sends_nothing_and_follows_the_original(
    worker, simulator, sim_platform, caseworker, supervisor, other_supervisor, api_for, client_for, tmp_path
) -> None:
    image, url = _post(simulator, "/d/1", seed=83)
    first_case = consenting_case(caseworker)
    api_a = api_for(caseworker)
    first = api_a.post(
        "/api/v1/takedowns/", {"case": first_case.pk, "url": url, "evidence": [_evidence(first_case, caseworker, image, tmp_path)]},
        format="json",
    ).json()  # fmt: skip
    api_a.post(f"/api/v1/cases/{first_case.pk}/takedowns/send/", {"ids": [first["id"]]}, format="json")
    wait_until(lambda: _status(api_a, first["id"]) == "sent", timeout=30)

    # Another centre reports the same page, spelled differently.
    other_case = consenting_case(other_supervisor)
    api_b = api_for(other_supervisor)
    variant = url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "?utm_source=chat&fbclid=x#video"
    second = api_b.post("/api/v1/takedowns/", {"case": other_case.pk, "url": variant}, format="json")
    assert second.status_code == 201
    assert second.json()["duplicate_of"] == str(first["id"])
    sent = api_b.post(f"/api/v1/cases/{other_case.pk}/takedowns/send/", {"ids": [second.json()["id"]]}, format="json")
    assert sent.status_code == 202 and sent.json() == {"queued": 1, "following": 1}
    assert _status(api_b, second.json()["id"]) == "sent"  # follows the original at once
    assert not Notice.objects.filter(request_id=second.json()["id"]).exists()
    assert len(simulator.unique_notices()) == 1  # no second notice reached the platform
    assert _figures(api_for(supervisor))["Simulated Video"]["requests"] == 1

    # The other centre sees that it is a duplicate, but not whose: no reference, no link.
    page_b = _text(client_for(other_supervisor).get(f"/cases/{other_case.pk}/").content.decode())
    assert "Duplicate: already handled by a request in another case" in page_b
    assert first_case.reference not in page_b
    detail_b = client_for(other_supervisor).get(f"/takedowns/{second.json()['id']}/").content.decode()
    assert "another case" in detail_b and first_case.reference not in detail_b
    assert f"/takedowns/{first['id']}/" not in detail_b
    assert api_b.get(f"/api/v1/takedowns/{first['id']}/").status_code == 404

    # The original is removed (our own check): the duplicate follows.
    simulator.remove("/d/1", status=404)
    api_a.post(f"/api/v1/takedowns/{first['id']}/recheck/")
    wait_until(lambda: _status(api_a, first["id"]) == "removed", timeout=30)
    assert _status(api_b, second.json()["id"]) == "removed"
    # Both cases have nothing left to chase.
    assert Case.objects.get(pk=other_case.pk).status == "monitoring"


def test_a_same_centre_duplicate_links_to_the_original(
    worker, simulator, sim_platform, caseworker, supervisor, client_for, api_for
):
    _image, url = _post(simulator, "/d/2", seed=84)
    mine = consenting_case(caseworker)
    first = api_for(caseworker).post("/api/v1/takedowns/", {"case": mine.pk, "url": url}, format="json").json()
    theirs = consenting_case(supervisor)
    second = api_for(supervisor).post("/api/v1/takedowns/", {"case": theirs.pk, "url": url + "#x"}, format="json").json()
    assert second["duplicate_of"] == first["id"]
    page = client_for(supervisor).get(f"/cases/{theirs.pk}/").content.decode()
    assert f"Duplicate of request #{first['id']}" in page
    assert f'href="/takedowns/{first["id"]}/"' in page and mine.reference in page


def test_case_status_follows_removal_and_reappearance_with_timeline_entries(
    worker, simulator, sim_platform, caseworker, api_for, client_for, tmp_path
) -> None:
    image, url = _post(simulator, "/c/1", seed=85)
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    evidence = _evidence(case, caseworker, image, tmp_path)
    created = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url, "evidence": [evidence]}, format="json").json()
    api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    wait_until(lambda: _status(api, created["id"]) == "sent", timeout=30)
    before = Case.objects.get(pk=case.pk).status
    assert before in ("new", "open")

    simulator.remove("/c/1", status=410)
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    wait_until(lambda: Case.objects.get(pk=case.pk).status == "monitoring", timeout=30)

    _post(simulator, "/c/1", seed=85)  # the same picture is back
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    wait_until(lambda: _status(api, created["id"]) == "reappeared", timeout=30)
    wait_until(lambda: Case.objects.get(pk=case.pk).status == "open", timeout=10)
    changes = [e.data for e in CaseEvent.objects.filter(case=case, kind="status").order_by("created_at", "id")]
    assert changes[-2:] == [{"from": before, "to": "monitoring"}, {"from": "monitoring", "to": "open"}]
    timeline = _text(client_for(caseworker).get(f"/cases/{case.pk}/").content.decode())
    assert "Monitoring → Open" in timeline


def test_a_closed_case_is_not_reopened_by_a_machine(worker, simulator, sim_platform, caseworker, api_for, tmp_path) -> None:
    from cases.services import case_set_status

    image, url = _post(simulator, "/c/2", seed=86)
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    evidence = _evidence(case, caseworker, image, tmp_path)
    created = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url, "evidence": [evidence]}, format="json").json()
    api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    wait_until(lambda: _status(api, created["id"]) == "sent", timeout=30)
    case_set_status(case=Case.objects.get(pk=case.pk), status="closed", acting_user=caseworker)
    simulator.remove("/c/2", status=404)
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    wait_until(lambda: _status(api, created["id"]) == "removed", timeout=30)
    _post(simulator, "/c/2", seed=86)
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    wait_until(lambda: _status(api, created["id"]) == "reappeared", timeout=30)
    assert Case.objects.get(pk=case.pk).status == "closed"


def _timeline(client, case_pk: int, language: str) -> str:
    """The case page's timeline as a person reads it, in the chosen language."""
    from tests.pagetext import visible_text

    client.post("/i18n/setlang/", {"language": language, "next": f"/cases/{case_pk}/"})
    html = client.get(f"/cases/{case_pk}/").content.decode()
    assert f'lang="{language}"' in html
    section = re.search(r'<section class="card" id="timeline">(.*?)</section>', html, re.S)
    assert section is not None
    return visible_text(section.group(1))


@pytest.fixture
def web_form_platform(simulator, db):
    # The simulator's pages (host 127.0.0.1) belong to a platform that only has a web form. Its
    # budget of one notice a minute would hold the second notice for a minute if web-form notices
    # spent it (they send nothing to the platform, so they do not).
    from takedowns.services import platform_create

    return platform_create(
        acting_user=None, name="Form Only Board", domains=["127.0.0.1"], channel="manual",
        web_form_url="https://forms.example/report", jurisdiction="KR", notice_language="ko", rate_limit_per_minute=1,
    )  # fmt: skip


def test_web_form_notices_wait_for_a_person_only_after_the_workers_look(
    worker, simulator, web_form_platform, caseworker, api_for, client_for
) -> None:
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    _image, live = _post(simulator, "/w/live", seed=87)
    gone = f"{simulator.url}/w/never-there"  # the simulator answers 404
    ids = {}
    for name, url in {"live": live, "gone": gone}.items():
        ids[name] = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url}, format="json").json()["id"]
    sent = api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    assert sent.status_code == 202 and sent.json()["queued"] == 2

    # The page already gone ends unavailable: no task for a person, nothing in any figure.
    wait_until(lambda: _status(api, ids["gone"]) == "unavailable", timeout=30)
    assert [n.status for n in Notice.objects.filter(request_id=ids["gone"])] == ["cancelled"]
    # The page that shows something waits for a person, after the worker looked at it.
    wait_until(lambda: Notice.objects.filter(request_id=ids["live"], status="manual").exists(), timeout=30)
    assert _status(api, ids["live"]) == "queued"
    looked = {(e["method"], e["path"]) for e in simulator.requests_log}
    assert ("GET", "/w/live") in looked and ("GET", "/w/never-there") in looked
    assert not simulator.notices  # a web-form platform gets nothing by API

    person = client_for(caseworker)
    queue = person.get("/takedowns/manual/").content.decode()
    assert live in queue and "https://forms.example/report" in queue
    assert gone not in queue
    # The person submits the form and says so: the request is sent.
    notice = Notice.objects.get(request_id=ids["live"])
    person.post(f"/takedowns/manual/{notice.pk}/done/", {"ticket": "FORM-1"})
    assert _status(api, ids["live"]) == "sent"
    assert "Nothing waiting." in person.get("/takedowns/manual/").content.decode()


def test_the_case_timeline_says_in_words_that_a_page_was_gone_before_a_notice(
    worker, simulator, sim_platform, caseworker, api_for, client_for
) -> None:
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    gone = api.post("/api/v1/takedowns/", {"case": case.pk, "url": f"{simulator.url}/t/gone"}, format="json").json()["id"]
    api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    wait_until(lambda: _status(api, gone) == "unavailable", timeout=30)
    entries = [e.data for e in CaseEvent.objects.filter(case=case, kind="takedown")]
    assert {"request": int(gone), "status": "unavailable"} in entries
    person = client_for(caseworker)
    assert f"#{gone}: gone before a notice was needed" in _timeline(person, case.pk, "en")
    korean = _timeline(person, case.pk, "ko")
    assert f"#{gone}: 통지 전에 이미 사라짐" in korean
    assert "unavailable" not in korean


def test_a_follower_shows_the_originals_times_and_counts_in_no_figure(
    worker, simulator, sim_platform, caseworker, supervisor, other_supervisor, api_for, tmp_path
) -> None:
    image, url = _post(simulator, "/f/1", seed=88)
    first_case = consenting_case(caseworker)
    api_a = api_for(caseworker)
    evidence = _evidence(first_case, caseworker, image, tmp_path)
    first = api_a.post("/api/v1/takedowns/", {"case": first_case.pk, "url": url, "evidence": [evidence]}, format="json").json()
    api_a.post(f"/api/v1/cases/{first_case.pk}/takedowns/send/", {"ids": [first["id"]]}, format="json")
    wait_until(lambda: _status(api_a, first["id"]) == "sent", timeout=30)

    other_case = consenting_case(other_supervisor)
    api_b = api_for(other_supervisor)
    follower = api_b.post("/api/v1/takedowns/", {"case": other_case.pk, "url": url + "?utm_source=x"}, format="json").json()
    assert follower["duplicate_of"] == str(first["id"])
    api_b.post(f"/api/v1/cases/{other_case.pk}/takedowns/send/", {"ids": [follower["id"]]}, format="json")
    figures_before = _figures(api_for(supervisor))["Simulated Video"]

    simulator.remove("/f/1", status=404)
    api_a.post(f"/api/v1/takedowns/{first['id']}/recheck/")
    wait_until(lambda: _status(api_a, first["id"]) == "removed", timeout=30)
    original = api_a.get(f"/api/v1/takedowns/{first['id']}/").json()
    shown = api_b.get(f"/api/v1/takedowns/{follower['id']}/").json()
    assert original["removed_at"] is not None
    assert shown["status"] == "removed" and shown["removed_at"] == original["removed_at"]
    # Only the request that was sent carries a send time and a deadline: the figures count it once.
    assert shown["sent_at"] is None and shown["deadline"] is None

    # A third centre's draft approved after the removal follows at once, with the same time.
    third_case = consenting_case(supervisor)
    api_c = api_for(supervisor)
    late = api_c.post("/api/v1/takedowns/", {"case": third_case.pk, "url": url}, format="json").json()
    api_c.post(f"/api/v1/cases/{third_case.pk}/takedowns/send/", {"ids": [late["id"]]}, format="json")
    shown_late = api_c.get(f"/api/v1/takedowns/{late['id']}/").json()
    assert shown_late["status"] == "removed" and shown_late["removed_at"] == original["removed_at"]

    # The platform's figures hold the original alone: one request, one removal, as before the
    # followers came (two followers with a removal time would make three and three).
    figures = _figures(api_for(supervisor))["Simulated Video"]
    assert figures_before["requests"] == figures["requests"] == 1
    assert figures_before["removed"] == 0 and figures["removed"] == 1
