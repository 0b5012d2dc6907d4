"""Brings the compliance roll-up up to date, or rebuilds it whole (after changing TIME_ZONE, or
to check it): `manage.py compliance_rollup [--rebuild]`."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedowns import rollup


class Command(BaseCommand):
    help = "Refresh the compliance roll-up (changed days only), or rebuild it whole with --rebuild."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="Rebuild every day from the requests.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        days = rollup.rebuild_all() if options["rebuild"] else rollup.refresh()
        self.stdout.write(f"{days or 0} days rebuilt in {time.perf_counter() - started:.1f} s")
