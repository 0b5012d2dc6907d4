"""Audit log throughput on PostgreSQL: appends per second (each its own transaction, as services
do) and chain verification speed. Run with `make bench`; uses its own database, never the tests'.

    .venv/bin/python bench/audit_chain.py [--events 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_environment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    bench_environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from core import audit
    from core.dbguard import PURGE_FLAG

    call_command("migrate", verbosity=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_FLAG])
        cursor.execute("TRUNCATE core_auditevent")

    start = time.perf_counter()
    for i in range(args.events):
        with transaction.atomic():
            audit.record("bench.event", actor=None, object_type="bench", object_id=i, details={"n": i})
    append_s = time.perf_counter() - start

    start = time.perf_counter()
    report = audit.verify_chain()
    verify_s = time.perf_counter() - start
    assert report.ok, report

    print(
        f"audit appends: {args.events} in {append_s:.2f} s = {args.events / append_s:,.0f} events/s "
        f"({append_s / args.events * 1000:.2f} ms each, one transaction each)"
    )
    print(f"chain verification: {report.checked} events in {verify_s:.2f} s = {report.checked / verify_s:,.0f} events/s")


if __name__ == "__main__":
    main()
