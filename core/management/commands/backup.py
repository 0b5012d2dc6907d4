from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backup import BackupError, create_backup, read_manifest


class Command(BaseCommand):
    help = (
        "Write a backup folder (database dump, copy of the evidence storage, manifest.json) under --output. "
        "It holds no key: back up EVIDENCE_ENCRYPTION_KEY separately. Store backups encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, default=None, help="Folder to write into (default: VAR_DIR/backups)")
        parser.add_argument(
            "--no-evidence",
            action="store_true",
            help="Dump the database only; copy the evidence bucket yourself afterwards (aws s3 sync, mc mirror)",
        )
        parser.add_argument("--pg-bindir", help="Folder holding pg_dump (default: the one matching the server)")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"] or Path(settings.VAR_DIR) / "backups"
        try:
            folder = create_backup(output, include_evidence=not options["no_evidence"], pg_bindir=options["pg_bindir"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = read_manifest(folder)
        evidence = manifest["evidence"]
        self.stdout.write(
            f"{len(manifest['tables'])} tables, {manifest['audit_chain']['events']} audit events, "
            + (
                f"{evidence['files']} evidence files ({evidence['bytes']} bytes)."
                if evidence["copied"]
                else "no evidence copied."
            )
        )
        self.stdout.write(self.style.SUCCESS(f"Backup written to {folder}"))
