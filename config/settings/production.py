"""Production: every secret must come from the environment; nothing insecure by default."""

from __future__ import annotations

from config.env import env_bool, env_int, env_key32, env_list, env_secret, env_str, is_loopback_host
from config.settings.base import *
from core.logs import logging_config

DEBUG = False
SECRET_KEY = env_secret("SECRET_KEY")
if len(SECRET_KEY) < 50 or "change-me" in SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY is too short or still the example value: use 50 or more random characters.")
EVIDENCE_ENCRYPTION_KEY = env_key32("EVIDENCE_ENCRYPTION_KEY")
# Production runs on PostgreSQL only: the append-only triggers exist nowhere else.
if not env_str("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DATABASE_URL must be set to a PostgreSQL URL (postgres://user:password@host:5432/name).")
if CELERY_BROKER_URL.startswith("filesystem"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("REDIS_URL (or CELERY_BROKER_URL) must be set: production needs a real broker.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "")
if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("The environment variable ALLOWED_HOSTS is required (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Behind a TLS-terminating proxy. SECURE_SSL_REDIRECT=false serves plain HTTP for local
# acceptance tests on 127.0.0.1.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
# The __Host- prefix makes the browser refuse these cookies unless they are Secure, have Path=/
# and no Domain: a sibling subdomain or a plain-HTTP page cannot plant or overwrite them.
# Browsers reject a __Host- cookie without Secure, so the plain-HTTP acceptance mode
# (SECURE_SSL_REDIRECT=false) keeps the ordinary names.
if SECURE_SSL_REDIRECT:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_PATH = "/"
CSRF_COOKIE_PATH = "/"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Evidence on S3-compatible storage when a bucket is named (MinIO in docker-compose).
EVIDENCE_S3_BUCKET = env_str("EVIDENCE_S3_BUCKET", "")
if EVIDENCE_S3_BUCKET:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "")
    AWS_ACCESS_KEY_ID = env_secret("AWS_ACCESS_KEY_ID")
    AWS_SECRET_ACCESS_KEY = env_secret("AWS_SECRET_ACCESS_KEY")
    STORAGES["evidence"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": EVIDENCE_S3_BUCKET,
            "endpoint_url": AWS_S3_ENDPOINT_URL or None,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Mail carries invitations, sign-in links and notices about victims' cases: never in clear text over a
# network. EMAIL_USE_TLS=true for STARTTLS (port 587), or EMAIL_USE_SSL=true for implicit TLS (port
# 465). The one exception is a mail relay on this host itself (EMAIL_HOST localhost or a loopback
# address: the relay then carries it on, and is where TLS to the world is configured): nothing
# crosses a wire in between.
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on: choose one.")
if not (EMAIL_USE_TLS or EMAIL_USE_SSL or is_loopback_host(EMAIL_HOST)):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"Set EMAIL_USE_TLS=true (STARTTLS, port 587) or EMAIL_USE_SSL=true (TLS, port 465): production never sends "
        f"mail in clear text to another host (EMAIL_HOST={EMAIL_HOST!r}; only a relay on this host, localhost or a "
        "loopback address, may be reached without TLS)."
    )

# The media probe must run in its sandbox; a machine without bubblewrap refuses files rather than
# parsing them unisolated (manage.py check --deploy says so first).
EVIDENCE_PROBE_ISOLATION = env_str("EVIDENCE_PROBE_ISOLATION", "required").lower()

# Log collectors read JSON lines; LOG_FORMAT=plain gives readable lines for `docker compose logs`.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
