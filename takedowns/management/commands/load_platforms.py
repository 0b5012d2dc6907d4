"""`manage.py load_platforms`: the platform fixture (takedowns/fixtures/platforms.json), idempotently.

On a database without any of the fixture's platforms, this is `loaddata platforms` (pk 1 to 15, as
docs/notices.md describes). Platforms that already exist are never touched, so running it again
keeps whatever an administrator changed. If only some are missing, or another platform already
uses one of the fixture's primary keys, the missing ones are created through
`takedowns.services.platform_create` with new keys instead of overwriting anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "platforms.json"


def fixture_entries() -> list[dict[str, Any]]:
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return [row for row in rows if row.get("model") == "takedowns.platform"]


@transaction.atomic
def load_platform_fixture() -> int:
    """Adds the fixture's platforms that are not there yet (matched by name); returns how many."""
    from core import audit
    from takedowns.models import Platform
    from takedowns.services import platform_create

    entries = fixture_entries()
    present = {name.lower() for name in Platform.objects.values_list("name", flat=True)}
    missing = [row for row in entries if row["fields"]["name"].lower() not in present]
    if not missing:
        return 0
    pks = [row["pk"] for row in entries]
    if len(missing) == len(entries) and not Platform.objects.filter(pk__in=pks).exists():
        call_command("loaddata", "platforms", app_label="takedowns", verbosity=0)
        audit.record(
            "platform.load_fixture", actor=None, object_type="takedowns.platform",
            details={"fixture": FIXTURE.name, "created": [row["fields"]["name"] for row in entries]},
        )  # fmt: skip
        return len(entries)
    for row in missing:
        fields = {k: v for k, v in row["fields"].items() if k not in ("name", "domains", "created_at")}
        platform_create(acting_user=None, name=row["fields"]["name"], domains=row["fields"]["domains"], **fields)
    return len(missing)


class Command(BaseCommand):
    help = "Load the platform fixture (takedowns/fixtures/platforms.json). Safe to run twice: existing platforms are kept."

    def handle(self, *args: Any, **options: Any) -> None:
        from takedowns.models import Platform

        added = load_platform_fixture()
        total = Platform.objects.count()
        self.stdout.write(f"{added} platforms added from the fixture; {total} platforms exist.")
