"""Creates (if needed) a service account with a role and prints a new API token as the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core import services
from core.models import Centre, User
from core.roles import Role


class Command(BaseCommand):
    help = "Issue an API token for a service account, creating the account when it does not exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.AUDITOR] + [Role.AUDITOR.value])
        parser.add_argument("--centre", help="Centre code (default: the central centre)")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        role: str = options["role"]
        with transaction.atomic():
            if options["centre"]:
                centre = Centre.objects.filter(code=options["centre"]).first()
                if centre is None:
                    raise CommandError(f"No centre with code {options['centre']!r}.")
            else:
                centre = services.central_centre()
            user = User.objects.filter(username=username).first()
            if user is None:
                user = services.user_create(
                    username=username, role=role, centre=centre, is_service_account=True, acting_user=None
                )
                self.stdout.write(f"Created service account {username} ({role}).")
            else:
                if not user.is_service_account:
                    raise CommandError(f"{username} is a person's account; tokens are only for service accounts.")
                if user.role != role:
                    services.user_set_role(user=user, role=role, acting_user=None)
                    self.stdout.write(f"Changed the role of {username} to {role}.")
                if not user.is_active:
                    services.user_set_active(user=user, active=True, acting_user=None)
            key = services.api_token_issue(user=user, acting_user=None)
        self.stdout.write(key)
