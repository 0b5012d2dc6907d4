"""What the Django benchmarks share: their own PostgreSQL database, never the tests' or the demo's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "victimsupport_bench"


def bench_environment(**extra: str) -> dict[str, str]:
    """Creates the bench database if needed and points this process (and children) at it."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        if not cur.fetchone():
            cur.execute(f"CREATE DATABASE {BENCH_DB}")
    conn.close()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
        **extra,
    }
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return env
