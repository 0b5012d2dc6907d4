"""Backups, restores into a fresh database and folder, and the check after a restore.

Real PostgreSQL and the real pg_dump/pg_restore: the backup is restored into a second database
created for the test, and the check runs against that copy. Then the copy is damaged the two
ways an attacker or a broken disk would (an evidence file, an audit row past its trigger) and
the check must fail and say what is wrong.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cases import services as case_services
from core.models import AuditEvent
from evidence.models import Derivative, Evidence
from tests import factories
from tests.evidence.helpers import add_image

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(dbname: str) -> Any:
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname=dbname, user=db["USER"] or "postgres", password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
    )  # fmt: skip
    conn.autocommit = True
    return conn


def _url(dbname: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER'] or 'postgres'}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{dbname}"


@pytest.fixture
def fresh_database():
    """An empty database named after this run's test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored"[:63]
    admin = _connect("postgres")
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _query(dbname: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = _connect(dbname)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def _keys() -> list[str]:
    return list(Evidence.objects.values_list("storage_key", flat=True)) + list(
        Derivative.objects.values_list("storage_key", flat=True)
    )


def _run(command: str, *args: str, **options: Any) -> tuple[str, str | None]:
    """(output, error) of a management command; error is None when it succeeded."""
    out = StringIO()
    try:
        call_command(command, *args, stdout=out, **options)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_backup_restores_into_a_fresh_database_and_the_check_finds_damage(
    caseworker: factories.User, supervisor: factories.User, tmp_path: Path, fresh_database: str
) -> None:
    case = factories.make_case(caseworker)
    items = [add_image(case, caseworker, tmp_path, seed=seed) for seed in (1, 2, 3)]
    case_services.case_add_note(case=case, text="Spoke with the victim", acting_user=caseworker)
    case_services.case_assign(case=case, assignee=caseworker, acting_user=supervisor)

    # 1. Backup.
    output, error = _run("backup", output=tmp_path / "backups")
    assert error is None, output
    (folder,) = (tmp_path / "backups").iterdir()
    assert folder.name.startswith("backup-") and "Backup written to" in output
    assert sorted(p.name for p in folder.iterdir()) == ["database.dump", "evidence", "evidence.sha256", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"]["name"] == connection.settings_dict["NAME"]
    assert manifest["tables"]["evidence_evidence"] == 3
    # The test storage also holds blobs of earlier tests (their rows are flushed, their files are
    # not), so the copy is a superset of this test's files.
    listed = {line.split("  evidence/", 1)[1] for line in (folder / "evidence.sha256").read_text().splitlines()}
    assert manifest["evidence"]["files"] == len(listed) and set(_keys()) <= listed
    head = AuditEvent.objects.filter(action="case.assign").get()
    assert manifest["audit_chain"]["head_id"] == head.pk and manifest["audit_chain"]["head_hash"] == head.hash
    assert manifest["migrations"]["evidence"] and manifest["facts"]["evidence_key_ids"]
    everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert settings.EVIDENCE_ENCRYPTION_KEY.encode() not in everything
    assert b"Spoke with the victim" not in everything  # notes are encrypted, in the dump too
    created = AuditEvent.objects.get(action="backup.created")
    assert created.details["backup"] == folder.name and created.details["evidence_files"] == len(listed)

    # 2. Restore into the fresh database and an empty folder; the check runs and passes.
    restored = tmp_path / "restored-evidence"
    url = _url(fresh_database)
    output, error = _run("restore", str(folder), database_url=url, evidence_dir=restored)
    assert error is None, output
    assert "OK   audit chain" in output and "OK   evidence originals: 3 decrypted and re-hashed" in output
    assert "passed every check" in output
    assert _query(fresh_database, "SELECT count(*) FROM evidence_evidence") == [(3,)]
    assert {p.relative_to(restored).as_posix() for p in restored.rglob("*") if p.is_file()} == listed
    # The restore and its check are recorded in the restored copy, not in the source.
    actions = [row[0] for row in _query(fresh_database, "SELECT action FROM core_auditevent ORDER BY id")]
    assert actions[-2:] == ["backup.verified", "backup.restored"]
    assert not AuditEvent.objects.filter(action__in=["backup.restored", "backup.verified"]).exists()
    # The append-only triggers came back with the restore.
    with pytest.raises(psycopg2.Error, match="append-only"):
        _query(fresh_database, "DELETE FROM core_auditevent")

    # 3. A second restore into the same (now full) database is refused, and so is a damaged backup.
    output, error = _run("restore", str(folder), database_url=url, evidence_dir=tmp_path / "other")
    assert error and "is not empty" in error
    dump = folder / "database.dump"
    good = dump.read_bytes()
    dump.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    output, error = _run("restore", str(folder), database_url=url, evidence_dir=tmp_path / "other")
    assert error and "database.dump is missing or does not match the SHA-256" in error
    dump.write_bytes(good)

    # 4. One flipped byte in a restored evidence file: the check fails and names the item.
    damaged = items[1]
    path = restored / damaged.storage_key
    original_bytes = path.read_bytes()
    middle = len(original_bytes) // 2
    path.write_bytes(original_bytes[:middle] + bytes([original_bytes[middle] ^ 0x01]) + original_bytes[middle + 1 :])
    output, error = _run("verify_restore", str(folder), database_url=url, evidence_dir=restored)
    assert error and "evidence originals" in error
    assert f"FAIL evidence originals: 3 decrypted and re-hashed\n     - evidence {damaged.pk} (case {case.reference})" in output
    assert "OK   audit chain" in output
    path.write_bytes(original_bytes)

    # 5. An audit row changed behind the trigger's back: the chain check names the event.
    tampered = _query(fresh_database, "SELECT id FROM core_auditevent WHERE action = 'case.note'")[0][0]
    _query(
        fresh_database,
        "ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete; "
        'UPDATE core_auditevent SET details = \'{"note": "rewritten"}\' WHERE id = %s; '
        "ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update_delete",
        (tampered,),
    )
    output, error = _run("verify_restore", str(folder), database_url=url, evidence_dir=restored)
    assert error and "audit chain" in error
    assert "FAIL audit chain" in output and f"broken at event {tampered}: its content does not match its hash" in output
    assert "OK   evidence originals" in output

    # 6. --force restores over the damaged copy (the triggers do not stand in the way of replacing
    # whole tables), and the copy passes again.
    output, error = _run("restore", str(folder), database_url=url, evidence_dir=restored, force=True)
    assert error is None, output
    assert "passed every check" in output
    assert _query(fresh_database, "SELECT count(*) FROM core_auditevent WHERE id = %s AND details ? 'note'", (tampered,)) == [
        (0,)
    ]

    # The source was never touched by any of it.
    output, error = _run("verify_restore")
    assert error is None, output
