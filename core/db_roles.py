"""Separation of duties inside PostgreSQL (docs/operations.md, "Database roles").

Two roles: an OWNER that owns the schema, runs migrations and owns the purge function, and the APP
role that web and worker processes connect as. The app may only SELECT and INSERT the audit tables
(core_auditevent, core_auditcheckpoint): without ownership it can neither UPDATE, DELETE or
TRUNCATE them nor switch their append-only triggers off (ALTER TABLE ... DISABLE TRIGGER needs
ownership). The retention process deletes old audit events only through PURGE_FUNCTION_SQL, a
SECURITY DEFINER function owned by the owner, which checks the retention rules itself with the
database's own clock, so a compromised app cannot purge early by lying about the time.

PURGE_FUNCTION_SQL is installed by migration core 0005; role_sql() by `manage.py create_db_roles`
(or its --sql output through psql). Tests connect as the superuser, so they create the roles
themselves (tests/security/test_db_roles.py).
"""

from __future__ import annotations

from core.dbguard import PURGE_FLAG

# The audit tables the app may only read and append to.
AUDIT_TABLES = ("core_auditevent", "core_auditcheckpoint")
# The smallest RETENTION_AUDIT_DAYS the retention process accepts (cases/retention.py, POLICIES).
MIN_AUDIT_DAYS = 365
PURGE_FUNCTION = "vs_purge_audit_events(bigint, integer)"

PURGE_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION vs_purge_audit_events(p_anchor_id bigint, p_policy_days integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    anchor_hash text;
    anchor_at timestamptz;
    held integer := 0;
    deleted integer;
BEGIN
    -- 1. The policy: never shorter than the minimum, whatever the caller says.
    IF p_policy_days IS NULL OR p_policy_days < {MIN_AUDIT_DAYS} THEN
        RAISE EXCEPTION 'audit events are kept at least {MIN_AUDIT_DAYS} days, not %', p_policy_days
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- 2. The anchor (the newest event to delete) must be older than the policy by the database's clock.
    SELECT hash, created_at INTO anchor_hash, anchor_at FROM core_auditevent WHERE id = p_anchor_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no audit event % to purge up to', p_anchor_id USING ERRCODE = 'no_data_found';
    END IF;
    IF anchor_at >= now() - make_interval(days => p_policy_days) THEN
        RAISE EXCEPTION 'audit event % is younger than % days', p_anchor_id, p_policy_days
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- 3. Only up to a checkpoint of the head, so the anchor stays vouched for by a signed record.
    IF NOT EXISTS (SELECT 1 FROM core_auditcheckpoint WHERE head_id = p_anchor_id AND head_hash = anchor_hash) THEN
        RAISE EXCEPTION 'audit event % is not a checkpoint of the chain', p_anchor_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- 4. Never past the first event about a case under legal hold (the cases app's table, when
    --    installed; read dynamically so core does not depend on it).
    IF to_regclass('cases_legalhold') IS NOT NULL THEN
        EXECUTE 'SELECT count(*) FROM core_auditevent e JOIN cases_legalhold h
                 ON h.lifted_at IS NULL AND e.object_type = ''cases.case'' AND e.object_id = h.case_id::text
                 WHERE e.id <= $1' INTO held USING p_anchor_id;
        IF held > 0 THEN
            RAISE EXCEPTION 'audit events up to % include a case under legal hold', p_anchor_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    PERFORM set_config('{PURGE_FLAG}', 'on', true);
    DELETE FROM core_auditevent WHERE id <= p_anchor_id;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;
REVOKE ALL ON FUNCTION {PURGE_FUNCTION} FROM PUBLIC;
"""  # noqa: S608 - constants only, no input

DROP_PURGE_FUNCTION_SQL = f"DROP FUNCTION IF EXISTS {PURGE_FUNCTION};"


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[:1].isalpha():
        raise ValueError(f"role name {name!r}: letters, digits and _ only, starting with a letter")
    return f'"{name}"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_roles_sql(*, owner: str, app: str, owner_password: str = "", app_password: str = "") -> str:
    """Creates the two login roles if missing (needs a superuser or CREATEROLE)."""
    parts = []
    for role, password in ((owner, owner_password), (app, app_password)):
        parts.append(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role)}) THEN "
            f"CREATE ROLE {_ident(role)} LOGIN; END IF; END $$;"
        )
        if password:
            parts.append(f"ALTER ROLE {_ident(role)} WITH LOGIN PASSWORD {_literal(password)};")
    return "\n".join(parts)


def ownership_sql(*, owner: str) -> str:
    """Hands every table, sequence, view and function of the public schema to the owner (needs a
    superuser; not needed when the owner ran the migrations itself, as in docker-compose)."""
    return f"""
ALTER SCHEMA public OWNER TO {_ident(owner)};
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO {_ident(owner)}', r.relname);
    END LOOP;
    FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'S'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER SEQUENCE %I OWNER TO {_ident(owner)}', r.relname);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS proc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO {_ident(owner)}', r.proc);
    END LOOP;
END $$;
"""  # noqa: S608 - the role name passed _ident()


def grants_sql(*, owner: str, app: str) -> str:
    """What the app may do: everything ordinary on ordinary tables, only SELECT and INSERT on the
    audit tables, EXECUTE on the purge function, nothing on the schema itself. Run by the owner (or
    a superuser) after every migration, since new tables need their grants."""
    audit = ", ".join(AUDIT_TABLES)
    return f"""
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {_ident(app)};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {_ident(app)};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {_ident(app)};
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {_ident(app)};
REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {_ident(app)};
ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {_ident(app)};
ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {_ident(app)};
REVOKE ALL ON FUNCTION {PURGE_FUNCTION} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {PURGE_FUNCTION} TO {_ident(app)};
"""


def role_sql(*, owner: str, app: str, owner_password: str = "", app_password: str = "", grants_only: bool = False) -> str:
    if grants_only:
        return grants_sql(owner=owner, app=app)
    return "\n".join(
        [
            create_roles_sql(owner=owner, app=app, owner_password=owner_password, app_password=app_password),
            ownership_sql(owner=owner),
            grants_sql(owner=owner, app=app),
        ]
    )
