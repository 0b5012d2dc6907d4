"""/metrics: Prometheus text for operators, behind a token or an administrator's verified session."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import audit, health
from core.models import TaskFailure
from takedowns import services
from takedowns.models import Notice, TakedownRequest
from takedowns.transports import Result
from tests import factories
from tests.conftest import clear_queues

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _scrape(settings) -> dict:
    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return _samples(response.content.decode())


def test_metrics_need_the_token_or_a_verified_administrator(settings, client_for, caseworker, central) -> None:
    settings.METRICS_TOKEN = TOKEN
    anonymous = Client()
    assert anonymous.get("/metrics").status_code == 404  # not a redirect to sign-in: nothing is there
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 404
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 404
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client_for(caseworker).get("/metrics").status_code == 404
    auditor = factories.make_user("auditor", central)
    assert client_for(auditor).get("/metrics").status_code == 404
    admin = factories.make_user("admin", central)
    assert client_for(admin).get("/metrics").status_code == 200
    half_signed_in = Client()
    half_signed_in.force_login(admin)  # password only, no second factor
    assert half_signed_in.get("/metrics").status_code == 404


def test_an_empty_token_setting_opens_nothing(settings) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer").status_code == 404


def _approved_requests(caseworker, count: int) -> list[TakedownRequest]:
    platform = services.platform_create(
        acting_user=None, name="Metrics Mail Host", domains=["metrics.example"], channel="email",
        email="abuse@metrics.example", jurisdiction="UK",
    )  # fmt: skip
    case = factories.make_case(caseworker, consent={"takedown": True})
    requests = [
        services.takedown_create(case=case, url=f"https://metrics.example/p/{i}", acting_user=caseworker) for i in range(count)
    ]
    services.takedown_approve(requests=requests, acting_user=caseworker)
    assert all(r.platform_id == platform.pk for r in TakedownRequest.objects.filter(pk__in=[r.pk for r in requests]))
    return requests


def test_outbox_rechecks_and_deadlines_are_counted(settings, caseworker) -> None:
    requests = _approved_requests(caseworker, 5)
    notices = list(Notice.objects.filter(request__in=requests).order_by("pk"))
    delivered, failed, crashed, waiting, fresh = notices
    # Delivered and failed through the outbox's own claim and record steps.
    assert services._claim([delivered.pk, failed.pk]) == [delivered.pk, failed.pk]
    services.record_results(
        [(delivered, Result("delivered"), 10), (failed, Result("failed", http_status=400, detail="refused by the platform"), 10)]
    )
    # Time travel: a claim whose worker died long ago, and a notice due for an hour.
    long_ago = timezone.now() - timedelta(hours=1)
    services._claim([crashed.pk])
    Notice.objects.filter(pk=crashed.pk).update(claimed_at=long_ago)
    Notice.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    # The delivered one is overdue and was re-checked: still up, then a second request removed.
    TakedownRequest.objects.filter(pk=delivered.request_id).update(deadline=long_ago)
    services.record_check(delivered.request_id, "still_up", http_status=200, distance=0, detail="")
    services.record_check(delivered.request_id, "still_up", http_status=200, distance=0, detail="")

    samples = _scrape(settings)
    assert _value(samples, "victimsupport_notices", status="delivered") == 1
    assert _value(samples, "victimsupport_notices", status="failed") == 1
    assert _value(samples, "victimsupport_notices", status="sending") == 1
    assert _value(samples, "victimsupport_notices", status="pending") == 2
    assert _value(samples, "victimsupport_notices_failed_open") == 1
    assert _value(samples, "victimsupport_outbox_stuck") == 2  # the crashed claim and the hour-long wait
    assert 3500 < _value(samples, "victimsupport_outbox_oldest_due_seconds") < 3700
    assert _value(samples, "victimsupport_rechecks_last_hour", outcome="still_up") == 2
    assert _value(samples, "victimsupport_rechecks_last_hour", outcome="removed") == 0
    assert _value(samples, "victimsupport_requests_overdue") == 1
    assert _value(samples, "victimsupport_compliance_rollup_pending") >= 1  # the requests above changed hours
    from takedowns import rollup

    rollup.refresh()
    assert _value(_scrape(settings), "victimsupport_compliance_rollup_pending") == 0
    assert fresh.status == "pending"
    # Every collector ran.
    assert all(v == 0 for (name, _labels), v in samples.items() if name == "victimsupport_metrics_collector_errors")


def test_queue_lengths_come_from_this_installations_redis_keys(settings) -> None:
    from config.celery import app

    clear_queues()
    health.clear_cache()  # no earlier test's answer about which workers consume what
    try:
        for switch in range(3):
            app.send_task("tests.fail_while_asked", args=[switch])  # no worker listens in this module
        app.send_task("takedowns.tasks.deliver_notice", args=[0])  # routed to the notices queue
        samples = _scrape(settings)
        assert _value(samples, "victimsupport_queue_length", queue="celery") == 3
        assert _value(samples, "victimsupport_queue_length", queue="notices") == 1
        # No worker at all: both queues wait with nobody to take their work.
        assert _value(samples, "victimsupport_queue_without_consumer", queue="celery") == 1
        assert _value(samples, "victimsupport_queue_without_consumer", queue="notices") == 1
    finally:
        clear_queues()
    samples = _scrape(settings)
    assert _value(samples, "victimsupport_queue_length", queue="celery") == 0
    assert _value(samples, "victimsupport_queue_without_consumer", queue="notices") == 0


def test_system_figures_beat_audit_chain_alerts_and_open_failures(settings, central) -> None:
    from core.tasks import beat_heartbeat, verify_audit_chain_task

    factories.make_user("admin", central, email="admin@centre.example")
    beat_heartbeat()
    verify_audit_chain_task()
    for _ in range(2):
        audit.record_now("evidence.verify_failed", actor=None, object_type="evidence.evidence", object_id=1)
    TaskFailure.objects.create(
        task_name="x.y", task_id="1", exception="builtins.RuntimeError", first_failed_at=timezone.now(),
        last_failed_at=timezone.now(),
    )  # fmt: skip
    samples = _scrape(settings)
    assert 0 <= _value(samples, "victimsupport_beat_heartbeat_age_seconds") < 60
    assert _value(samples, "victimsupport_audit_chain_ok") == 1
    assert _value(samples, "victimsupport_alert_events_24h", action="audit.chain_broken") == 0
    assert _value(samples, "victimsupport_alert_events_24h", action="evidence.verify_failed") == 2
    assert _value(samples, "victimsupport_task_failures_open") == 1


def test_metric_text_holds_no_victim_data(settings, caseworker) -> None:
    requests = _approved_requests(caseworker, 1)
    settings.METRICS_TOKEN = TOKEN
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert "metrics.example" not in text
    assert requests[0].case.reference not in text
    # Label values are statuses, outcomes, queue and task names only.
    labels = set(re.findall(r'(\w+)="', text))
    assert labels <= {"status", "outcome", "queue", "task", "action", "collector"}
