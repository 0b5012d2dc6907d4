from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.models import Evidence
from evidence.services import evidence_verify


class Command(BaseCommand):
    help = "Decrypt and re-hash evidence originals; report every mismatch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--case", help="Only this case reference (e.g. KR-2026-000123)")

    def handle(self, *args: Any, **options: Any) -> None:
        qs = Evidence.objects.select_related("case").order_by("pk")
        if options["case"]:
            qs = qs.filter(case__reference=options["case"])
        checked, bad = 0, []
        for evidence in qs.iterator(chunk_size=200):
            checked += 1
            if not evidence_verify(evidence=evidence):
                bad.append(evidence)
                last = evidence.custody.order_by("-at", "-id").first()
                self.stdout.write(
                    f"MISMATCH evidence {evidence.pk} (case {evidence.case.reference}): {last.reason if last else ''}"
                )
        if bad:
            raise CommandError(f"{len(bad)} of {checked} evidence files failed verification.")
        self.stdout.write(self.style.SUCCESS(f"All {checked} evidence files match their SHA-256."))
