"""Followers show their leader's times, not only its status (docs/takedowns.md, "Duplicates").

Data only: followers approved before this change mirrored the status alone, so the API showed, for
example, "removed" with removed_at null. This copies the leader's times to them once; from now on
takedowns.services._follow_leaders keeps them equal. sent_at, deadline and the rest stay null, so
no compliance figure changes (they count requests by sent_at, and the roll-up triggers fire only
for rows with a sent_at).
"""

from __future__ import annotations

from django.db import migrations

FIELDS = ("status", "acknowledged_at", "removed_at", "rejected_at", "reappeared_at", "unavailable_at")


def copy_leader_times(apps, schema_editor):
    request_model = apps.get_model("takedowns", "TakedownRequest")
    followers = (
        request_model.objects.filter(duplicate_of__isnull=False)
        .exclude(status="draft")
        .values_list("pk", *FIELDS, *(f"duplicate_of__{name}" for name in FIELDS))
    )
    width = len(FIELDS)
    changed = []
    for row in followers.iterator(chunk_size=2000):
        own, lead = row[1 : 1 + width], row[1 + width :]
        if tuple(own) != tuple(lead):
            follower = request_model(pk=row[0])
            for name, value in zip(FIELDS, lead, strict=True):
                setattr(follower, name, value)
            changed.append(follower)
    request_model.objects.bulk_update(changed, list(FIELDS), batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("takedowns", "0009_request_duplicates_liveness")]

    operations = [migrations.RunPython(copy_leader_times, migrations.RunPython.noop)]
