from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup folder into an empty database and evidence storage, then run the check "
        "(audit chain, every evidence original re-hashed, counts against the manifest)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", type=Path, help="The backup folder (the one holding manifest.json)")
        parser.add_argument("--database-url", help="Target database (default: the configured DATABASE_URL)")
        parser.add_argument("--evidence-dir", type=Path, help="Target folder for evidence (default: the configured storage)")
        parser.add_argument(
            "--no-evidence", action="store_true", help="Leave the evidence storage alone (restored separately beforehand)"
        )
        parser.add_argument("--force", action="store_true", help="Replace what a non-empty target database or storage holds")
        parser.add_argument("--pg-bindir", help="Folder holding pg_restore (default: the one matching the server)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = restore_backup(
                options["backup"],
                database_url=options["database_url"],
                evidence_dir=options["evidence_dir"],
                include_evidence=not options["no_evidence"],
                force=options["force"],
                pg_bindir=options["pg_bindir"],
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {options['backup'].name}. The check after the restore:")
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError("The restored copy failed the check: keep it out of use and find out why.")
        self.stdout.write(self.style.SUCCESS("The restored copy passed every check."))
