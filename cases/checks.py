"""System check: retention settings out of range stop `manage.py check` (and deploy-check)."""

from __future__ import annotations

from typing import Any

from django.core import checks


def retention_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from cases.retention import policy_errors

    return [checks.Error(message, id="cases.E001") for message in policy_errors()]
