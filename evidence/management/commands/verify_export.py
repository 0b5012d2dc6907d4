from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.export import verify_package


class Command(BaseCommand):
    help = "Check an evidence export package offline: signature, every file's SHA-256 and size, custody log."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--public-key", help="The centre's Ed25519 public key (hex). Default: the one in the package.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_package(Path(options["file"]), options.get("public_key"))
        if not options.get("public_key"):
            self.stdout.write(
                "Note: checked against the public key named in the package; pass --public-key to pin the centre's key."
            )
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"The package is intact: signature valid, {report.items} files match."))
            return
        raise CommandError("The package failed verification:\n- " + "\n- ".join(report.problems))
