"""Writes on platforms. Takedown requests and delivery arrive with issue 4."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core import audit
from takedowns.models import Platform


@transaction.atomic
def platform_create(*, acting_user: Any, name: str, domains: list[str], **fields: Any) -> Platform:
    platform = Platform.objects.create(name=name, domains=[d.lower().strip() for d in domains], **fields)
    audit.record("platform.create", actor=acting_user, obj=platform, details={"name": name})
    return platform
