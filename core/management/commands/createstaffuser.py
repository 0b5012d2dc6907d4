from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import services
from core.models import Centre
from core.roles import Role


class Command(BaseCommand):
    help = "Create a staff account (the first admin of a new installation, for example). They enrol TOTP at first sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.PARTNER])
        parser.add_argument("--email", default="")
        parser.add_argument("--centre", help="Centre code (default: the central centre)")

    def handle(self, *args: Any, **options: Any) -> None:
        centre = Centre.objects.filter(code__iexact=options["centre"]).first() if options["centre"] else services.central_centre()
        if centre is None:
            raise CommandError("No such centre.")
        password = getpass.getpass("Password: ")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        user = services.user_create(
            username=options["username"], role=options["role"], centre=centre, email=options["email"], password=password
        )
        self.stdout.write(self.style.SUCCESS(f"Created {user.username}; they set up their authenticator at first sign-in."))
