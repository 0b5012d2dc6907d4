"""Threat: a page answers "gone" to the centre's check alone, and the request is closed as removed.

A host that wants to keep material up while looking compliant answers 404 to whatever it takes for
the centre's check (one User-Agent, one client pattern) and serves the material to everyone else.
One look was enough to mark a request removed (or, before the first notice, "gone before a notice
was needed", so no notice went out at all): the platform counted as compliant, notices stopped and
the victim was told the material was gone.

Control: a look that finds the page gone is only a first look. The request keeps its status
(removal_seen_at records the look) and a second look is queued REMOVAL_CONFIRM_DELAY_S later (300 s
by default), over a new connection with another browser's User-Agent (core.http fresh=True). Only
when it agrees is the request removed (removed_at, or unavailable_at, is the first look's time) or
unavailable. When the second look finds the material, the first look is recorded as a suspected
cloak: a case timeline entry, the audit event takedown.cloak_suspected, and cloak_suspected_at /
cloak_suspicions on the request (API and the compliance drill-down "Suspected cloaking"); the request
goes on (takedowns/services.py _apply_check and record_results, takedowns/rechecks.py,
takedowns/liveness.py; docs/takedowns.md, "Removal confirmation").

Real worker, real HTTP to the platform simulator on 127.0.0.1, whose page answers 404 to the
centre's main browser User-Agent only.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent
from core import http
from core.models import AuditEvent
from takedowns import services
from takedowns.models import Check, Notice, TakedownRequest
from tests import factories, media
from tests.conftest import SIM_SECRET, clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.evidence.helpers import add_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

DELAY_S = 3


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, smtp_sink):
    clear_queues()
    env = worker_env(
        smtp_sink.port,
        REMOVAL_CONFIRM_DELAY_S=str(DELAY_S),
        REMOVAL_CONFIRM_ASKED_DELAY_S=str(DELAY_S),
        NOTICE_RETRY_BASE_S="1",
        NOTICE_RETRY_MAX_S="2",
    )
    proc = start_celery("worker", env, "test-removal-cloaking.log")
    yield proc
    stop_process(proc)


@pytest.fixture
def platform(simulator, db, settings):
    settings.REMOVAL_CONFIRM_DELAY_S = DELAY_S  # the same as the worker's, for what this process schedules
    settings.REMOVAL_CONFIRM_ASKED_DELAY_S = DELAY_S
    return services.platform_create(
        acting_user=None, name="Cloaking Video", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret=SIM_SECRET, jurisdiction="KR", sla_hours=24, notice_language="ko",
    )  # fmt: skip


def _post(simulator, path: str, seed: int) -> str:
    image = media.image_bytes("JPEG", seed=seed)
    simulator.host_file(f"{path}.jpg", image, "image/jpeg")
    return simulator.host_page(path, f'<html><body><h1>post</h1><img src="{path}.jpg"></body></html>')


def _hide_from_the_main_browser(simulator, path: str) -> None:
    """The site has learnt the pattern of the centre's usual requests (its User-Agent) and 404s it alone."""
    main = http.browser_user_agents()[0]
    simulator.cloak(path, "user_agent", user_agents=[main])
    simulator.cloak(f"{path}.jpg", "user_agent", user_agents=[main])


def _sent_request(simulator, platform, caseworker, tmp_path, path: str, seed: int) -> TakedownRequest:
    case = factories.make_case(caseworker, consent={"takedown": True, "hash_sharing": True})
    url = _post(simulator, path, seed)
    evidence = add_image(case, caseworker, tmp_path, seed=seed)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker, evidence_ids=[evidence.pk])
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    return request


def _gets(simulator, path: str) -> list[dict]:
    return [e for e in simulator.requests_log if e["path"] == path and e["method"] == "GET"]


def test_a_page_hidden_from_one_fetch_pattern_is_not_marked_removed(
    worker, simulator, platform, caseworker, supervisor, api_for, client_for, tmp_path
) -> None:
    request = _sent_request(simulator, platform, caseworker, tmp_path, "/cl/recheck", seed=311)
    _hide_from_the_main_browser(simulator, "/cl/recheck")
    before = len(_gets(simulator, "/cl/recheck"))
    api = api_for(caseworker)
    assert api.post(f"/api/v1/takedowns/{request.pk}/recheck/").status_code == 202

    # The first look got the 404: that alone changes no status.
    first = wait_until(lambda: Check.objects.filter(request=request).first(), timeout=30)
    assert (first.outcome, first.http_status, first.second_look) == ("removed", 404, False)
    body = api.get(f"/api/v1/takedowns/{request.pk}/").json()
    assert body["status"] == "sent" and body["removed_at"] is None
    assert body["removal_seen_at"] is not None

    # The second look, a few seconds later (here), finds the material: not removed, cloaking suspected.
    second = wait_until(lambda: Check.objects.filter(request=request, second_look=True).first(), timeout=30)
    assert second.outcome == "still_up"
    assert (second.at - first.at).total_seconds() >= DELAY_S
    body = api.get(f"/api/v1/takedowns/{request.pk}/").json()
    assert body["status"] == "sent" and body["removed_at"] is None and body["removal_seen_at"] is None
    assert body["cloak_suspected_at"] is not None and body["cloak_suspicions"] == 1

    # Over a new connection, as another browser.
    looks = _gets(simulator, "/cl/recheck")[before:]
    assert [e["status"] for e in looks] == [404, 200]
    assert looks[0]["connection"] != looks[1]["connection"]
    assert dict(looks[0]["headers"])["User-Agent"] != dict(looks[1]["headers"])["User-Agent"]
    assert dict(looks[1]["headers"]).get("Connection") == "close"

    # The caseworker, the audit log and the compliance analysts can all see it.
    assert CaseEvent.objects.filter(case=request.case, data__status="cloak_suspected").exists()
    assert AuditEvent.objects.filter(action="takedown.cloak_suspected", object_id=str(request.pk)).exists()
    case_page = client_for(caseworker).get(f"/cases/{request.case_id}/").content.decode()
    assert "suspected cloaking" in case_page
    detail = client_for(caseworker).get(f"/takedowns/{request.pk}/").content.decode()
    assert "Suspected cloaking: the page looked gone to one check" in detail
    drill = client_for(supervisor).get("/compliance/requests/?figure=cloaked")
    assert drill.status_code == 200
    assert "Suspected cloaking" in drill.content.decode()
    assert f"<td>{request.pk}</td>" in drill.content.decode()


