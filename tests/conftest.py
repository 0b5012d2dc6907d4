from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import Centre
from tests import factories


@pytest.fixture
def central(db: None) -> Centre:
    return factories.make_centre(central=True)


@pytest.fixture
def region(db: None) -> Centre:
    return factories.make_centre("busan")


@pytest.fixture
def caseworker(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_a")


@pytest.fixture
def caseworker_b(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_b")


@pytest.fixture
def supervisor(central: Centre) -> factories.User:
    return factories.make_user("supervisor", central, username="sup_central")


@pytest.fixture
def other_supervisor(region: Centre) -> factories.User:
    return factories.make_user("supervisor", region, username="sup_busan")


@pytest.fixture
def client_for():
    def make(user: factories.User) -> Client:
        return factories.login_verified(Client(), user)

    return make


@pytest.fixture
def api_for():
    def make(user: factories.User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {factories.issue_token(user)}")
        return client

    return make


# Real services ------------------------------------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from django.conf import settings  # noqa: E402

from tools.smtp_sink import SmtpSink  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, smtp_sink):
    """A real `celery -A config worker` on Redis, using the test database and the SMTP sink."""
    import redis

    broker = settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": database_url,
        "TEST_REDIS_URL": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_sink.port),
    }
    log = open(ROOT / "var" / "test-worker.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "celery,notices",
            "--pool",
            "solo",
            "-l",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in (ROOT / "var" / "test-worker.log").read_text(errors="replace"):
            break
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited at start-up; see var/test-worker.log")
        time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("the Celery worker did not become ready in 60 s; see var/test-worker.log")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
