from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.retention import retention_run

# Counts shown under a policy when they are not zero, in this order.
_DETAILS = (
    "evidence", "previews", "fingerprints", "stored_files", "custody_events", "takedown_requests", "notices", "checks",
    "hashlist_removals", "watchlists", "watchlist_hits", "intake_reports", "intake_files", "timeline_events",
    "consent_records", "referrals", "victims",
)  # fmt: skip


class Command(BaseCommand):
    help = (
        "Apply the retention policies (docs/retention.md). --dry-run prints what would be deleted, as counts only; "
        "--apply deletes it and records each purge in the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--dry-run", action="store_true", help="Count what is due; change nothing.")
        mode.add_argument("--apply", action="store_true", help="Delete what is due.")

    def handle(self, *args: Any, **options: Any) -> None:
        apply = bool(options["apply"])
        try:
            outcomes = retention_run(apply=apply)
        except Exception as exc:  # ImproperlyConfigured and database errors alike: say so, exit non-zero
            raise CommandError(f"Retention stopped: {exc}") from exc
        self.stdout.write("Retention " + ("run" if apply else "dry run (nothing deleted)"))
        self.stdout.write(f"{'Policy':<26}{'Keeps (days)':>13}{'Due':>9}{'On hold':>9}{'Deleted':>9}")
        for o in outcomes:
            days = "-" if o.days is None else ("for ever" if o.days == 0 else str(o.days))
            self.stdout.write(f"{o.policy:<26}{days:>13}{o.due:>9}{o.held:>9}{o.purged:>9}")
            extra = [f"{key.replace('_', ' ')}: {o.details[key]}" for key in _DETAILS if o.details.get(key)]
            if extra:
                self.stdout.write("    " + ", ".join(extra))
