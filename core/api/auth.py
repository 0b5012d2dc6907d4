"""API authentication: a service account's token, or a browser session that passed TOTP.

There is deliberately no Basic or password authentication: a password alone opens nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.models import ApiToken
from core.services import hash_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Token <key>'.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid.") from exc
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_token(key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not valid.")
        # Only machine clients hold tokens. A person's account signs in with a password and a
        # code; a token left over from before this rule (or made by hand) opens nothing.
        if not token.user.is_service_account:
            raise exceptions.AuthenticationFailed("This token belongs to a person's account; only service accounts use tokens.")
        now = timezone.now()
        # Tokens made before expiry existed count from their creation.
        expires_at = token.expires_at or token.created_at + timedelta(days=settings.API_TOKEN_TTL_DAYS)
        if expires_at <= now:
            raise exceptions.AuthenticationFailed(
                f"This token expired on {expires_at:%Y-%m-%d}. Ask an administrator for a new one (manage.py issue_api_token)."
            )
        # Touch at most once a minute, so reads do not turn into a write each.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """A browser session counts only once its second factor was verified."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        user = getattr(request._request, "user", None)
        if not user or not user.is_active or not getattr(user, "is_verified", lambda: False)():
            return None
        self.enforce_csrf(request)
        return user, None
