from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backup import BackupError, check_restore, use_target


class Command(BaseCommand):
    help = (
        "Check a restored copy: the audit chain is whole, every evidence original matches its SHA-256, "
        "previews and intake files open, and (given the backup folder) counts and files match its manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", type=Path, nargs="?", help="The backup folder it was restored from (optional)")
        parser.add_argument("--database-url", help="Database to check (default: the configured DATABASE_URL)")
        parser.add_argument("--evidence-dir", type=Path, help="Evidence folder to check (default: the configured storage)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with use_target(options["database_url"], options["evidence_dir"]):
                report = check_restore(options["backup"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            failed = ", ".join(check.name for check in report.checks if not check.ok)
            raise CommandError(f"The check failed: {failed}.")
        self.stdout.write(self.style.SUCCESS("Every check passed."))
