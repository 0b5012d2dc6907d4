"""Revokes one API token, found by the first characters of its key (as list_api_tokens shows).

The account's other tokens keep working; disabling the account revokes them all.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import services
from core.models import ApiToken


class Command(BaseCommand):
    help = "Revoke one API token by its prefix (the first 8 characters of the key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        prefix: str = options["prefix"].strip()
        if len(prefix) < 4:
            raise CommandError("Give at least the first 4 characters of the token.")
        # The stored prefix is the key's first 8 characters; a longer argument may be the whole key.
        matches = list(ApiToken.objects.filter(prefix=prefix[:8], revoked_at__isnull=True).select_related("user"))
        if not matches:
            matches = list(ApiToken.objects.filter(prefix__startswith=prefix, revoked_at__isnull=True).select_related("user"))
        if not matches:
            raise CommandError(f"No active token starts with {prefix!r}.")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} active tokens start with {prefix!r}; give more characters.")
        token = services.api_token_revoke(token=matches[0], acting_user=None)
        self.stdout.write(f"Revoked {token.prefix} of {token.user.username}.")
