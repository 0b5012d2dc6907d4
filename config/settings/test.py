"""Tests run on the real servers: PostgreSQL and Redis (see Makefile, tests/conftest.py)."""

from __future__ import annotations

import os
import re

import dj_database_url

from config.env import env_str
from config.settings.base import *

DEBUG = False
SECRET_KEY = "test-only-key-0123456789-abcdefghijklmnopqrstuvwxyz"
EVIDENCE_ENCRYPTION_KEY = "dGVzdC1vbmx5LWV2aWRlbmNlLWtleS0zMi1ieXRlcyE="
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver", "[::1]"]
DATABASES = {
    "default": dj_database_url.parse(
        env_str("TEST_DATABASE_URL", os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/victimsupport")),
        conn_max_age=0,
    )
}
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
EVIDENCE_ROOT = VAR_DIR / f"test-evidence-{TEST_RUN_ID}"
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
