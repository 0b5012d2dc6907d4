"""The failed-work page: failed tasks and stuck notices from a real worker, retried by an administrator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import AuditEvent, SystemState, TaskFailure
from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests import factories
from tests.conftest import SIM_SECRET, clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.takedowns.conftest import consenting_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOKEN = "metrics-token-for-failed-work-tests"


@pytest.fixture(scope="module")
def one_try_worker(django_db_setup, django_db_blocker, smtp_sink):
    """A worker that gives a notice up after one failed try, so a failure is quick to reach."""
    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port, NOTICE_MAX_ATTEMPTS="1"), "test-failed-work-worker.log")
    yield proc
    stop_process(proc)


@pytest.fixture
def api_platform(simulator):
    return services.platform_create(
        acting_user=None, name="Failing Video", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret=SIM_SECRET, jurisdiction="KR", sla_hours=24,
    )  # fmt: skip


@pytest.fixture
def admin(central):
    return factories.make_user("admin", central, username="ops_admin")


def _csrf_client(user) -> Client:
    return factories.login_verified(Client(enforce_csrf_checks=True), user)


def _csrf_token(client: Client) -> str:
    page = client.get("/ops/failed/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _switch(n: int, **value) -> None:
    SystemState.objects.update_or_create(key=f"test-switch-{n}", defaults={"value": value})


def test_a_task_failing_in_the_worker_is_listed_and_retried(
    one_try_worker, admin, caseworker, supervisor, client_for, settings
) -> None:
    from config.celery import app

    _switch(1, fail=True, contact="victim.contact@example.org", ip="203.0.113.9")
    app.send_task("tests.fail_while_asked", args=[1])
    app.send_task("tests.fail_while_asked", args=[1])
    failure = wait_until(lambda: TaskFailure.objects.filter(task_name="tests.fail_while_asked", args=[1], occurrences=2).first())
    assert failure.exception == "builtins.RuntimeError"
    assert failure.retryable
    # The message is kept short and without the address or contact it held.
    assert "asked to fail" in failure.message
    assert "victim.contact@example.org" not in failure.message
    assert "203.0.113.9" not in failure.message

    page = client_for(admin).get("/ops/failed/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "tests.fail_while_asked" in html
    assert "builtins.RuntimeError" in html
    assert 'data-testid="failure-count">1<' in html

    # Nobody else sees the page or can retry (as if there were no such page).
    for user in (caseworker, supervisor, factories.make_user("auditor", admin.centre)):
        assert client_for(user).get("/ops/failed/").status_code == 404
        assert client_for(user).post(f"/ops/failed/task/{failure.pk}/retry/").status_code == 404
    assert Client().get("/ops/failed/").status_code == 302  # to sign-in

    # Retry is a POST with the CSRF token.
    browser = _csrf_client(admin)
    assert browser.post(f"/ops/failed/task/{failure.pk}/retry/").status_code == 403
    _switch(1, fail=False)  # the cause is fixed
    response = browser.post(f"/ops/failed/task/{failure.pk}/retry/", {"csrfmiddlewaretoken": _csrf_token(browser)})
    assert response.status_code == 302
    wait_until(lambda: SystemState.objects.get(key="test-switch-1").value.get("ran") == 1)
    failure.refresh_from_db()
    assert failure.retried_by == admin
    assert failure.retry_task_id
    event = AuditEvent.objects.get(action="task.retry", object_id=str(failure.pk))
    assert event.actor_username == admin.username
    assert event.details["task"] == "tests.fail_while_asked"
    html = browser.get("/ops/failed/").content.decode()
    assert 'data-testid="failure-count">0<' in html
    assert "Sent again" in html
    # A second retry of the same failure is refused, not sent twice.
    again = browser.post(f"/ops/failed/task/{failure.pk}/retry/", {"csrfmiddlewaretoken": _csrf_token(browser)}, follow=True)
    assert "already retried or dismissed" in again.content.decode()
    assert SystemState.objects.get(key="test-switch-1").value.get("ran") == 1

    # The worker's timings reached /metrics.
    settings.METRICS_TOKEN = TOKEN
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    runs = float(re.search(r'victimsupport_task_runtime_seconds_count\{task="tests.fail_while_asked"\} (\S+)', text).group(1))
    waits = float(re.search(r'victimsupport_task_queue_wait_seconds_count\{task="tests.fail_while_asked"\} (\S+)', text).group(1))
    failed = float(re.search(r'victimsupport_task_failures_total\{task="tests.fail_while_asked"\} (\S+)', text).group(1))
    assert runs >= 3 and waits >= 3 and failed >= 2
    assert re.search(r'victimsupport_task_last_success_timestamp_seconds\{task="tests.fail_while_asked"\} \S+', text)


def test_a_task_with_other_than_ids_cannot_be_retried_but_can_be_dismissed(one_try_worker, admin, client_for) -> None:
    from config.celery import app

    _switch(2, fail=True)
    app.send_task("tests.fail_while_asked", kwargs={"switch": 2, "note": "Kim Minji's files"})
    failure = wait_until(lambda: TaskFailure.objects.filter(task_name="tests.fail_while_asked", kwargs__switch=2).first())
    assert failure.kwargs == {"switch": 2, "note": "(left out)"}
    assert not failure.retryable
    client = client_for(admin)
    html = client.get("/ops/failed/").content.decode()
    assert "Kim Minji" not in html
    assert "cannot be retried here" in html
    refused = client.post(f"/ops/failed/task/{failure.pk}/retry/", follow=True).content.decode()
    assert "cannot be sent again from here" in refused
    client.post(f"/ops/failed/task/{failure.pk}/dismiss/")
    failure.refresh_from_db()
    assert failure.dismissed_by == admin
    assert AuditEvent.objects.filter(action="task.dismiss", object_id=str(failure.pk)).exists()


def test_a_notice_that_failed_for_real_is_listed_and_sent_again(
    one_try_worker, simulator, api_platform, admin, caseworker, client_for
) -> None:
    case = consenting_case(caseworker)
    url = simulator.host_page("/fw/1", "<html><body>post</body></html>")
    simulator.behave(url, "fail", times=1)  # the platform answers 500 once
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    notice = wait_until(lambda: Notice.objects.filter(request=request, status="failed").first(), timeout=30)
    assert TakedownRequest.objects.get(pk=request.pk).status == "failed"

    client = client_for(admin)
    html = client.get("/ops/failed/").content.decode()
    assert f"Notice {notice.pk} (Notice API) to Failing Video" in html
    assert 'data-testid="stuck-count-notice">1<' in html
    assert url not in html and case.reference not in html  # administrators see no case data
    assert client_for(caseworker).post(f"/ops/failed/notice/{notice.pk}/retry/").status_code == 404

    response = client.post(f"/ops/failed/notice/{notice.pk}/retry/", follow=True)
    assert f"Notice {notice.pk} is queued to be sent again." in response.content.decode()
    wait_until(lambda: Notice.objects.get(pk=notice.pk).status == "delivered", timeout=30)
    assert TakedownRequest.objects.get(pk=request.pk).status == "sent"
    assert simulator.unique_notices() == [str(notice.idempotency_key)]  # the same key, one notice at the platform
    event = AuditEvent.objects.get(action="takedown.notice_retry")
    assert event.details == {"notice": notice.pk, "from": "failed", "attempts": 1}
    assert 'data-testid="stuck-count-notice">0<' in client.get("/ops/failed/").content.decode()


def test_a_notice_whose_worker_died_is_given_back_at_once(
    one_try_worker, simulator, api_platform, admin, caseworker, client_for
) -> None:
    case = consenting_case(caseworker)
    url = simulator.host_page("/fw/2", "<html><body>post</body></html>")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    # Approved while the broker message is lost and the notice is claimed by a worker that then
    # died: written directly, as the sweeper's own test does with a killed worker.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "wake_notices", lambda ids: 0)
        services.takedown_approve(requests=[request], acting_user=caseworker)
    notice = Notice.objects.get(request=request)
    assert services._claim([notice.pk]) == [notice.pk]
    Notice.objects.filter(pk=notice.pk).update(claimed_at=timezone.now() - timedelta(hours=2))

    client = client_for(admin)
    html = client.get("/ops/failed/").content.decode()
    assert f"Notice {notice.pk} (Notice API)" in html
    assert "Sending" in html
    client.post(f"/ops/failed/notice/{notice.pk}/retry/")
    wait_until(lambda: Notice.objects.get(pk=notice.pk).status == "delivered", timeout=30)
    assert AuditEvent.objects.get(action="takedown.notice_retry").details["from"] == "sending"


def test_a_notice_being_sent_now_is_not_taken_away(admin, caseworker, api_platform, client_for) -> None:
    case = consenting_case(caseworker)
    request = services.takedown_create(case=case, url="http://127.0.0.1:9/now", acting_user=caseworker)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "wake_notices", lambda ids: 0)
        services.takedown_approve(requests=[request], acting_user=caseworker)
    notice = Notice.objects.get(request=request)
    services._claim([notice.pk])  # claimed a moment ago by a live worker
    page = client_for(admin).post(f"/ops/failed/notice/{notice.pk}/retry/", follow=True).content.decode()
    assert "being sent right now" in page
    assert Notice.objects.get(pk=notice.pk).status == "sending"
    assert client_for(admin).post("/ops/failed/notice/999999/retry/").status_code == 404
    assert client_for(admin).post(f"/ops/failed/nothing/{notice.pk}/retry/").status_code == 404
