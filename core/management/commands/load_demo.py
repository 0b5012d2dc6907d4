from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.demo import DEMO_PASSWORD, DEMO_USERS, load_demo


class Command(BaseCommand):
    help = "Load demo centres, users (one per role), platforms and cases. Safe to run twice."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("load_demo creates users with a published password: it runs only with DEBUG on.")
        created = load_demo()
        self.stdout.write(f"Demo data ready ({len(created)} new users). Users: " + ", ".join(u for u, _r, _c in DEMO_USERS))
        self.stdout.write(f"Password for every demo user: {DEMO_PASSWORD}")
