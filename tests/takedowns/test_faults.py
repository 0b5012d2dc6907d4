"""Nothing is lost and nothing is sent twice when a worker is killed or Redis goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests.conftest import (
    child_connected_to,
    clear_queues,
    pool_children,
    start_celery,
    stop_process,
    wait_until,
    worker_env,
)
from tests.takedowns.conftest import consenting_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_worker_killed_mid_delivery_sends_exactly_one_notice(
    simulator, sim_platform, caseworker, smtp_sink, settings, api_for
) -> None:
    """The pool process delivering a notice is SIGKILLed while the platform holds its answer (as
    the kernel's OOM killer would): the notice stays claimed, the sweeper reclaims it once the claim
    times out, and the platform still holds exactly one notice. Driven as an outside program does:
    the takedown is filed and sent through the API, and the API shows how it ended."""

    clear_queues()
    case = consenting_case(caseworker)
    url = simulator.host_page("/k/1", "<html><body>post</body></html>")
    simulator.behave(url, "hang", hang_s=4, times=1)
    worker = start_celery("worker", worker_env(smtp_sink.port), "test-kill-worker.log")
    api = api_for(caseworker)
    try:
        created = api.post("/api/v1/takedowns/", {"case": case.pk, "url": url}, format="json")
        assert created.status_code == 201, created.content
        request_id = created.json()["id"]
        assert api.post(f"/api/v1/takedowns/{request_id}/send/").status_code == 202
        request = TakedownRequest.objects.get(pk=request_id)
        notice = Notice.objects.get(request=request)
        wait_until(lambda: Notice.objects.get(pk=notice.pk).status == "sending", timeout=20)
        wait_until(lambda: simulator.notice_count(str(notice.idempotency_key)) == 1, timeout=10)
        # In the middle of the platform's (hanging) answer: the child holding the connection.
        child = wait_until(lambda: child_connected_to(worker, simulator.port), timeout=10, interval=0.05)
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: child not in pool_children(worker), timeout=10)
        assert worker.poll() is None  # the worker lives on and replaces its child
        assert Notice.objects.get(pk=notice.pk).status == "sending"
        settings.NOTICE_CLAIM_TIMEOUT_S = 1
        # The sweeper reclaims the notice as soon as the dead child's claim is older than that.
        wait_until(lambda: services.sweep_outbox()["reclaimed"] == 1, timeout=10, interval=0.2)
        wait_until(lambda: Notice.objects.get(pk=notice.pk).status == "delivered", timeout=30)
    finally:
        stop_process(worker)
    key = str(notice.idempotency_key)
    assert simulator.unique_notices() == [key]
    assert simulator.notice_count(key) == 1  # the platform holds exactly one notice
    assert simulator.duplicate_count(key) == 1  # the repeat was recognised by its key
    shown = api.get(f"/api/v1/takedowns/{request.pk}/").json()
    assert shown["status"] == "sent"
    assert shown["ticket"] == simulator.notices[0]["ticket_id"]
    assert [a["outcome"] for a in shown["attempts"]].count("delivered") == 1


def test_redis_stopped_and_restarted_every_notice_delivered_once(
    private_redis, simulator, sim_platform, caseworker, smtp_sink, api_for
) -> None:
    port, state, start = private_redis
    broker = f"redis://127.0.0.1:{port}/0"
    env = worker_env(
        smtp_sink.port,
        TEST_REDIS_URL=broker,
        OUTBOX_SWEEP_INTERVAL_S="1",
        NOTICE_CLAIM_TIMEOUT_S="4",
        NOTICE_REWAKE_AFTER_S="2",
        # One at a time, so that some notices are still queued when Redis goes away.
        TAKEDOWN_BATCH_SIZE="1",
        TAKEDOWN_IO_CONCURRENCY="1",
    )
    case = consenting_case(caseworker)
    urls = [simulator.host_page(f"/q/{i}", "<html><body>post</body></html>") for i in range(8)]
    simulator.behave(None, "hang", hang_s=0.6, times=None)
    requests = [services.takedown_create(case=case, url=u, acting_user=caseworker) for u in urls]
    worker = start_celery("worker", env, "test-redis-worker.log")
    beat = start_celery("beat", env, "test-redis-beat")
    try:
        # The approvals' own wake-ups go to the default broker, which no worker here reads: only
        # the outbox sweeper (run by beat on the isolated Redis) can get these notices out.
        services.takedown_approve(requests=requests, acting_user=caseworker)
        wait_until(lambda: len(simulator.unique_notices()) >= 2, timeout=30)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10, check=False)
        state["proc"].wait(timeout=10)
        delivered_while_down = len(simulator.unique_notices())
        time.sleep(3)  # not a wait for anything: the outage itself, long enough for the sweeper to run into it
        state["proc"] = start()
        wait_until(
            lambda: Notice.objects.filter(request__in=requests, status="delivered").count() == len(requests),
            timeout=90,
            interval=0.5,
        )
    finally:
        stop_process(beat)
        stop_process(worker)
    assert delivered_while_down < len(requests)
    keys = {str(n.idempotency_key) for n in Notice.objects.filter(request__in=requests)}
    assert set(simulator.unique_notices()) == keys
    assert all(simulator.notice_count(k) == 1 for k in keys)
    assert TakedownRequest.objects.filter(pk__in=[r.pk for r in requests], status="sent").count() == len(requests)
    # What the caseworker's program reads afterwards: every request of the case sent, none failed.
    listed = api_for(caseworker).get(f"/api/v1/cases/{case.pk}/takedowns/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert sorted(r["url"] for r in rows) == sorted(urls)
    assert {r["status"] for r in rows} == {"sent"}
