"""The Celery app: `celery -A config worker` / `celery -A config beat`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def _keep_django_logging(**kwargs: object) -> None:
    """Workers and beat log through Django's LOGGING (JSON, redacted; core/logs.py), not Celery's handlers."""
    from core.taskmonitor import on_setup_logging

    on_setup_logging(**kwargs)
