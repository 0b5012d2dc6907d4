"""End to end with a real worker, real HTTP to the platform simulator and real SMTP."""

from __future__ import annotations

import hashlib

import pytest

from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests import media
from tests.conftest import clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.evidence.helpers import add_image
from tests.takedowns.conftest import consenting_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def fast_worker(django_db_setup, django_db_blocker, smtp_sink):
    """A worker whose retries come quickly, so backoff can be watched in a test."""

    clear_queues()
    proc = start_celery(
        "worker", worker_env(smtp_sink.port, NOTICE_RETRY_BASE_S="1", NOTICE_RETRY_MAX_S="2"), "test-fast-worker.log"
    )
    yield proc
    stop_process(proc)


def _host_post(simulator, path: str, seed: int) -> tuple[bytes, str]:
    image = media.image_bytes("JPEG", seed=seed)
    simulator.host_file(f"{path}.jpg", image, "image/jpeg")
    simulator.host_page(path, f'<html><body><h1>post</h1><img src="{path}.jpg"></body></html>')
    return image, f"{simulator.url}{path}"


def _status(api, pk) -> dict:
    return api.get(f"/api/v1/takedowns/{pk}/").json()


def test_api_notice_delivered_ticket_recorded_then_removed_by_our_check(
    fast_worker, simulator, sim_platform, caseworker, api_for, tmp_path
) -> None:
    case = consenting_case(caseworker)
    image, url = _host_post(simulator, "/p/1", seed=71)
    evidence_path = tmp_path / "same.jpg"
    evidence_path.write_bytes(image)
    from evidence import services as evidence_services

    evidence = evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=evidence_path, name="same.jpg"), acting_user=caseworker
    )
    api = api_for(caseworker)
    created = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url, "evidence": [evidence.pk]}, format="json").json()
    sent = api.post(f"/api/v1/takedowns/{created['id']}/send/", {}, format="json")
    assert sent.status_code == 202
    assert sent.json()["status"] == "queued"
    body = wait_until(lambda: (b := _status(api, created["id"]))["status"] == "sent" and b, timeout=30)
    assert body["ticket"]
    assert body["sent_at"] and body["deadline"]
    assert body["attempts"][-1]["outcome"] == "delivered"
    assert body["attempts"][-1]["http_status"] == 202
    [received] = simulator.notices
    notice = Notice.objects.get(request_id=created["id"])
    assert received["body"]["notice_id"] == str(notice.idempotency_key)
    assert received["body"]["url"] == url
    assert received["body"]["case_reference"] == case.reference
    assert {"algorithm": "pdq", "value": evidence.fingerprints.get(algorithm="pdq", mirrored=False).value} in received["body"][
        "fingerprints"
    ]
    assert hashlib.sha256(image).hexdigest() not in str(received)  # never the image, nor its bytes

    # Still there: the check says so, with distance 0 (identical bytes).
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    body = wait_until(lambda: (b := _status(api, created["id"]))["checks"] and b, timeout=30)
    assert body["checks"][-1]["outcome"] == "still_up"
    assert body["checks"][-1]["distance"] == 0
    assert body["status"] == "sent"

    # The platform removes it; only our own check marks the request removed.
    simulator.remove("/p/1", status=410)
    api.post(f"/api/v1/takedowns/{created['id']}/recheck/")
    body = wait_until(lambda: (b := _status(api, created["id"]))["status"] == "removed" and b, timeout=30)
    assert body["removed_at"]
    assert body["checks"][-1]["outcome"] == "removed"
    assert body["checks"][-1]["http_status"] == 410
    request = TakedownRequest.objects.get(pk=created["id"])
    assert request.watch_until and request.next_check_at  # watched for reappearance


def test_email_notice_reaches_the_mail_sink_with_a_reference(
    fast_worker, simulator, smtp_sink, mail_platform, caseworker
) -> None:
    case = consenting_case(caseworker)
    _image, url = _host_post(simulator, "/m/1", seed=72)
    url = url.replace("127.0.0.1", "localhost")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    assert request.platform == mail_platform
    services.takedown_approve(requests=[request], acting_user=caseworker)
    message = smtp_sink.wait_for(lambda m: "abuse@mailhost.example" in str(m["To"]), timeout=30)
    assert f"[{case.reference}/T{request.pk}]" in str(message["Subject"])
    assert url in message.get_content()
    notice = Notice.objects.get(request=request)
    assert str(notice.idempotency_key) in str(message["Message-ID"])
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=15)


def test_rate_limit_is_honoured(fast_worker, simulator, sim_platform, caseworker) -> None:
    case = consenting_case(caseworker)
    _image, url = _host_post(simulator, "/r/1", seed=73)
    simulator.behave(url, "rate_limit", retry_after=2, times=1)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    attempts = list(Notice.objects.get(request=request).attempts_log.order_by("at"))
    assert [a.outcome for a in attempts] == ["rate_limited", "delivered"]
    assert attempts[0].http_status == 429
    assert (attempts[1].at - attempts[0].at).total_seconds() >= 1.9


