from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from core.roles import Role


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", None) if user is not None and user.is_authenticated else None
    return {
        "centre_name": settings.CENTRE_NAME,
        "nav_cases": role in (Role.CASEWORKER, Role.SUPERVISOR),
        "nav_audit": role == Role.AUDITOR,
        "nav_users": role == Role.ADMIN,
        "nav_ops": role == Role.ADMIN,
        "nav_compliance": role in (Role.ANALYST, Role.SUPERVISOR, Role.ADMIN),
        "time_zone_name": settings.TIME_ZONE,
    }
