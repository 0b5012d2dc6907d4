"""The API tokens of service accounts, on the administrators' accounts page (/staff/users/).

Issuing stays a command (manage.py issue_api_token): the key is printed once to the operator who
runs it and never shown in a page. Here an administrator sees each token (name, prefix, scopes,
dates, last use) and revokes one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import services
from core.api.scopes import describe_scopes
from core.models import ApiToken, User
from core.roles import Role


@dataclass(frozen=True)
class TokenRow:
    pk: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expired: bool


def token_rows(user: User) -> list[TokenRow]:
    """A service account's tokens, newest first, with their scopes in words."""
    now = timezone.now()
    rows = []
    for token in sorted(user.api_tokens.all(), key=lambda t: t.created_at, reverse=True):
        expires = token.expires_at or token.created_at + timedelta(days=settings.API_TOKEN_TTL_DAYS)
        rows.append(
            TokenRow(
                pk=token.pk,
                name=token.name,
                prefix=token.prefix,
                scopes=describe_scopes(list(token.scopes or [])),
                created_at=token.created_at,
                expires_at=expires,
                last_used_at=token.last_used_at,
                revoked_at=token.revoked_at,
                expired=expires <= now,
            )
        )
    return rows


def service_accounts_with_tokens() -> list[tuple[User, list[TokenRow]]]:
    accounts = User.objects.filter(is_service_account=True).select_related("centre").prefetch_related("api_tokens")
    return [(account, token_rows(account)) for account in accounts.order_by("username")]


@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    if getattr(request.user, "role", None) != Role.ADMIN:
        raise Http404
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    services.api_token_revoke(token=token, acting_user=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Token %(prefix)s… of %(name)s revoked.") % {"prefix": token.prefix, "name": token.user.username})
    return redirect("core:users")
