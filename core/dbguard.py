"""Database-level immutability: triggers that reject changes to append-only tables.

PostgreSQL enforces it (SQLite, used only for the embedded demo, has no equivalent for TRUNCATE
and is not a production database). UPDATE is always refused. DELETE and TRUNCATE pass only when
the transaction-local flag PURGE_FLAG is 'on', which only the audited retention process sets.
"""

from __future__ import annotations

from typing import Any

PURGE_FLAG = "victimsupport.retention_purge"

FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION vs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND coalesce(current_setting('{PURGE_FLAG}', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def protect_sql(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};
CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION vs_append_only();
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION vs_append_only();
"""


def unprotect_sql(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
"""


def protect_table(table: str) -> Any:
    """A migration operation that installs the triggers on PostgreSQL and does nothing elsewhere."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(FUNCTION_SQL, params=None)
            schema_editor.execute(protect_sql(table), params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(unprotect_sql(table), params=None)

    return migrations.RunPython(forwards, backwards)


def locked_columns_sql(table: str, columns: list[str]) -> str:
    """UPDATE may change other columns (status, previews) but never these; DELETE as append-only."""
    function = f"{table}_locked_columns"
    old = ", ".join(f"OLD.{c}" for c in columns)
    new = ", ".join(f"NEW.{c}" for c in columns)
    return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN
        RAISE EXCEPTION 'UPDATE of locked content on % is not allowed: the record is locked evidence', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS {table}_locked_update ON {table};
CREATE TRIGGER {table}_locked_update BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
DROP TRIGGER IF EXISTS {table}_no_delete ON {table};
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION vs_append_only();
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION vs_append_only();
"""


def lock_columns(table: str, columns: list[str]) -> Any:
    """Migration operation: installs locked_columns_sql on PostgreSQL, nothing elsewhere."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(FUNCTION_SQL, params=None)
            schema_editor.execute(locked_columns_sql(table, columns), params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {table}_locked_update ON {table}; "
                f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}; "
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
                params=None,
            )

    return migrations.RunPython(forwards, backwards)


def allow_purge() -> None:
    """Lets DELETE through the append-only triggers for the rest of the current transaction.

    Only the audited retention process (cases/retention.py, core.audit.purge_events) calls this.
    The flag is transaction-local (set_config(..., true)), so it ends with the commit or rollback
    and can never leak into another request that reuses the connection.
    """
    from django.db import connection

    if not connection.in_atomic_block:
        raise RuntimeError("allow_purge() must be called inside the purge's own transaction.atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_FLAG])
