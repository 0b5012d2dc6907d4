"""Takedown throughput with one real Celery worker: notices delivered per second to the platform
simulator, and re-checks per second. Targets on a 2-core machine: 200 notices/s, 300 checks/s.

    .venv/bin/python bench/dispatch.py [--count 10000]

Uses its own PostgreSQL database and Redis database 13; the simulator runs in this process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_environment

BROKER = "redis://127.0.0.1:6379/13"


def prepare_env() -> dict[str, str]:
    return bench_environment(TEST_REDIS_URL=BROKER)


def wait_for(predicate, timeout: float, interval: float = 0.2) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(interval)
    raise TimeoutError("the bench did not finish in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    env = prepare_env()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(BROKER).flushdb()

    from cases import services as case_services
    from core import services as core_services
    from evidence import services as evidence_services
    from takedowns import services
    from takedowns.models import Check, Notice, TakedownRequest
    from tests import media
    from tools.platform_sim import PlatformSimulator

    sim = PlatformSimulator(secret="bench-secret").start()
    image = media.image_bytes("JPEG", seed=7)
    run = int(time.time())
    for i in range(args.count):
        sim.host_file(f"/b{run}/{i}.jpg", image, "image/jpeg")
    user = core_services.user_create(
        username=f"bench-{run}", role="caseworker", centre=core_services.central_centre(), password="bench-password-12345"
    )
    case = case_services.case_create(
        acting_user=user,
        category="deepfake",
        victim={"pseudonym": f"Bench {run}"},
        consent={"takedown": True, "hash_sharing": True},
    )
    path = Path(f"/tmp/bench-{run}.jpg")
    path.write_bytes(image)
    evidence = evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=path, name="b.jpg"), acting_user=user
    )
    platform = services.platform_create(
        acting_user=None, name=f"Bench platform {run}", domains=["127.0.0.1"], channel="api", endpoint=sim.endpoint,
        secret="bench-secret", jurisdiction="KR", rate_limit_per_minute=10_000_000,
    )  # fmt: skip
    started = time.perf_counter()
    urls = [f"{sim.url}/b{run}/{i}.jpg" for i in range(args.count)]
    created = 0
    for start in range(0, len(urls), 5000):  # the service takes at most 5,000 at once
        created += len(
            services.takedown_bulk_create(
                case=case, urls=urls[start : start + 5000], acting_user=user, evidence_ids=[evidence.pk]
            ).created
        )
    bulk_s = time.perf_counter() - started
    requests = list(TakedownRequest.objects.filter(case=case, platform=platform))
    assert len(requests) == args.count == created

    log = open(ROOT / "var" / "bench-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(4)
        started = time.perf_counter()
        services.takedown_approve(requests=requests, acting_user=user)
        approve_s = time.perf_counter() - started
        delivered = Notice.objects.filter(request__case=case, status="delivered")
        print("approved; waiting for delivery", flush=True)
        deliver_s = wait_for(lambda: delivered.count() >= args.count, timeout=600)
        print("delivered; re-checking", flush=True)
        unique = len(sim.unique_notices())

        # Only this run's requests are due (earlier runs left theirs in the bench database).
        TakedownRequest.objects.exclude(case=case).update(next_check_at=None)
        TakedownRequest.objects.filter(case=case).update(next_check_at=django.utils.timezone.now())
        checks = Check.objects.filter(request__case=case)
        started = time.perf_counter()
        services.schedule_due_checks(limit=args.count)
        check_s = wait_for(lambda: checks.count() >= args.count, timeout=600)
        still_up = checks.filter(outcome="still_up").count()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        sim.stop()
    print(f"bulk entry of {args.count} URLs: {bulk_s:.2f} s ({args.count / bulk_s:,.0f} URLs/s)")
    print(f"approval (notices rendered and written to the outbox): {approve_s:.2f} s")
    print(
        f"delivery: {args.count} notices in {deliver_s:.1f} s = {args.count / deliver_s:,.0f} notices/s "
        f"(target 200); the simulator holds {unique} unique notices"
    )
    print(f"re-checks: {args.count} in {check_s:.1f} s = {args.count / check_s:,.0f} checks/s (target 300); {still_up} still up")


if __name__ == "__main__":
    main()
