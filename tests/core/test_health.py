"""/healthz and /readyz: what load balancers and docker-compose ask, answered with booleans only."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from core import health
from core.models import SystemState
from core.tasks import beat_heartbeat
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_answers(settings):
    """Every check asked afresh: the per-process cache would hide the change a test makes."""
    settings.READY_CACHE_S = 0
    health.clear_cache()
    yield
    health.clear_cache()


def _only_booleans(body: dict) -> None:
    assert set(body) == {"status", "checks", "background", "strict"}
    for group in ("checks", "background"):
        assert all(value is None or isinstance(value, bool) for value in body[group].values()), body


def test_healthz_answers_without_touching_anything() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_storage_and_reports_the_background() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    _only_booleans(body)
    assert body["checks"] == {"database": True, "redis": True, "storage": True}
    # No worker runs in this test and beat never ran: reported, but the web process stays in.
    assert body["background"] == {"worker": False, "beat": False}
    assert body["status"] == "ok"
    assert response["Cache-Control"] == "no-store"


def test_strict_readiness_also_needs_the_worker_and_beat() -> None:
    response = Client().get("/readyz?strict=1")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_beat_counts_as_late_after_the_configured_age(settings) -> None:
    beat_heartbeat()  # what the worker runs every minute when beat queues it
    assert Client().get("/readyz").json()["background"]["beat"] is True
    settings.READY_BEAT_MAX_AGE_S = 0
    assert Client().get("/readyz").json()["background"]["beat"] is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_strict_readiness_passes_with_a_worker_and_a_fresh_heartbeat(celery_worker_process) -> None:
    beat_heartbeat.delay()  # a real worker runs it: broker, worker and database all work
    wait_until(lambda: SystemState.objects.filter(key="beat_heartbeat").exists())
    response = Client().get("/readyz?strict=1")
    # The strict answer also says that no queue waits without a worker and no notice is stuck.
    assert response.json()["background"] == {"worker": True, "beat": True, "queues": True, "outbox": True}
    assert response.json()["queues_without_consumer"] == [] and response.json()["stuck_notices"] == 0
    assert response.status_code == 200


def test_readiness_turns_unhealthy_when_redis_stops_and_healthy_when_it_returns(
    private_redis, settings, caplog, monkeypatch
) -> None:
    port, state, start = private_redis
    monkeypatch.setattr(health, "_last_failing", frozenset())  # what an earlier test left in this process
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    client = Client()
    assert client.get("/readyz").status_code == 200

    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10, check=False)
    state["proc"].wait(timeout=10)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": True, "redis": False, "storage": True}
    assert body["background"]["worker"] is False  # no broker, no worker: not even asked
    # A load balancer polling the failing probe: one warning naming what fails, not one error per poll.
    for _ in range(3):
        assert client.get("/readyz").status_code == 503
    errors = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert errors == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.health" and r.levelname == "WARNING"]
    assert len([w for w in warnings if "redis" in w]) == 1

    state["proc"] = start()
    wait_until(lambda: client.get("/readyz").status_code == 200, timeout=15, interval=0.2)
    assert client.get("/readyz").json()["checks"]["redis"] is True


def test_readiness_fails_when_evidence_storage_cannot_be_written(settings, tmp_path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage expects a folder")
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(blocker)}},
    }
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] is False


def test_storage_probe_leaves_nothing_behind(settings) -> None:
    assert health.check_storage() is True
    probes = settings.EVIDENCE_ROOT / health.HEALTH_PREFIX
    assert not probes.exists() or not any(probes.iterdir())
