"""Guard: the check after a restore holds the audit chain to the head the backup's manifest
recorded (core.backup._check_chain, run by `verify_restore <backup folder>`).

The chain's own hashes cannot tell a copy whose newest events were cut off and written again:
each rewritten event links to the one before it. Without a signer (as here), only the manifest's
head (its id and hash, read in the dump's own snapshot) says the copy is not the backup. Each
damage below keeps the row counts at least the backup's, so no other check fails in its place.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cases import services as case_services
from core.audit import compute_hash
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump reads what is committed


def _run(command: str, *args: str, **options: Any) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command(command, *args, stdout=out, **options)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def _owner_sql(sql: str, params: list[Any]) -> None:
    """What someone with the database owner's rights can do past the append-only trigger."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update_delete")


@pytest.fixture
def backup(caseworker, supervisor, tmp_path) -> tuple[Path, int]:
    case = factories.make_case(caseworker)
    case_services.case_add_note(case=case, text="Spoke with the victim", acting_user=caseworker)
    case_services.case_assign(case=case, assignee=caseworker, acting_user=supervisor)
    output, error = _run("backup", output=tmp_path / "backups", no_evidence=True)
    assert error is None, output
    (folder,) = (tmp_path / "backups").iterdir()
    head = json.loads((folder / "manifest.json").read_text())["audit_chain"]["head_id"]
    assert head == AuditEvent.objects.get(action="case.assign").pk
    # Untouched, the database passes the check against its own backup.
    output, error = _run("verify_restore", str(folder))
    assert error is None, output
    assert "OK   audit chain" in output
    return folder, head


def test_a_copy_whose_newest_events_were_cut_off_and_replaced_fails(backup, caseworker) -> None:
    folder, head = backup
    _owner_sql("DELETE FROM core_auditevent WHERE id >= %s", [head])
    case = factories.make_case(caseworker)  # new events, chained onto what is left
    case_services.case_add_note(case=case, text="Another note", acting_user=caseworker)

    output, error = _run("verify_restore", str(folder))
    assert error and "audit chain" in error
    assert "FAIL audit chain" in output
    assert f"the backup's last event {head} is missing" in output
    assert "OK   row counts" in output


def test_a_copy_whose_last_event_was_rewritten_fails(backup) -> None:
    folder, head = backup
    _owner_sql("DELETE FROM core_auditevent WHERE id > %s", [head])
    event = AuditEvent.objects.get(pk=head)
    event.details = {**event.details, "rewritten": True}
    _owner_sql(
        "UPDATE core_auditevent SET details = %s, hash = %s WHERE id = %s", [json.dumps(event.details), compute_hash(event), head]
    )

    output, error = _run("verify_restore", str(folder))
    assert error and "audit chain" in error
    assert f"event {head} does not have the hash the backup recorded for it" in output
    assert "OK   row counts" in output
