"""Every queue has a worker: the plain `celery -A config worker` takes notices, and a worker that
leaves a queue out (-Q celery) is reported by /readyz?strict=1, /metrics and the failed-work page,
as are the notices left waiting (DESIGN.md: "a queue with work and no consumer is reported")."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core import health
from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests import factories
from tests.conftest import SIM_SECRET, clear_queues, start_celery, stop_process, wait_until, worker_env
from tests.takedowns.conftest import consenting_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOKEN = "metrics-token-for-queue-tests"


@pytest.fixture(autouse=True)
def fresh_answers(settings):
    """Every check asked afresh: the per-process cache would hide the worker a test starts."""
    settings.READY_CACHE_S = 0
    settings.METRICS_TOKEN = TOKEN
    health.clear_cache()
    yield
    health.clear_cache()


@pytest.fixture
def api_platform(simulator):
    return services.platform_create(
        acting_user=None, name="Queue Video", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret=SIM_SECRET, jurisdiction="KR", sla_hours=24,
    )  # fmt: skip


@pytest.fixture
def celery_only_worker(django_db_setup, django_db_blocker, smtp_sink):
    """A worker started with `-Q celery`: the mistake the plain command can no longer make."""
    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port), "test-celery-only-worker.log", queues="celery")
    yield proc
    stop_process(proc)
    clear_queues()


@pytest.fixture
def plain_worker(django_db_setup, django_db_blocker, smtp_sink):
    """A plain `celery -A config worker` for one test only. Not the module-scoped
    celery_worker_process: in random order it would still be running, and taking the notice, when
    the test of a worker without the notices queue runs."""
    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port), "test-queues-plain-worker.log")
    yield proc
    stop_process(proc)
    clear_queues()


def _metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _approve(caseworker, simulator, path: str) -> TakedownRequest:
    case = consenting_case(caseworker)
    url = simulator.host_page(path, "<html><body>post</body></html>")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    return request


def test_a_worker_without_the_notices_queue_is_reported_with_the_notice_it_leaves_waiting(
    celery_only_worker, simulator, api_platform, caseworker, central, client_for, settings
) -> None:
    settings.NOTICE_STUCK_ALERT_S = 1  # instead of waiting the default 5 minutes
    request = _approve(caseworker, simulator, "/q/1")
    # The wake-up sits in the notices queue; no worker takes it, so the notice waits.
    wait_until(lambda: (health.broker_queue_lengths() or ({}, 0))[0].get("notices", 0) >= 1, timeout=10)
    wait_until(lambda: Notice.objects.filter(request=request, status="pending").exists(), timeout=5)
    wait_until(lambda: health.stuck_notice_count() == 1, timeout=10)

    response = Client().get("/readyz?strict=1")
    assert response.status_code == 503
    body = response.json()
    assert body["background"]["worker"] is True  # a worker runs: it is just on the wrong queues
    assert body["background"]["queues"] is False
    assert body["queues_without_consumer"] == ["notices"]
    assert body["background"]["outbox"] is False
    assert body["stuck_notices"] == 1
    # The plain (load balancer's) answer stays booleans only, and this web process stays in.
    assert "queues_without_consumer" not in Client().get("/readyz").json()

    samples = _metrics()
    assert samples[("victimsupport_queue_without_consumer", (("queue", "notices"),))] == 1
    assert samples[("victimsupport_queue_without_consumer", (("queue", "celery"),))] == 0
    assert samples[("victimsupport_outbox_stuck", ())] == 1

    admin = factories.make_user("admin", central, username="queue_admin")
    html = client_for(admin).get("/ops/failed/").content.decode()
    assert "Queue “notices” holds 1 message and no running worker takes work from it." in html
    assert "<code>celery -A config worker</code>" in html
    assert "1 notice has waited more than 1 seconds to be sent." in html
    assert 'data-testid="stuck-count-notice">1<' in html
    assert TakedownRequest.objects.get(pk=request.pk).status == "queued"
    assert simulator.notices == []


def test_the_plain_worker_delivers_notices_and_nothing_is_reported(
    plain_worker, simulator, api_platform, caseworker, central, client_for
) -> None:
    request = _approve(caseworker, simulator, "/q/2")
    wait_until(lambda: TakedownRequest.objects.get(pk=request.pk).status == "sent", timeout=30)
    [received] = simulator.notices
    assert received["body"]["notice_id"] == str(Notice.objects.get(request=request).idempotency_key)

    body = Client().get("/readyz?strict=1").json()
    assert body["background"]["queues"] is True
    assert body["queues_without_consumer"] == []
    assert body["background"]["outbox"] is True
    assert body["stuck_notices"] == 0
    admin = factories.make_user("admin", central, username="queue_admin")
    html = client_for(admin).get("/ops/failed/").content.decode()
    assert "Every queue with work has a worker, and no notice is waiting too long." in html


def test_the_plain_worker_consumes_every_declared_queue(plain_worker) -> None:
    from config.celery import app

    assert health.celery_queues() == ["celery", "notices"]
    replies = app.control.inspect(timeout=2).active_queues() or {}
    assert [sorted(q["name"] for q in queues) for queues in replies.values()] == [["celery", "notices"]]