def test_a_real_removal_is_confirmed_by_a_second_look_and_dated_by_the_first(
    worker, simulator, platform, caseworker, api_for, tmp_path
) -> None:
    request = _sent_request(simulator, platform, caseworker, tmp_path, "/cl/gone", seed=312)
    simulator.remove("/cl/gone", status=410)
    api = api_for(caseworker)
    api.post(f"/api/v1/takedowns/{request.pk}/recheck/")
    first = wait_until(lambda: Check.objects.filter(request=request).first(), timeout=30)
    assert first.outcome == "removed" and not first.second_look
    assert TakedownRequest.objects.get(pk=request.pk).status == "sent"  # not yet
    body = wait_until(lambda: (b := api.get(f"/api/v1/takedowns/{request.pk}/").json())["status"] == "removed" and b, 30)
    second = Check.objects.get(request=request, second_look=True)
    assert second.outcome == "removed"
    request.refresh_from_db()
    assert abs((request.removed_at - first.at).total_seconds()) < 1  # the first look's time, not the second's
    assert body["cloak_suspected_at"] is None
    looks = _gets(simulator, "/cl/gone")[-2:]
    assert [e["status"] for e in looks] == [410, 410]
    assert looks[0]["connection"] != looks[1]["connection"]


def test_a_page_hidden_from_the_look_before_the_first_notice_still_gets_its_notice(
    worker, simulator, platform, caseworker, tmp_path
) -> None:
    case = factories.make_case(caseworker, consent={"takedown": True, "hash_sharing": True})
    url = _post(simulator, "/cl/first", seed=313)
    _hide_from_the_main_browser(simulator, "/cl/first")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    # The first look got a 404; the notice waited for the second look, which found the page: it went.
    [notice] = simulator.wait_for_notices(1, timeout=30)
    assert notice["body"]["url"] == url
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    request.refresh_from_db()
    assert request.unavailable_at is None and request.cloak_suspicions == 1
    assert CaseEvent.objects.filter(case=case, data__status="cloak_suspected").exists()
    looks = _gets(simulator, "/cl/first")
    assert [e["status"] for e in looks] == [404, 200]
    assert looks[0]["connection"] != looks[1]["connection"]
    assert Notice.objects.get(request=request).attempts_log.filter(outcome="delivered").count() == 1


def test_a_page_really_gone_before_the_first_notice_ends_unavailable_after_the_second_look(
    worker, simulator, platform, caseworker
) -> None:
    case = factories.make_case(caseworker, consent={"takedown": True, "hash_sharing": True})
    url = f"{simulator.url}/cl/never-there"
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).removal_seen_at is not None, timeout=30)
    assert TakedownRequest.objects.get(pk=request.pk).status == "queued"  # held, not yet unavailable
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "unavailable", timeout=30)
    request.refresh_from_db()
    looks = _gets(simulator, "/cl/never-there")
    assert [e["status"] for e in looks] == [404, 404]
    assert looks[1]["at"] - looks[0]["at"] >= DELAY_S
    assert request.unavailable_at is not None and request.removal_seen_at is None
    assert abs(request.unavailable_at.timestamp() - looks[0]["at"]) < 2  # dated by the first look
    assert simulator.notice_count() == 0


def test_a_check_someone_asked_for_is_confirmed_within_seconds_the_schedules_after_minutes(caseworker, settings) -> None:
    """A person (or an API client) who asks for a re-check waits for its answer: their second look
    comes REMOVAL_CONFIRM_ASKED_DELAY_S later; the schedule's own looks wait REMOVAL_CONFIRM_DELAY_S
    (minutes). Either way the removal is believed only when a second look agrees."""
    settings.REMOVAL_CONFIRM_DELAY_S, settings.REMOVAL_CONFIRM_ASKED_DELAY_S = 300, 10
    case = factories.make_case(caseworker, consent={"takedown": True})
    asked = services.takedown_create(case=case, url="https://a.example/asked", acting_user=caseworker)
    scheduled = services.takedown_create(case=case, url="https://a.example/scheduled", acting_user=caseworker)
    TakedownRequest.objects.filter(pk__in=[asked.pk, scheduled.pk]).update(status="sent", sent_at=timezone.now())
    for request, was_asked in ((asked, True), (scheduled, False)):
        services.record_check(request.pk, "removed", http_status=404, distance=None, detail="gone", asked=was_asked)
    asked.refresh_from_db()
    scheduled.refresh_from_db()
    assert asked.status == scheduled.status == "sent"  # one look is not enough
    assert 9 <= (asked.next_check_at - asked.removal_seen_at).total_seconds() <= 11
    assert 299 <= (scheduled.next_check_at - scheduled.removal_seen_at).total_seconds() <= 301
    # Eleven seconds on, a second look (a new connection, another browser) confirms either.
    later = timezone.now() + timedelta(seconds=11)
    assert services.second_look_due(asked, later) and services.second_look_due(scheduled, later)
    assert not services.second_look_due(asked, timezone.now())
