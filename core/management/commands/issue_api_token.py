"""Creates (if needed) a service account with a role and prints a new API token as the last line.

`--centre CODE` puts the account in that centre, creating the centre when it does not exist (a
partner's or a police system's account belongs to the centre whose cases it works with); without
it, the account goes to the default (central) centre. Contract v1.1, "Running, made explicit".

`--scope` (repeatable) narrows the token to those scopes (core/api/scopes.py; default: every scope
the role allows), `--expires-days` sets its life (default API_TOKEN_TTL_DAYS, 90), `--name` says
what it is for. A person's account never gets a token.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction

from core import services
from core.api.scopes import SCOPES
from core.errors import ServiceError
from core.models import Centre, User
from core.roles import Role

# Centre.code is a SlugField of this length.
_CODE_MAX = 32


def centre_for(code: str | None) -> tuple[Centre, bool]:
    """The centre with this code (created when missing, named by its code), or the default centre."""
    if not code:
        return services.central_centre(), False
    # Kept as the operator wrote it (the API answers it back), found whatever its case.
    code = code.strip()
    try:
        validate_slug(code)
    except ValidationError as exc:
        raise CommandError(f"Centre code {code!r}: use letters, digits, - and _ only.") from exc
    if len(code) > _CODE_MAX:
        raise CommandError(f"Centre code {code!r}: at most {_CODE_MAX} characters.")
    centre = Centre.objects.filter(code__iexact=code).first()
    if centre is not None:
        return centre, False
    return services.centre_create(code=code, name=code, acting_user=None), True


class Command(BaseCommand):
    help = "Issue an API token for a service account, creating the account when it does not exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.AUDITOR] + [Role.AUDITOR.value])
        parser.add_argument(
            "--centre", help="Centre code; the centre is created when it does not exist (default: the central centre)"
        )
        parser.add_argument(
            "--scope",
            action="append",
            choices=sorted(SCOPES),
            dest="scopes",
            help="What the token may do (repeat for several; default: everything the role allows)",
        )
        parser.add_argument("--expires-days", type=int, default=None, help="Days until the token expires (default 90)")
        parser.add_argument("--name", default="", help="What the token is for, shown on the accounts page")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        role: str = options["role"]
        with transaction.atomic():
            centre, created = centre_for(options["centre"])
            if created:
                self.stdout.write(f"Created centre {centre.code}.")
            user = User.objects.filter(username=username).first()
            if user is None:
                user = services.user_create(
                    username=username, role=role, centre=centre, is_service_account=True, acting_user=None
                )
                self.stdout.write(f"Created service account {username} ({role}) in centre {centre.code}.")
            else:
                if not user.is_service_account:
                    raise CommandError(f"{username} is a person's account; tokens are only for service accounts.")
                if user.role != role:
                    services.user_set_role(user=user, role=role, acting_user=None)
                    self.stdout.write(f"Changed the role of {username} to {role}.")
                if user.centre_id != centre.pk:
                    services.user_set_centre(user=user, centre=centre, acting_user=None)
                    self.stdout.write(f"Moved {username} to centre {centre.code}.")
                if not user.is_active:
                    services.user_set_active(user=user, active=True, acting_user=None)
            try:
                key = services.api_token_issue(
                    user=user,
                    acting_user=None,
                    scopes=options["scopes"],
                    name=options["name"],
                    expires_days=options["expires_days"],
                )
            except ServiceError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(key)
