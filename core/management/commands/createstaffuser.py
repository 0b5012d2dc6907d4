from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import accounts, services
from core.errors import ServiceError
from core.models import Centre
from core.roles import Role


class Command(BaseCommand):
    help = (
        "Invite a staff member (the first administrator of a new installation, for example). Nobody types a "
        "password for them: the person opens the invitation link, sets their own password and sets up their "
        "own authenticator. Accounts made here count as approved (the console is where trust starts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.PARTNER])
        parser.add_argument("--email", default="", help="Where the invitation goes (needed unless --print-link)")
        parser.add_argument("--centre", help="Centre code (default: the central centre)")
        parser.add_argument(
            "--print-link",
            action="store_true",
            help="Print the invitation link here instead of e-mailing it: only for your own account (the first "
            "administrator, before mail works). Anyone holding the link can take the account.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        centre = Centre.objects.filter(code__iexact=options["centre"]).first() if options["centre"] else services.central_centre()
        if centre is None:
            raise CommandError("No such centre.")
        if not options["email"] and not options["print_link"]:
            raise CommandError("Give --email (the invitation goes there) or --print-link (for your own account).")
        try:
            if options["print_link"]:
                user = services.user_create(
                    username=options["username"], role=options["role"], centre=centre, email=options["email"]
                )
                link = accounts.invitation_link_for_console(user=user)
            else:
                user = accounts.user_invite(
                    username=options["username"],
                    role=options["role"],
                    centre=centre,
                    email=options["email"],
                    acting_user=None,
                )
                link = ""
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        if link:
            self.stdout.write(f"Created {user.username}. Open this link (once, within the invitation's lifetime):")
            self.stdout.write(link)
        else:
            self.stdout.write(self.style.SUCCESS(f"Invited {user.username}: the link went to {user.email}."))
