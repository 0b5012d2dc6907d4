"""Tests run on the real servers: PostgreSQL and Redis (see Makefile, tests/conftest.py)."""

from __future__ import annotations

import os
import re
import sys
import time

import dj_database_url

from config.env import env_int, env_str
from config.settings.base import *
from core.logs import logging_config

DEBUG = False
SECRET_KEY = "test-only-key-0123456789-abcdefghijklmnopqrstuvwxyz"
EVIDENCE_ENCRYPTION_KEY = "dGVzdC1vbmx5LWV2aWRlbmNlLWtleS0zMi1ieXRlcyE="
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver", "[::1]"]
_DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/victimsupport"
_URL_GIVEN = env_str("TEST_DATABASE_URL", os.environ.get("DATABASE_URL", ""))
DATABASES = {"default": dj_database_url.parse(_URL_GIVEN or _DEFAULT_TEST_DATABASE_URL, conn_max_age=0)}


def _claim_run(name: str, *, given: bool) -> str:
    """Each test run holds its database name alone, and everything else a run owns (Redis prefix,
    evidence folder, worker logs) is named after it; so two runs on one machine never collide.

    The run holds an exclusive lock on var/test-runs/<name>.lock for as long as it lives. A second
    run on the default name takes the next free one (victimsupport_2, ...; each kept, so
    --reuse-db still reuses it next time); a second run on a name given by TEST_DATABASE_URL stops
    at once instead of sharing the first one's database. Only pytest claims: the processes a run
    starts (Celery workers, beat; they inherit TEST_RUN_CLAIMED too) and the benchmarks use the
    name they are given.
    """
    if "pytest" not in sys.modules or os.environ.get("TEST_RUN_CLAIMED"):
        return name
    import fcntl

    folder = VAR_DIR / "test-runs"
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(1, 50):
        candidate = name if slot == 1 else f"{name}_{slot}"
        lock = open(folder / f"{candidate}.lock", "w")  # noqa: SIM115 - held for the run's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            if given:
                raise SystemExit(
                    f"Another test run uses the database {name!r}; give this one its own TEST_DATABASE_URL."
                ) from None
            continue
        _RUN_LOCKS.append(lock)
        os.environ["TEST_RUN_CLAIMED"] = candidate
        return candidate
    raise SystemExit("Too many test runs at once on this machine.")


_RUN_LOCKS: list = []
DATABASES["default"]["NAME"] = _claim_run(str(DATABASES["default"]["NAME"]), given=bool(_URL_GIVEN))
# The test database's flush is allowed past the append-only triggers (see core/db_backend.py).
DATABASES["default"]["ENGINE"] = "core.db.postgresql"
CELERY_BROKER_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Queues are prefixed per test database, so two test runs on one machine (or one Redis) never
# take each other's messages. The worker processes the tests start compute the same prefix.
TEST_RUN_ID = re.sub(r"^test_", "", str(DATABASES["default"]["NAME"]))
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "global_keyprefix": f"{TEST_RUN_ID}:"}
REDIS_KEY_PREFIX = TEST_RUN_ID
REDIS_URL = CELERY_BROKER_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The Celery worker started by the tests sends through the SMTP sink (tests/conftest.py).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
OUTBOUND_ALLOWLIST = ["127.0.0.1", "::1", "localhost"]
# The second look that confirms a removal comes this soon in tests (still a second fetch, over a new
# connection); the workers the tests start inherit it through the environment unless told otherwise.
REMOVAL_CONFIRM_DELAY_S = env_int("REMOVAL_CONFIRM_DELAY_S", 1)
REMOVAL_CONFIRM_ASKED_DELAY_S = env_int("REMOVAL_CONFIRM_ASKED_DELAY_S", 1)
# Files of this run alone: worker logs and beat schedules (tests/conftest.py), the evidence locker.
TEST_RUN_DIR = VAR_DIR / "test-runs" / TEST_RUN_ID
EVIDENCE_ROOT = TEST_RUN_DIR / "evidence"
STORAGES = {
    **STORAGES,
    "evidence": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(EVIDENCE_ROOT), "file_permissions_mode": 0o600},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the finders in tests; whitenoise only needs the folder to exist.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LANGUAGE_CODE = "en"  # assertions read English; tests/test_i18n.py checks Korean

# Every process of a test run (pytest and the workers it starts, which inherit the variable)
# appends JSON lines to one file; at the end of the run tests/conftest.py searches it for the
# receipt codes and tokens the run created (docs/operations.md, "Logs").
TEST_LOG_FILE = env_str("TEST_LOG_FILE", "")
if not TEST_LOG_FILE:
    TEST_LOG_FILE = str(VAR_DIR / "test-logs" / f"{TEST_RUN_ID}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
    os.environ["TEST_LOG_FILE"] = TEST_LOG_FILE
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL, file=TEST_LOG_FILE)
# A task that fails on request, known to every test worker (tests/core/test_failed_work.py).
CELERY_IMPORTS = ["tests.core.celery_tasks"]
# Public intake anti-flood (cases/pow.py): a cheap proof for the browser tests, and budgets the
# suite never reaches (tests/security/test_proof_of_work.py sets its own).
INTAKE_POW_BITS = 8
INTAKE_NO_POW_PER_MINUTE = 100_000
INTAKE_API_POW_ABOVE = 100_000