def test_server_errors_are_retried_with_backoff(fast_worker, simulator, sim_platform, caseworker) -> None:
    case = consenting_case(caseworker)
    _image, url = _host_post(simulator, "/f/1", seed=74)
    simulator.behave(url, "fail", times=2)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=45)
    notice = Notice.objects.get(request=request)
    assert [a.outcome for a in notice.attempts_log.order_by("at")] == ["retry", "retry", "delivered"]
    assert [a.http_status for a in notice.attempts_log.order_by("at")] == [500, 500, 202]
    assert len(simulator.unique_notices()) == 1


def test_permanent_rejection_fails_with_the_platforms_message(fast_worker, simulator, sim_platform, caseworker) -> None:
    case = consenting_case(caseworker)
    _image, url = _host_post(simulator, "/x/1", seed=75)
    simulator.behave(url, "reject", message="We need a court order for this content.")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "failed", timeout=30)
    request.refresh_from_db()
    assert "court order" in request.platform_message
    notice = Notice.objects.get(request=request)
    assert notice.status == "failed"
    assert notice.attempts_log.count() == 1


@pytest.mark.parametrize(("mode", "expected"), [("soft_remove", "removed"), ("login_wall", "inconclusive")])
def test_soft_removal_and_login_walls(fast_worker, simulator, sim_platform, caseworker, tmp_path, mode, expected) -> None:
    from takedowns.rechecks import run

    case = consenting_case(caseworker)
    image, url = _host_post(simulator, f"/s/{mode}", seed=76)
    evidence = add_image(case, caseworker, tmp_path, seed=76)
    request = services.takedown_create(case=case, url=url, acting_user=caseworker, evidence_ids=[evidence.pk])
    assert evidence.sha256 == hashlib.sha256(image).hexdigest()
    simulator.behave(url, mode, delay_s=0)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    wait_until(lambda: run(request.pk) == expected, timeout=10, interval=0.5)
    if expected == "removed":
        # One look found it gone; the worker's second look (a new connection) confirms it.
        wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "removed", timeout=30)
    request.refresh_from_db()
    assert request.status == ("removed" if expected == "removed" else "sent")


def test_status_polling_records_acknowledgement_and_rejection(fast_worker, simulator, sim_platform, caseworker) -> None:
    case = consenting_case(caseworker)
    first = services.takedown_create(case=case, url=_host_post(simulator, "/t/1", seed=77)[1], acting_user=caseworker)
    second = services.takedown_create(case=case, url=_host_post(simulator, "/t/2", seed=78)[1], acting_user=caseworker)
    services.takedown_approve(requests=[first, second], acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.filter(pk__in=[first.pk, second.pk], status="sent").count() == 2, timeout=30)
    first.refresh_from_db()
    second.refresh_from_db()
    simulator.set_ticket_status(first.ticket, "removed")
    simulator.set_ticket_status(second.ticket, "rejected", reason="Not against our terms.")
    assert services.poll_status(first.pk) == "removed"
    assert services.poll_status(second.pk) == "rejected"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "acknowledged"  # the platform's word is not removal
    assert first.acknowledged_at is not None
    assert first.removed_at is None
    assert second.status == "rejected"
    assert second.platform_message == "Not against our terms."


def test_scheduled_rechecks_run_in_batches(fast_worker, simulator, sim_platform, caseworker, tmp_path) -> None:
    from django.utils import timezone

    from takedowns.models import Check

    case = consenting_case(caseworker)
    urls = [_host_post(simulator, f"/batch/{i}", seed=80)[1] for i in range(5)]
    evidence = add_image(case, caseworker, tmp_path, seed=80)
    created = services.takedown_bulk_create(case=case, urls=urls, acting_user=caseworker, evidence_ids=[evidence.pk]).created
    services.takedown_approve(requests=created, acting_user=caseworker)
    wait_until(lambda: TakedownRequest.objects.filter(case=case, status="sent").count() == 5, timeout=30)
    simulator.remove("/batch/0", status=404)
    TakedownRequest.objects.filter(case=case).update(next_check_at=timezone.now())
    assert services.schedule_due_checks() == 5
    first_looks = Check.objects.filter(request__case=case, second_look=False)
    wait_until(lambda: first_looks.count() == 5, timeout=30)
    outcomes = dict(first_looks.values_list("request__url", "outcome"))
    assert outcomes[urls[0]] == "removed"
    assert sorted(outcomes.values()) == ["removed", "still_up", "still_up", "still_up", "still_up"]
    # The removal stands once the second look (queued by the batch, over a new connection) agrees.
    wait_until(lambda: TakedownRequest.objects.get(case=case, url=urls[0]).status == "removed", timeout=30)
    assert Check.objects.filter(request__case=case, second_look=True).count() == 1
