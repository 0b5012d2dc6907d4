from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.crypto import reencrypt_all_fields
from evidence.services import evidence_rewrap_all


class Command(BaseCommand):
    help = (
        "Re-wrap every evidence data key with the current EVIDENCE_ENCRYPTION_KEY. Put the previous key in "
        "EVIDENCE_ENCRYPTION_OLD_KEYS while this runs; remove it afterwards."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = evidence_rewrap_all()
        rows = reencrypt_all_fields()
        self.stdout.write(
            self.style.SUCCESS(f"Re-wrapped {count} data keys and re-encrypted {rows} records with the current master key.")
        )
