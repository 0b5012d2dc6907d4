"""Threat: the application's own database rights are used to rewrite or purge the audit log.

The append-only triggers stop an UPDATE or DELETE, but whoever owns a table can switch its
triggers off, and the retention flag that lets a purge through is a setting any session may set.
If web and worker processes connect as the owner, a compromised process can do both.

Control: two roles (core/db_roles.py, `manage.py create_db_roles`, docs/operations.md "Database
roles"). The owner owns the schema and the purge function; the application's role may only SELECT
and INSERT the audit tables, cannot alter them, and deletes old audit events only through
vs_purge_audit_events, a SECURITY DEFINER function (migration core 0005) that checks the retention
rules with the database's clock: at least 365 days, only up to a checkpoint of the chain, never
past an event about a case under legal hold. Here the roles are created in the test database and
the application's role connects for real (a new psycopg2 connection as that role).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg2 import errors

from cases import deletion
from cases.models import LegalHold
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app_role() -> Iterator[Any]:
    """Creates the owner and app roles (cluster-wide, so named after this test database), yields a
    connection as the app role, and afterwards hands everything back and drops both roles."""
    name = str(connection.settings_dict["NAME"])
    owner, app = f"{name}_owner", f"{name}_app"
    db = connection.settings_dict
    conn = None
    try:
        call_command("create_db_roles", owner=owner, app=app)
        conn = psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=name, user=app)
        conn.autocommit = True
        yield conn
    finally:
        if conn is not None:
            conn.close()
        with connection.cursor() as cursor:
            cursor.execute(f'REASSIGN OWNED BY "{owner}" TO CURRENT_USER')
            cursor.execute(f'DROP OWNED BY "{app}"')
            cursor.execute(f'DROP OWNED BY "{owner}"')
            cursor.execute(f'DROP ROLE "{app}"')
            cursor.execute(f'DROP ROLE "{owner}"')


def _run(conn: Any, sql: str, params: list[Any] | None = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None


def _insert_event(conn: Any, *, days_ago: int, object_type: str = "", object_id: str = "") -> int:
    row = _run(
        conn,
        "INSERT INTO core_auditevent (created_at, actor_username, actor_role, action, object_type, object_id, details,"
        " prev_hash, hash) VALUES (%s, 'system', '', 'test.event', %s, %s, '{}', %s, %s) RETURNING id",
        [datetime.now(UTC) - timedelta(days=days_ago), object_type, object_id, "0" * 64, secrets.token_hex(32)],
    )
    return int(row[0])


def _checkpoint(conn: Any, event_id: int, seq: int) -> None:
    """The app records a checkpoint row (it may INSERT there), as core.audit_signing does."""
    _run(
        conn,
        "INSERT INTO core_auditcheckpoint (seq, head_id, head_hash, count, head_at, signed_at, line)"
        " SELECT %s, id, hash, %s, created_at, now(), '{}' FROM core_auditevent WHERE id = %s",
        [seq, seq, event_id],
    )


def test_the_app_role_may_only_insert_into_the_audit_tables(app_role: Any) -> None:
    event_id = _insert_event(app_role, days_ago=0)
    assert AuditEvent.objects.filter(pk=event_id).exists()
    _checkpoint(app_role, event_id, 1)
    refused = [
        "UPDATE core_auditevent SET action = 'tampered'",
        "DELETE FROM core_auditevent",
        "TRUNCATE core_auditevent",
        "ALTER TABLE core_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete",
        "DROP TRIGGER core_auditevent_no_update_delete ON core_auditevent",
        "UPDATE core_auditcheckpoint SET head_hash = 'x'",
        "DELETE FROM core_auditcheckpoint",
        "TRUNCATE core_auditcheckpoint",
        "ALTER TABLE core_auditcheckpoint DISABLE TRIGGER USER",
        "CREATE OR REPLACE FUNCTION vs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
    ]
    for sql in refused:
        with pytest.raises(errors.InsufficientPrivilege):
            _run(app_role, sql)
    # The retention flag does not help: it is the privilege that is missing, not only the trigger.
    app_role.autocommit = False
    try:
        _run(app_role, "SELECT set_config('victimsupport.retention_purge', 'on', true)")
        with pytest.raises(errors.InsufficientPrivilege):
            _run(app_role, "DELETE FROM core_auditevent")
    finally:
        app_role.rollback()
        app_role.autocommit = True
    assert AuditEvent.objects.filter(pk=event_id, action="test.event").exists()
    # Ordinary work still goes on: other tables are the app's to change.
    _run(app_role, "INSERT INTO core_systemstate (key, value, updated_at) VALUES ('roles-test', '{}', now())")
    _run(app_role, "UPDATE core_systemstate SET value = '{\"x\": 1}' WHERE key = 'roles-test'")
    _run(app_role, "DELETE FROM core_systemstate WHERE key = 'roles-test'")


def test_the_purge_function_obeys_the_retention_rules(app_role: Any, caseworker: factories.User, supervisor) -> None:
    old = [_insert_event(app_role, days_ago=4000) for _ in range(3)]
    case = factories.make_case(caseworker)
    deletion.legal_hold_set(case=case, reason="Court order to keep the file.", acting_user=supervisor)
    about_held = _insert_event(app_role, days_ago=4000, object_type="cases.case", object_id=str(case.pk))
    older_anchor = _insert_event(app_role, days_ago=4000)
    recent = _insert_event(app_role, days_ago=10)
    for seq, event_id in enumerate([old[-1], older_anchor, recent], start=1):
        _checkpoint(app_role, event_id, seq)
    purge = "SELECT vs_purge_audit_events(%s, %s)"

    # Shorter than the floor of 365 days, whatever the caller says.
    with pytest.raises(errors.InsufficientPrivilege, match="at least 365"):
        _run(app_role, purge, [old[-1], 30])
    # Younger than the policy by the database's own clock.
    with pytest.raises(errors.InsufficientPrivilege, match="younger"):
        _run(app_role, purge, [recent, 365])
    # Not a checkpoint of the chain.
    with pytest.raises(errors.InsufficientPrivilege, match="not a checkpoint"):
        _run(app_role, purge, [old[0], 365])
    # Past an event about a case under legal hold.
    with pytest.raises(errors.InsufficientPrivilege, match="legal hold"):
        _run(app_role, purge, [older_anchor, 365])
    assert AuditEvent.objects.filter(id__in=[*old, about_held, older_anchor]).count() == 5

    # Within the rules the purge goes through, and deletes the prefix up to the anchor.
    deleted = _run(app_role, purge, [old[-1], 365])[0]
    assert deleted >= 3
    assert not AuditEvent.objects.filter(id__lte=old[-1]).exists()
    assert AuditEvent.objects.filter(id__in=[about_held, older_anchor, recent]).count() == 3
    # The hold lifted, the next anchor may go too.
    LegalHold.objects.filter(case=case).update(lifted_at=datetime.now(UTC))
    assert _run(app_role, purge, [older_anchor, 365])[0] >= 2
    assert not AuditEvent.objects.filter(id__lte=older_anchor).exists()
    assert AuditEvent.objects.filter(pk=recent).exists()


def test_the_roles_sql_can_be_printed_for_psql(capsys) -> None:
    call_command("create_db_roles", owner="vs_owner", app="vs_app", app_password="pw'x", sql=True)
    sql = capsys.readouterr().out
    assert 'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON core_auditevent, core_auditcheckpoint FROM "vs_app"' in sql
    assert 'GRANT EXECUTE ON FUNCTION vs_purge_audit_events(bigint, integer) TO "vs_app"' in sql
    assert "PASSWORD 'pw''x'" in sql
