"""Lists API tokens (never their keys): prefix, account, name, scopes, dates and state.

`--username NAME` shows one account's; `--all` includes revoked and expired ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from core.models import ApiToken


class Command(BaseCommand):
    help = "List API tokens (prefix, account, name, scopes, issued, expires, last used, state)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="Only this account's tokens")
        parser.add_argument("--all", action="store_true", help="Include revoked and expired tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if options["username"]:
            tokens = tokens.filter(user__username=options["username"])
        shown = 0
        for token in tokens:
            expires = token.expires_at or token.created_at + timedelta(days=settings.API_TOKEN_TTL_DAYS)
            state = "revoked" if token.revoked_at else "expired" if expires <= now else "active"
            if state != "active" and not options["all"]:
                continue
            last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.prefix}  {token.user.username}  {token.name or '-'}  {','.join(token.scopes) or '(role)'}  "
                f"issued {token.created_at:%Y-%m-%d}  expires {expires:%Y-%m-%d}  last used {last}  {state}"
            )
            shown += 1
        if not shown:
            self.stdout.write("No tokens.")
