"""Task time limits hold in a worker started the plain way (prefork pool; docs/operations.md).

Threat: a task that never returns (a hung platform, a decoder stuck on a crafted file) holds a
worker process for good, and with it every task queued behind it. Control: CELERY_TASK_SOFT_TIME_LIMIT
and CELERY_TASK_TIME_LIMIT (config/settings/base.py); the pool kills the child at the hard limit,
the failure is recorded on the failed-work page, and the worker goes on with a fresh child. Under
`--pool solo` neither limit is enforced, which this module shows by failing.
"""

from __future__ import annotations

import pytest

from core.models import SystemState, TaskFailure
from tests.conftest import clear_queues, pool_children, start_celery, stop_process, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def short_limits_worker(django_db_setup, django_db_blocker, smtp_sink):
    clear_queues()
    env = worker_env(smtp_sink.port, CELERY_TASK_SOFT_TIME_LIMIT="1", CELERY_TASK_TIME_LIMIT="3")
    proc = start_celery("worker", env, "test-time-limits-worker.log")
    yield proc
    stop_process(proc)
    clear_queues()


def test_a_task_past_its_hard_limit_is_killed_recorded_and_the_worker_goes_on(short_limits_worker) -> None:
    from config.celery import app

    before = set(pool_children(short_limits_worker))
    app.send_task("tests.overstay", args=[7, 60])
    # The soft limit is raised inside the task first (it carries on regardless) ...
    wait_until(lambda: SystemState.objects.filter(key="test-switch-7", value__soft_limit=True).exists(), timeout=20)
    # ... then the hard limit ends it, long before its 60 s are up, and the failure is listed.
    failure = wait_until(lambda: TaskFailure.objects.filter(task_name="tests.overstay").first(), timeout=20)
    assert failure.exception.endswith("TimeLimitExceeded")
    assert failure.args == [7, 60]
    # The child that ran it is gone and replaced; the worker itself runs on and takes new work.
    wait_until(
        lambda: len(pool_children(short_limits_worker)) == len(before) and set(pool_children(short_limits_worker)) != before,
        timeout=20,
    )
    assert short_limits_worker.poll() is None
    SystemState.objects.update_or_create(key="test-switch-8", defaults={"value": {"fail": False}})
    app.send_task("tests.fail_while_asked", args=[8])
    wait_until(lambda: SystemState.objects.get(key="test-switch-8").value.get("ran") == 1, timeout=20)
