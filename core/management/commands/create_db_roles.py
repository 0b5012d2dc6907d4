from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core.db_roles import role_sql


class Command(BaseCommand):
    help = (
        "PostgreSQL: create the owner role (owns the schema and the audit purge function) and the "
        "application's role (may only SELECT and INSERT the audit tables), hand the schema to the "
        "owner and grant the app what it needs. Run as a superuser once; with --grants-only as the "
        "owner after each migration. --sql prints the statements instead (for psql -f)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--owner", default="victimsupport_owner", help="the owner role's name")
        parser.add_argument("--app", default="victimsupport_app", help="the application's role's name")
        parser.add_argument("--owner-password", default="", help="sets the owner's password (else unchanged)")
        parser.add_argument("--app-password", default="", help="sets the app role's password (else unchanged)")
        parser.add_argument("--grants-only", action="store_true", help="only the grants (after a migration)")
        parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sql = role_sql(
                owner=options["owner"],
                app=options["app"],
                owner_password=options["owner_password"],
                app_password=options["app_password"],
                grants_only=options["grants_only"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["sql"]:
            self.stdout.write(sql)
            return
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist only on PostgreSQL; the embedded SQLite demo has none.")
        with connection.cursor() as cursor:
            cursor.execute(sql)
        self.stdout.write(
            self.style.SUCCESS(
                f"Roles ready: {options['owner']} owns the schema and the audit purge function; "
                f"{options['app']} may only read and append to the audit tables."
            )
        )
