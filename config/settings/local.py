"""Embedded defaults for `make run`: SQLite, a file-system broker, files on disk, console mail.

Set DATABASE_URL and REDIS_URL to run the same thing on PostgreSQL and Redis.
"""

from __future__ import annotations

from config.env import env_bool, env_list, env_str
from config.settings.base import *
from config.settings.base import DATABASES, VAR_DIR

DEBUG = env_bool("DEBUG", True)
# A fixed development key is fine here: production.py has no default at all.
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production-0123456789")
EVIDENCE_ENCRYPTION_KEY = env_str("EVIDENCE_ENCRYPTION_KEY", "ZGV2LW9ubHktZXZpZGVuY2Uta2V5LTMyLWJ5dGVzISE=")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
OUTBOUND_ALLOWLIST = env_list("OUTBOUND_ALLOWLIST", "127.0.0.1,::1,localhost")

# The embedded defaults keep everything under var/ (database, broker queue, mail, evidence).
for _folder in (VAR_DIR, VAR_DIR / "broker", VAR_DIR / "mail"):
    _folder.mkdir(parents=True, exist_ok=True)
SILENCED_SYSTEM_CHECKS = ["models.W047"]  # SQLite only: the demo relies on the row lock instead

# SQLite: take the write lock at the start of each transaction and wait for it, so the worker's
# threads and the web server queue up instead of failing with "database is locked".
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
