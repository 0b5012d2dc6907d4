"""API permissions that apply to every endpoint (REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"])."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.roles import Role


class PartnerScope(BasePermission):
    """A partner platform's token opens only the endpoints built for partners.

    Closed by default: a view must say `partner_allowed = True` to let a partner in, so a new
    endpoint is shut to partners even if its author never thought of them. A view that sets its
    own permission_classes must keep this class in them (the hash-list views do).
    """

    message = "A partner platform's token opens only the hash-sharing endpoints (/api/v1/hashlist/)."

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(request.user, "role", None) != Role.PARTNER:
            return True
        return bool(getattr(view, "partner_allowed", False))
