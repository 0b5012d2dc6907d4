"""API permissions that apply to every endpoint (REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"])."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.api.scopes import effective_scopes
from core.models import ApiToken
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


def required_scope(view: Any, method: str) -> str | None:
    """The scope a view declares for this method (`token_scope`: one scope, or method -> scope;
    HEAD and OPTIONS need what GET needs)."""
    declared = getattr(view, "token_scope", None)
    if isinstance(declared, dict):
        scope = declared.get(method)
        if scope is None and method in ("HEAD", "OPTIONS"):
            scope = declared.get("GET")
        return scope
    return declared


class TokenScope(BasePermission):
    """An API token reaches only views that declare a scope the token holds.

    Closed by default: a view without `token_scope` refuses every token (a browser session that
    passed TOTP is unaffected; its role and centre checks apply as before). A view that sets its
    own permission_classes must keep this class in them (the hash-list views do).
    """

    message = "This API token does not have the scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        scope = required_scope(view, request.method or "GET")
        if scope is None:
            self.message = "API tokens cannot use this endpoint."
            return False
        if scope not in effective_scopes(role=getattr(request.user, "role", ""), scopes=token.scopes):
            self.message = f"This API token does not have the scope this endpoint needs ({scope})."
            return False
        return True
