# Image for every application process: web (gunicorn), worker and beat (celery), migrate.
# Build:  docker compose build        (or: docker build -t victimsupport .)
# See docs/operations.md for configuration and deployment.

FROM python:3.11-slim

# PYTHONPATH: the settings derive BASE_DIR (templates/, static/, locale/) from the location
# of the config package, so the processes import the checkout in /app rather than the copy
# that `pip install .` places in site-packages.
# STATIC_ROOT: static files are collected into the image at build time (below).
# VAR_DIR: the only place the application writes to; docker-compose.yml mounts a volume there.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/app/staticfiles \
    VAR_DIR=/var/lib/victimsupport

# Unprivileged user. The code and static files stay owned by root, so the running
# processes cannot modify them. /var/lib/audit-signer is the audit signer's key and records: only
# the signer container mounts a volume there (docker-compose.yml).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin app \
 && install -d -o app -g app -m 0750 /var/lib/victimsupport \
 && install -d -o app -g app -m 0700 /var/lib/audit-signer

# PostgreSQL client tools for `manage.py backup` and `manage.py restore`. pg_dump refuses a server
# newer than itself, and Debian bookworm ships 15 while docker-compose.yml runs postgres:16, so the
# client comes from the PostgreSQL project's repository (its signing key ships in postgresql-common).
# Keep PG_CLIENT_VERSION at or above the server's major version.
ARG PG_CLIENT_VERSION=16
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

# bubblewrap: the sandbox of the media probe (evidence/sandbox.py); libseccomp2 for its filter.
# In a container it needs user namespaces: see docs/operations.md, "The probe's sandbox".
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap libseccomp2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that this layer is reused while only
# the application code changes. (With no package directories present setuptools builds an
# empty distribution; the real one is installed in the next step.)
COPY pyproject.toml ./
RUN pip install . \
 && rm -rf build ./*.egg-info

# The application itself.
COPY . .
RUN pip install --no-deps --force-reinstall . \
 && rm -rf build ./*.egg-info

# Collect static files for whitenoise. The key, encryption key and host below are throwaway
# values that exist only for this RUN instruction; they are not kept in the image
# environment, and the real values come from the environment at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
    EVIDENCE_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    ALLOWED_HOSTS=localhost \
    EMAIL_USE_TLS=true \
    python manage.py collectstatic --noinput

USER app:app

EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "-b", "0.0.0.0:8000"]
