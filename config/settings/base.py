"""Settings shared by every environment. Values come from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from config.env import env_bool, env_int, env_list, env_str
from core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "core",
    "cases",
    "evidence",
    "takedowns",
]

MIDDLEWARE = [
    # First, so that every log line of the request carries its id (core/logs.py).
    "core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # After authentication: ends sessions older than SESSION_ABSOLUTE_TIMEOUT since sign-in.
    "core.middleware.SessionLifetimeMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its redirects pass back through every header-setting middleware above.
    "core.middleware.StaffTwoFactorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "cases:list"
LOGOUT_REDIRECT_URL = "core:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
                "cases.context_processors.intake_unread",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Time: stored in UTC, shown in the centre's zone.
USE_TZ = True
TIME_ZONE = env_str("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "ko")
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "lang"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the site's root (/favicon.ico), served by whitenoise from here.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EVIDENCE_ROOT = Path(env_str("EVIDENCE_ROOT", str(VAR_DIR / "evidence")))
# Older master keys still able to unwrap data keys during a rotation (comma-separated).
EVIDENCE_ENCRYPTION_OLD_KEYS = env_list("EVIDENCE_ENCRYPTION_OLD_KEYS", "")
# Ed25519 seed (URL-safe base64, 32 bytes) for signing export packages; derived from the master key when empty.
EXPORT_SIGNING_KEY = env_str("EXPORT_SIGNING_KEY", "")
_MIB = 1024 * 1024
EVIDENCE_LIMITS = {
    "max_image_bytes": env_int("EVIDENCE_MAX_IMAGE_BYTES", 50 * _MIB),
    "max_video_bytes": env_int("EVIDENCE_MAX_VIDEO_BYTES", 2048 * _MIB),
    "max_document_bytes": env_int("EVIDENCE_MAX_DOCUMENT_BYTES", 50 * _MIB),
    "max_pixels": env_int("EVIDENCE_MAX_PIXELS", 100_000_000),
    "max_image_frames": env_int("EVIDENCE_MAX_IMAGE_FRAMES", 1000),
    "max_video_frames": env_int("EVIDENCE_MAX_VIDEO_FRAMES", 700_000),
    "max_duration_s": env_int("EVIDENCE_MAX_DURATION_S", 3 * 3600),
    "files_per_request": env_int("EVIDENCE_MAX_FILES_PER_REQUEST", 20),
    "parse_memory_mb": env_int("EVIDENCE_PARSE_MEMORY_MB", 1536),
    "parse_cpu_s": env_int("EVIDENCE_PARSE_CPU_S", 30),
    "parse_timeout_s": env_int("EVIDENCE_PARSE_TIMEOUT_S", 40),
}
# The media probe runs in a bubblewrap sandbox (evidence/sandbox.py; docs/evidence.md, "The probe's
# sandbox"). required: refuse files when the sandbox cannot run here (production's default); auto:
# fall back to the plain limited process with a warning (local, demo, tests); off: never isolate.
EVIDENCE_PROBE_ISOLATION = env_str("EVIDENCE_PROBE_ISOLATION", "auto").lower()
if EVIDENCE_PROBE_ISOLATION not in ("required", "auto", "off"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("EVIDENCE_PROBE_ISOLATION must be required, auto or off.")
# The uid (and gid) the probe runs as when the web or worker process is root; 65534 is "nobody".
EVIDENCE_PROBE_UID = env_int("EVIDENCE_PROBE_UID", 65534)
# A URL capture fetches at most this many MiB in all (page and media); the media left when it runs
# out are skipped and the capture says it was cut short (evidence/services.py, capture_run).
CAPTURE_MAX_TOTAL_MB = env_int("CAPTURE_MAX_TOTAL_MB", 500)
# Uploads stream to temporary files (never memory) and stop at the largest allowed size.
FILE_UPLOAD_HANDLERS = ["core.uploads.HashingUploadHandler"]
UPLOAD_MAX_BYTES = max(
    EVIDENCE_LIMITS["max_image_bytes"], EVIDENCE_LIMITS["max_video_bytes"], EVIDENCE_LIMITS["max_document_bytes"]
)
DATA_UPLOAD_MAX_NUMBER_FILES = EVIDENCE_LIMITS["files_per_request"]
FILE_UPLOAD_PERMISSIONS = 0o600
# Encrypted evidence blobs: files on disk by default, S3-compatible storage in production.
STORAGES["evidence"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(EVIDENCE_ROOT), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
}
# Outbound HTTP may reach private/loopback addresses only when listed here (tests, demo).
OUTBOUND_ALLOWLIST = env_list("OUTBOUND_ALLOWLIST", "")
# Fetches of material pages (capture, re-checks, liveness, watchlists) look like a common desktop
# browser and name nobody (docs/outbound-http.md, "Who the request says it is"). Empty: core.http's
# defaults. OUTBOUND_BROWSER_USER_AGENTS lists the others a second look picks from, separated by "|"
# (User-Agents hold commas). Keep them current: an old browser version stands out too.
OUTBOUND_BROWSER_USER_AGENT = env_str("OUTBOUND_BROWSER_USER_AGENT", "")
OUTBOUND_BROWSER_USER_AGENTS = [ua.strip() for ua in env_str("OUTBOUND_BROWSER_USER_AGENTS", "").split("|") if ua.strip()]
OUTBOUND_BROWSER_ACCEPT_LANGUAGE = env_str("OUTBOUND_BROWSER_ACCEPT_LANGUAGE", "en-US,en;q=0.9")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: rotate at login (Django does), expire after idle time, never outlive the browser.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
# Besides the idle limit above: a session ends this long after sign-in however active it is
# (core.middleware.SessionLifetimeMiddleware). Seconds; default 12 hours.
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Two-factor: django-otp throttles failed codes with exponential back-off per device.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Victim Support Centre")
OTP_TOTP_THROTTLE_FACTOR = 1
# Password failures: lock the username for LOGIN_LOCKOUT_SECONDS after this many failures
# in a row. The lock always expires, so an attacker can slow a real user but never lock them out
# for good.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
# A step-up check (downloading originals, later issues) asks for a TOTP code this recent.
OTP_RECENT_SECONDS = env_int("OTP_RECENT_SECONDS", 5 * 60)
# New staff set their own password and authenticator through an e-mailed link that works once
# and for this long (core/accounts.py); the administrator never holds either.
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 48)
# API tokens expire this many days after issue unless issued with another --expires-days.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ApiTokenAuthentication",
        "core.api.auth.VerifiedSessionAuthentication",
    ],
    # PartnerScope: a partner token reaches only views marked partner_allowed (the hash list).
    # TokenScope: a token reaches only views whose token_scope it holds (core/api/scopes.py).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.permissions.PartnerScope",
        "core.api.permissions.TokenScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Victim support centre API",
    "DESCRIPTION": "Cases, evidence, takedowns, matching, compliance and public intake (version 1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "ENUM_NAME_OVERRIDES": {"ConsentMethodEnum": "cases.models.ConsentMethod", "CaseStatusEnum": "cases.models.CaseStatus"},
}

# Celery: JSON only, time limits on every task, schedule kept in the database.
REDIS_URL = env_str("REDIS_URL", "")
# Prefix of the system's own Redis keys (per-platform rate budgets), so installations can share a Redis.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "victimsupport")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    # control_folder too: kombu's default is ./control, which the demo once wrote into the checkout.
    {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "processed_folder": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 14 * 60)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# Notices go on their own queue, so a flood of re-checks never delays a notice. Every queue the
# system uses is declared here: a worker started without -Q consumes all of task_queues, so the
# plain `celery -A config worker` of the contract does every kind of work. Dedicated workers
# (`-Q notices`) stay possible. A queue with messages and no consumer is reported by
# /readyz?strict=1, /metrics and the failed-work page (core/health.py).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (
    Queue("celery", routing_key="celery"),
    Queue("notices", routing_key="notices"),
)
CELERY_TASK_ROUTES = {
    "takedowns.tasks.deliver_notice": {"queue": "notices"},
    "takedowns.tasks.deliver_batch": {"queue": "notices"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "verify-audit-chain": {"task": "core.tasks.verify_audit_chain_task", "schedule": 6 * 3600.0},
    # Signed checkpoints of the audit chain's head (core/audit_signing.py); retried on the next run.
    "audit-checkpoint": {
        "task": "core.tasks.audit_checkpoint_task",
        "schedule": float(env_int("AUDIT_CHECKPOINT_INTERVAL_S", 300)),
    },
    "beat-heartbeat": {"task": "core.tasks.beat_heartbeat", "schedule": 60.0},
    "verify-all-evidence": {"task": "evidence.tasks.verify_all_evidence", "schedule": 24 * 3600.0},
    "reprocess-stuck-videos": {"task": "evidence.tasks.reprocess_stuck_videos", "schedule": 15 * 60.0},
    "requeue-quarantined-files": {"task": "evidence.tasks.requeue_quarantined_files", "schedule": 15 * 60.0},
    "requeue-pending-captures": {"task": "evidence.tasks.requeue_pending_captures", "schedule": 5 * 60.0},
    "sweep-outbox": {"task": "takedowns.tasks.sweep_outbox_task", "schedule": float(env_int("OUTBOX_SWEEP_INTERVAL_S", 30))},
    "schedule-rechecks": {"task": "takedowns.tasks.schedule_rechecks", "schedule": 60.0},
    "poll-tickets": {"task": "takedowns.tasks.poll_tickets", "schedule": 300.0},
    "process-deadlines": {"task": "takedowns.tasks.process_deadlines_task", "schedule": 300.0},
    "scan-watchlists": {"task": "takedowns.tasks.scan_due_watchlists", "schedule": 300.0},
    "refresh-compliance-rollup": {"task": "takedowns.tasks.refresh_compliance_rollup", "schedule": 60.0},
    # Retention: every policy, approved deletion requests and file deletions to retry (docs/retention.md).
    "retention": {"task": "cases.tasks.retention_daily", "schedule": 24 * 3600.0},
}

# Takedowns: delivery, re-checks, deadlines (seconds unless named otherwise).
NOTICE_HTTP_TIMEOUT_S = env_int("NOTICE_HTTP_TIMEOUT_S", 15)
NOTICE_CLAIM_TIMEOUT_S = env_int("NOTICE_CLAIM_TIMEOUT_S", 120)
# A queued wake-up not acted on within this long is presumed lost and sent again by the sweeper.
NOTICE_REWAKE_AFTER_S = env_int("NOTICE_REWAKE_AFTER_S", 60)
NOTICE_MAX_ATTEMPTS = env_int("NOTICE_MAX_ATTEMPTS", 12)
NOTICE_RETRY_BASE_S = env_int("NOTICE_RETRY_BASE_S", 30)
NOTICE_RETRY_MAX_S = env_int("NOTICE_RETRY_MAX_S", 3600)
NOTICE_MESSAGE_ID_DOMAIN = env_str("NOTICE_MESSAGE_ID_DOMAIN", "notices.support-centre.invalid")
TAKEDOWN_FIRST_CHECK_S = env_int("TAKEDOWN_FIRST_CHECK_S", 600)
TAKEDOWN_POLL_INTERVAL_S = env_int("TAKEDOWN_POLL_INTERVAL_S", 1800)
TAKEDOWN_RESEND_INTERVAL_S = env_int("TAKEDOWN_RESEND_INTERVAL_S", 24 * 3600)
TAKEDOWN_WATCH_DAYS = env_int("TAKEDOWN_WATCH_DAYS", 30)
TAKEDOWN_WATCH_INTERVAL_S = env_int("TAKEDOWN_WATCH_INTERVAL_S", 7 * 24 * 3600)
TAKEDOWN_REMINDER_BEFORE_S = env_int("TAKEDOWN_REMINDER_BEFORE_S", 2 * 3600)
TAKEDOWN_ESCALATION_DELAY_S = env_int("TAKEDOWN_ESCALATION_DELAY_S", 24 * 3600)
TAKEDOWN_ESCALATION_REPEAT_S = env_int("TAKEDOWN_ESCALATION_REPEAT_S", 7 * 24 * 3600)
RECHECK_MAX_MEDIA = env_int("RECHECK_MAX_MEDIA", 20)
# A page found gone is marked removed only when a second look this much later, over a new
# connection with another browser's User-Agent, agrees (docs/takedowns.md, "Removal confirmation").
REMOVAL_CONFIRM_DELAY_S = env_int("REMOVAL_CONFIRM_DELAY_S", 300)
# When a person (or an API client) asked for the look (re-check now, approving a notice) they wait for
# the answer: the second look, still over a new connection as another browser, comes this soon.
REMOVAL_CONFIRM_ASKED_DELAY_S = env_int("REMOVAL_CONFIRM_ASKED_DELAY_S", 10)
# Matching: how stale a process's index may be before a query refreshes it (the 60 s promise).
MATCH_INDEX_MAX_AGE_S = env_int("MATCH_INDEX_MAX_AGE_S", 30)
MATCH_MAX_CANDIDATES = env_int("MATCH_MAX_CANDIDATES", 200)
VIDEO_MIN_MATCHED_FRAMES = env_int("VIDEO_MIN_MATCHED_FRAMES", 3)
VIDEO_MIN_MATCHED_SHARE = float(env_str("VIDEO_MIN_MATCHED_SHARE", "0.3"))
# Watchlists: matches at or under this PDQ distance are sent without waiting for a person
# (empty: never; every match waits for approval).
WATCHLIST_AUTO_SEND_MAX_DISTANCE = env_str("WATCHLIST_AUTO_SEND_MAX_DISTANCE", "")
# Notices and re-checks are handed to workers in batches; each batch runs this many at once.
TAKEDOWN_BATCH_SIZE = env_int("TAKEDOWN_BATCH_SIZE", 100)
TAKEDOWN_IO_CONCURRENCY = env_int("TAKEDOWN_IO_CONCURRENCY", 16)

# Partner hash sharing (docs/matching.md). A fingerprint with this many false-positive reports from
# partners leaves the list until a supervisor or administrator releases it.
HASHLIST_FALSE_POSITIVE_LIMIT = env_int("HASHLIST_FALSE_POSITIVE_LIMIT", 3)
# PDQ hashes below this quality are noise (flat images) and are never shared (hashing.image.PDQ_MIN_QUALITY).
HASHLIST_PDQ_MIN_QUALITY = env_int("HASHLIST_PDQ_MIN_QUALITY", 50)
HASHLIST_PAGE_DEFAULT = env_int("HASHLIST_PAGE_DEFAULT", 1000)
HASHLIST_PAGE_MAX = env_int("HASHLIST_PAGE_MAX", 10000)

EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "support-centre@localhost")
CENTRE_NAME = env_str("CENTRE_NAME", "Digital Sex Crime Victim Support Centre")
# Public intake: receipt checks per minute for the whole system (no per-person limit: no IPs).
INTAKE_STATUS_PER_MINUTE = env_int("INTAKE_STATUS_PER_MINUTE", 120)
# Public files: lower limits than staff uploads; files wait in quarantine for a worker to parse
# them, and past this many waiting the form answers "busy, try again" (docs/intake.md).
INTAKE_MAX_IMAGE_MB = env_int("INTAKE_MAX_IMAGE_MB", 20)
INTAKE_MAX_VIDEO_MB = env_int("INTAKE_MAX_VIDEO_MB", 200)
INTAKE_MAX_FILES = env_int("INTAKE_MAX_FILES", 5)
INTAKE_QUARANTINE_MAX_PENDING = env_int("INTAKE_QUARANTINE_MAX_PENDING", 200)
# Anti-flood without IP addresses (docs/intake.md, "Proof of work"): the browser finds a nonce so
# that SHA-256(challenge:nonce) starts with this many zero bits. Forms sent without a proof (no
# JavaScript) share a small global budget per minute; the JSON API asks for a proof only when
# more than INTAKE_API_POW_ABOVE calls a minute arrive.
INTAKE_POW_BITS = env_int("INTAKE_POW_BITS", 18)
INTAKE_POW_TTL_S = env_int("INTAKE_POW_TTL_S", 600)
INTAKE_NO_POW_PER_MINUTE = env_int("INTAKE_NO_POW_PER_MINUTE", 20)
INTAKE_API_POW_ABOVE = env_int("INTAKE_API_POW_ABOVE", 600)
# The centre (code) that sees public reports nobody routed yet; empty: the central centre.
INTAKE_TRIAGE_CENTRE = env_str("INTAKE_TRIAGE_CENTRE", "")
# E-mail the assigned caseworker when a reporter writes (never the message itself).
INTAKE_MESSAGE_EMAIL = env_bool("INTAKE_MESSAGE_EMAIL", True)
# This site's address for links in e-mails (https://cases.example.org); empty: the first ALLOWED_HOSTS.
SITE_URL = env_str("SITE_URL", "")
# Reports never turned into a case are deleted after this many days (an audited count remains).
INTAKE_RETENTION_DAYS = env_int("INTAKE_RETENTION_DAYS", 90)
# Retention policies (docs/retention.md, defaults and reasons in docs/operations.md). Days; 0 keeps
# for ever. Closed cases go with their evidence N days after closing, unless under legal hold.
RETENTION_CLOSED_CASE_DAYS = env_int("RETENTION_CLOSED_CASE_DAYS", 5 * 365)
RETENTION_AUDIT_DAYS = env_int("RETENTION_AUDIT_DAYS", 10 * 365)
RETENTION_DOWNLOAD_GRANT_DAYS = env_int("RETENTION_DOWNLOAD_GRANT_DAYS", 30)
# How long the status page can still say "deleted on ..." for a deleted public report.
RETENTION_TOMBSTONE_DAYS = env_int("RETENTION_TOMBSTONE_DAYS", 2 * 365)
# Most cases one retention run purges (the rest wait for the next run), to bound its duration.
RETENTION_BATCH_CASES = env_int("RETENTION_BATCH_CASES", 200)
CASE_REFERENCE_PREFIX = env_str("CASE_REFERENCE_PREFIX", "KR")

# The audit signer (core/signer.py, docs/operations.md "Audit signer"): a separate process that signs
# checkpoints of the audit chain's head with a key this application never holds. Its address, and
# its PUBLIC key (base64, as `python -m core.signer` prints it) that verification trusts. Empty URL:
# no checkpoints (and no audit purge); empty key: verification checks the hashes only.
AUDIT_SIGNER_URL = env_str("AUDIT_SIGNER_URL", "")
AUDIT_SIGNER_PUBLIC_KEY = env_str("AUDIT_SIGNER_PUBLIC_KEY", "")
# A read-only copy of the signer's sink to verify from instead of asking the signer (optional).
AUDIT_CHECKPOINT_FILE = env_str("AUDIT_CHECKPOINT_FILE", "")
AUDIT_CHECKPOINT_INTERVAL_S = env_int("AUDIT_CHECKPOINT_INTERVAL_S", 300)
AUDIT_SIGNER_TIMEOUT_S = env_int("AUDIT_SIGNER_TIMEOUT_S", 5)

# Operations: health, metrics, failed work (docs/operations.md).
# /metrics answers `Authorization: Bearer <METRICS_TOKEN>` (empty: only signed-in administrators).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# /readyz?strict=1 (and the "beat" answer) counts beat as late after this many seconds without a heartbeat.
READY_BEAT_MAX_AGE_S = env_int("READY_BEAT_MAX_AGE_S", 180)
# Seconds each process keeps its answer for the worker ping, the queue consumers and the storage probe.
READY_CACHE_S = env_int("READY_CACHE_S", 10)
# A due notice still waiting after this long (no worker on its queue, no beat to run the sweeper)
# is stuck: reported by /readyz?strict=1, /metrics and the failed-work page (docs/operations.md, "Alerts").
NOTICE_STUCK_ALERT_S = env_int("NOTICE_STUCK_ALERT_S", 5 * 60)
# The earlier name of the same setting, kept for code that still reads it; not read from the environment.
OUTBOX_STUCK_AFTER_S = NOTICE_STUCK_ALERT_S

# Logs: plain lines for people (local), JSON lines for log collectors (production's default);
# either way redacted and tagged with the request or task id (core/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
