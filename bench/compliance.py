"""Compliance figures at scale: the dashboard page and the per-platform API over one year of data.
Target: p95 under 500 ms for each, warm.

    .venv/bin/python bench/compliance_seed.py      # once: 1M requests, 5M checks (about 2-3 minutes)
    .venv/bin/python bench/compliance.py [--runs 20] [--warmup 3] [--explain] [--top 5]

Each endpoint is requested through django.test.Client (the whole stack: middleware, session and
second-factor check, view, template or JSON) by an analyst whose session passed TOTP, as
tests.factories.login_verified builds it. Held to the target: the dashboard (its default range,
one year) and the API for one year (since = today - 365, until = tomorrow). Also shown: the API
for the last 30 days and the drill-down's first page (removed requests, one year), which is what
the sent_at index (migration takedowns 0005) is for. The first --warmup runs are discarded; p50
and p95 are nearest-rank over the --runs that follow. One further, untimed run per endpoint is
captured with CaptureQueriesContext: the number of queries, their database time, and the slowest
of them; with --explain, each of those SELECTs is run again under EXPLAIN (ANALYZE, BUFFERS) and
its plan printed.

Uses the bench database (bench/_common.py), migrated first so index migrations apply; with
--no-migrate the schema is measured as it is (compare: `migrate takedowns 0004` against it).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_environment

ANALYST = "compliance-bench-analyst"
TARGET_MS = 500.0


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def analyst_client():
    from django.test import Client

    from core import services as core_services
    from core.models import User
    from tests.factories import login_verified

    user = User.objects.filter(username=ANALYST).first() or core_services.user_create(
        username=ANALYST, role="analyst", centre=core_services.central_centre(), password=None
    )
    return login_verified(Client(), user)


def timed(client, url: str, params: dict[str, str], *, runs: int, warmup: int) -> list[float]:
    times = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        response = client.get(url, params)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        if i >= warmup:
            times.append(elapsed)
    return times


def captured(client, url: str, params: dict[str, str]) -> list[dict[str, str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url, params)
    return list(ctx.captured_queries)


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def roll_up(today) -> None:
    """The daily roll-up the figures read (takedowns.rollup): built from whatever the triggers marked
    (after the seed, every hour of the year), then refreshed after a minute's worth of changes."""
    from django.utils import timezone

    from takedowns import rollup
    from takedowns.models import ComplianceDay, ComplianceDirty, TakedownRequest

    pending = ComplianceDirty.objects.count()
    started = time.perf_counter()
    days = rollup.refresh() if pending else 0
    if pending:
        print(f"roll-up: {pending:,} changed hours -> {days} days rebuilt in {time.perf_counter() - started:.1f} s")
    print(f"roll-up: {ComplianceDay.objects.count():,} rows (day x platform x category)")
    # A minute of re-check results: 300 requests sent yesterday found removed (bulk update, as in production).
    zone = timezone.get_current_timezone()
    start = datetime.combine(today - timedelta(days=1), datetime.min.time(), zone)
    ids = list(
        TakedownRequest.objects.filter(
            sent_at__gte=start, sent_at__lt=start + timedelta(days=1), removed_at__isnull=True
        ).values_list("pk", flat=True)[:300]
    )
    TakedownRequest.objects.filter(pk__in=ids).update(removed_at=timezone.now(), status="removed")
    started = time.perf_counter()
    days = rollup.refresh()
    print(
        f"roll-up: refresh after {len(ids)} requests changed: {days} day(s) rebuilt in {(time.perf_counter() - started) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest queries of each endpoint")
    parser.add_argument("--top", type=int, default=3, help="how many of the slowest queries to show per endpoint")
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="measure the schema as it is (e.g. after `migrate takedowns 0004`, without the indexes)",
    )
    args = parser.parse_args()
    bench_environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from takedowns.models import TakedownRequest

    if not args.no_migrate:
        call_command("migrate", verbosity=0)
    requests = TakedownRequest.objects.count()
    if requests < 1_000_000:
        print(f"only {requests:,} takedown requests in the bench database: run bench/compliance_seed.py first")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM takedowns_check")
        checks = cursor.fetchone()[0]
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'takedowns_takedownrequest' AND indexname LIKE 'compliance%%'"
        )
        indexes = [row[0] for row in cursor.fetchall()]
    source = (ROOT / "takedowns" / "compliance.py").read_bytes()
    print(
        f"data: {requests:,} takedown requests, {checks:,} checks; compliance.py sha256 {hashlib.sha256(source).hexdigest()[:12]}; "
        f"compliance indexes: {', '.join(indexes) or 'none'}"
    )
    roll_up(today=timezone.localdate())

    client = analyst_client()
    today = timezone.localdate()
    year = {"since": (today - timedelta(days=365)).isoformat(), "until": (today + timedelta(days=1)).isoformat()}
    month = {"since": (today - timedelta(days=30)).isoformat(), "until": year["until"]}
    # (label, url, params, held to the target): the target is for the one-year views; the last two
    # show what the sent_at index is for (a short range, and the drill-down's first 1,000 rows).
    endpoints = [
        ("dashboard /compliance/", "/compliance/", {}, True),
        ("API /api/v1/compliance/platforms/", "/api/v1/compliance/platforms/", year, True),
        ("API, last 30 days", "/api/v1/compliance/platforms/", month, False),
        ("drill-down ?figure=removed", "/compliance/requests/", {"figure": "removed"}, False),
        ("chart time-to-removal.svg", "/compliance/charts/time-to-removal.svg", {}, False),
        ("public /transparency/", "/transparency/", {}, False),
    ]
    results = []
    for label, url, params, held in endpoints:
        times = timed(client, url, params, runs=args.runs, warmup=args.warmup)
        results.append((label, url, params, held, times))
        print(f"  {label}: {len(times)} runs done", flush=True)

    print()
    print(
        f"{'endpoint (warm)':<36} {'runs':>4} {'p50 ms':>9} {'p95 ms':>9} {'min ms':>9} {'max ms':>9}  target p95 < {TARGET_MS:.0f} ms"
    )
    for label, _url, _params, held, times in results:
        p95 = nearest_rank(times, 0.95)
        verdict = ("met" if p95 < TARGET_MS else "MISSED") if held else "(not held to it)"
        print(
            f"{label:<36} {len(times):>4} {nearest_rank(times, 0.5):>9.0f} {p95:>9.0f} {min(times):>9.0f} {max(times):>9.0f}  {verdict}"
        )

    for label, url, params, _held, _times in results:
        queries = captured(client, url, params)
        db_ms = sum(float(q["time"]) for q in queries) * 1000
        print(f"\n{label}: {len(queries)} queries, {db_ms:.0f} ms in the database (one captured run); slowest:")
        for q in sorted(queries, key=lambda q: -float(q["time"]))[: args.top]:
            sql = q["sql"]
            print(f"  {float(q['time']) * 1000:7.0f} ms  {sql[:300]}{' …' if len(sql) > 300 else ''}")
            if args.explain and sql.lstrip().upper().startswith("SELECT"):  # EXPLAIN ANALYZE runs it: reads only
                print("    " + explain(sql).replace("\n", "\n    "))


if __name__ == "__main__":
    main()
