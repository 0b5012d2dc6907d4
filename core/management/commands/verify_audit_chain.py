from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.audit import verify_chain


class Command(BaseCommand):
    help = "Check that the audit log's hash chain is whole and matches every signed checkpoint; report the first break."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if report.ok:
            start = (
                f" It starts after event {report.starts_after}: older events were deleted by the retention process."
                if report.starts_after is not None
                else ""
            )
            signed = (
                f" It matches all {report.signed} signed checkpoints."
                if report.signed is not None
                else " No signer's public key is set (AUDIT_SIGNER_PUBLIC_KEY): only the hashes were checked."
            )
            self.stdout.write(self.style.SUCCESS(f"The audit chain is whole: {report.checked} events checked.{start}{signed}"))
            return
        if report.broken_at is None:
            raise CommandError(f"The audit chain could not be verified: {report.reason}.")
        raise CommandError(
            f"The audit chain is broken at event {report.broken_at}: {report.reason}. "
            f"{report.checked} events before it are intact."
        )
