"""Threat: outbound requests announce the centre.

A site that hosts intimate material sees every request the system makes for it. When capture,
re-checks and the look before the first notice say who they are (a User-Agent naming a victim
support centre and a takedown system), the site can tell the centre from its visitors: serve it a
404 while the material stays up for everyone else (so the request is wrongly closed as removed and
no notice goes out), hide evidence from the capture, or learn that a victim has gone to the centre.

Control: core/http.py fetches material pages with the BROWSER profile (the default): a common
desktop browser's User-Agent (settings OUTBOUND_BROWSER_USER_AGENT / OUTBOUND_BROWSER_USER_AGENTS)
with a browser's Accept, Accept-Language and Accept-Encoding, and no header that names the centre
or the software. Only notices and status polls to a platform's notice API use the CENTRE profile:
there the centre speaks openly (docs/outbound-http.md, "Who the request says it is").

These tests run a real worker against the platform simulator on 127.0.0.1, whose page cloaks: it
answers 404 to any client that looks automated or names itself, and the page to browsers.
"""

from __future__ import annotations

import pytest

from cases.models import CaseEvent
from core import http
from evidence import services as evidence_services
from evidence.models import CaptureRequest
from takedowns import services
from takedowns.models import TakedownRequest
from tests import factories, media
from tests.conftest import SIM_SECRET, clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.evidence.helpers import add_image
from tools.platform_sim import looks_automated

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

IDENTIFYING = ("victimsupport", "support centre", "takedown", "evidence", "python", "urllib")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, smtp_sink):
    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port, REMOVAL_CONFIRM_DELAY_S="1"), "test-outbound-identity.log")
    yield proc
    stop_process(proc)


@pytest.fixture
def platform(simulator, db):
    return services.platform_create(
        acting_user=None, name="Cloaking Video", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret=SIM_SECRET, jurisdiction="KR", sla_hours=24, notice_language="ko",
    )  # fmt: skip


def _cloaked_post(simulator, path: str, seed: int) -> tuple[bytes, str]:
    """A post whose page and image answer 404 to anything that looks like a crawler or names itself."""
    image = media.image_bytes("JPEG", seed=seed)
    simulator.host_file(f"{path}.jpg", image, "image/jpeg")
    url = simulator.host_page(path, f'<html><body><h1>post</h1><img src="{path}.jpg"></body></html>')
    simulator.cloak(path, "identifying")
    simulator.cloak(f"{path}.jpg", "identifying")
    return image, url


def _case(user):
    return factories.make_case(user, consent={"takedown": True, "hash_sharing": True})


def _page_requests(simulator, prefix: str) -> list[dict]:
    return [e for e in simulator.requests_log if e["path"].startswith(prefix) and e["method"] == "GET"]


def _assert_names_nobody(entry: dict) -> None:
    headers = dict(entry["headers"])
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["user-agent"].startswith("Mozilla/5.0 ("), lowered["user-agent"]
    assert lowered.get("accept-language")
    assert "text/html" in lowered.get("accept", "")
    assert "from" not in lowered
    assert not [k for k in lowered if k.startswith("x-")]
    text = " ".join(f"{k}: {v}" for k, v in headers.items()).lower()
    assert not [word for word in IDENTIFYING if word in text], headers
    assert not looks_automated(headers)


def test_a_recheck_looks_like_a_browser_and_is_not_fooled_by_a_page_hidden_from_the_centre(
    worker, simulator, platform, caseworker, api_for, tmp_path
) -> None:
    case = _case(caseworker)
    _image, url = _cloaked_post(simulator, "/cloak/recheck", seed=301)
    evidence = add_image(case, caseworker, tmp_path, seed=301)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker, evidence_ids=[evidence.pk])
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)

    api = api_for(caseworker)
    assert api.post(f"/api/v1/takedowns/{request.pk}/recheck/").status_code == 202
    body = wait_until(lambda: (b := api.get(f"/api/v1/takedowns/{request.pk}/").json())["checks"] and b, timeout=30)
    # The page and its image answered the re-check as they answer a visitor: the material is still up.
    assert body["checks"][-1]["outcome"] == "still_up", body["checks"]
    assert body["status"] == "sent" and body["removed_at"] is None and body["removal_seen_at"] is None
    fetched = _page_requests(simulator, "/cloak/recheck")
    assert {e["path"] for e in fetched} == {"/cloak/recheck", "/cloak/recheck.jpg"}
    assert all(e["status"] == 200 for e in fetched)
    for entry in fetched:
        _assert_names_nobody(entry)


def test_the_look_before_the_first_notice_names_nobody_and_the_notice_itself_names_the_centre(
    worker, simulator, platform, caseworker, tmp_path
) -> None:
    case = _case(caseworker)
    _image, url = _cloaked_post(simulator, "/cloak/first", seed=302)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    # The page was there for a browser, so the notice went out (not "gone before a notice was needed").
    [notice] = simulator.wait_for_notices(1, timeout=30)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    assert not CaseEvent.objects.filter(case=case, data__status="unavailable").exists()
    [look] = _page_requests(simulator, "/cloak/first")
    assert look["status"] == 200
    _assert_names_nobody(look)
    # The notice to the platform's API is the centre speaking openly: it says who sends it.
    sent_headers = {k.lower(): v for k, v in notice["headers"].items()}
    assert sent_headers["user-agent"] == http.DEFAULT_USER_AGENT


def test_a_capture_gets_the_page_a_visitor_sees(worker, simulator, caseworker) -> None:
    case = _case(caseworker)
    _image, url = _cloaked_post(simulator, "/cloak/capture", seed=303)
    [row] = evidence_services.capture_request(case=case, urls=[url], acting_user=caseworker)
    wait_until(lambda: CaptureRequest.objects.get(pk=row.pk).status == "done", timeout=30)
    row.refresh_from_db()
    # The page (200) and its image were preserved, not a 404 page shown only to the centre.
    assert row.http_status == 200
    assert (row.media_found, row.media_stored) == (1, 1), row.error
    fetched = _page_requests(simulator, "/cloak/capture")
    assert fetched and all(e["status"] == 200 for e in fetched)
    for entry in fetched:
        _assert_names_nobody(entry)


def test_the_client_sends_browser_headers_by_default_and_the_centre_only_when_told(simulator, settings) -> None:
    settings.OUTBOUND_BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    url = simulator.host_page("/cloak/plain", "<html><body>hello</body></html>")
    simulator.cloak("/cloak/plain", "identifying")
    assert http.request("GET", url).status == 200
    assert http.request("GET", url, profile=http.CENTRE).status == 404  # the old client, as a cloaking site sees it
    browser, centre = _page_requests(simulator, "/cloak/plain")
    _assert_names_nobody(browser)
    assert dict(browser["headers"])["User-Agent"] == settings.OUTBOUND_BROWSER_USER_AGENT
    assert dict(centre["headers"])["User-Agent"] == http.DEFAULT_USER_AGENT
