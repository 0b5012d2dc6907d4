from django.db import migrations

from core.dbguard import lock_columns, protect_table

EVIDENCE_CONTENT = [
    "uid", "case_id", "sha256", "size", "media_type", "kind", "original_name", "source_url",
    "captured_at", "storage_key", "locked", "created_by_id", "created_at",
]


class Migration(migrations.Migration):
    dependencies = [("evidence", "0001_initial"), ("core", "0002_append_only_audit")]

    operations = [
        lock_columns("evidence_evidence", EVIDENCE_CONTENT),
        protect_table("evidence_fingerprint"),
        protect_table("evidence_custodyevent"),
        # Derivatives may be re-wrapped by key rotation, never replaced.
        lock_columns("evidence_derivative", ["evidence_id", "kind", "media_type", "storage_key", "size", "created_at"]),
    ]
