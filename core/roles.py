"""Roles and what each may do. One place, so that pages, API and services agree."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CASEWORKER = "caseworker", _("Caseworker")
    SUPERVISOR = "supervisor", _("Supervisor")
    ANALYST = "analyst", _("Compliance analyst")
    ADMIN = "admin", _("Administrator")
    AUDITOR = "auditor", _("Auditor")
    # Machine clients only: partner platforms pulling the shared hash list (a later issue).
    PARTNER = "partner", _("Partner platform")


# Roles that work with cases and victims.
CASE_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR})
# Roles that see compliance figures (never victim identity or media).
COMPLIANCE_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.ADMIN})
STAFF_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.ANALYST, Role.ADMIN, Role.AUDITOR})


def has_role(user: object, *roles: str) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "role", None) in roles
