# The compliance roll-up's change marks (0006), kept off the hot paths. The statement-level
# triggers of 0006 built transition tables for every UPDATE of a takedown request or a notice,
# including the many that change nothing a figure reads (a re-check that finds the material still
# up, a notice being claimed). Row-level triggers with a WHEN condition are tested by PostgreSQL
# without calling the function, so those updates do no trigger work at all; only a change a figure
# reads inserts a mark (one per changed row: the refresh takes them all at once anyway).
# bench/dispatch.py could not tell the versions apart: its runs vary by about 20% either way.

from django.db import migrations

RELEVANT = [
    "sent_at", "removed_at", "acknowledged_at", "reappeared_at", "deadline", "status", "escalation_level",
    "platform_id", "case_id",
]  # fmt: skip
CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in RELEVANT)

FORWARD_SQL = """
DROP TRIGGER IF EXISTS compliance_request_inserted ON takedowns_takedownrequest;
DROP TRIGGER IF EXISTS compliance_request_updated ON takedowns_takedownrequest;
DROP TRIGGER IF EXISTS compliance_request_deleted ON takedowns_takedownrequest;
DROP TRIGGER IF EXISTS compliance_notice_inserted ON takedowns_notice;
DROP TRIGGER IF EXISTS compliance_notice_updated ON takedowns_notice;
DROP TRIGGER IF EXISTS compliance_case_updated ON cases_case;
DROP FUNCTION IF EXISTS vs_compliance_request_inserted();
DROP FUNCTION IF EXISTS vs_compliance_request_updated();
DROP FUNCTION IF EXISTS vs_compliance_request_deleted();
DROP FUNCTION IF EXISTS vs_compliance_notice_changed();
DROP FUNCTION IF EXISTS vs_compliance_case_updated();

CREATE OR REPLACE FUNCTION vs_compliance_mark_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.sent_at IS NOT NULL THEN
        INSERT INTO takedowns_compliancedirty(hour) VALUES (date_trunc('hour', NEW.sent_at));
    END IF;
    -- The old hour too when the day moves, or the row goes.
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.sent_at IS NOT NULL
       AND (TG_OP = 'DELETE' OR OLD.sent_at IS DISTINCT FROM NEW.sent_at) THEN
        INSERT INTO takedowns_compliancedirty(hour) VALUES (date_trunc('hour', OLD.sent_at));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION vs_compliance_mark_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO takedowns_compliancedirty(hour)
    SELECT date_trunc('hour', r.sent_at) FROM takedowns_takedownrequest r
    WHERE r.id = NEW.request_id AND r.sent_at IS NOT NULL;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION vs_compliance_mark_case() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO takedowns_compliancedirty(hour)
    SELECT DISTINCT date_trunc('hour', r.sent_at) FROM takedowns_takedownrequest r
    WHERE r.case_id = NEW.id AND r.sent_at IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER compliance_request_inserted AFTER INSERT ON takedowns_takedownrequest
    FOR EACH ROW WHEN (NEW.sent_at IS NOT NULL) EXECUTE FUNCTION vs_compliance_mark_request();
CREATE TRIGGER compliance_request_updated AFTER UPDATE ON takedowns_takedownrequest
    FOR EACH ROW WHEN (CHANGED) EXECUTE FUNCTION vs_compliance_mark_request();
CREATE TRIGGER compliance_request_deleted AFTER DELETE ON takedowns_takedownrequest
    FOR EACH ROW WHEN (OLD.sent_at IS NOT NULL) EXECUTE FUNCTION vs_compliance_mark_request();
-- Re-notices count once delivered.
CREATE TRIGGER compliance_notice_inserted AFTER INSERT ON takedowns_notice
    FOR EACH ROW WHEN (NEW.kind = 'resend' AND NEW.status = 'delivered') EXECUTE FUNCTION vs_compliance_mark_notice();
CREATE TRIGGER compliance_notice_updated AFTER UPDATE ON takedowns_notice
    FOR EACH ROW WHEN (NEW.kind = 'resend' AND NEW.status = 'delivered' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION vs_compliance_mark_notice();
-- The roll-up is kept per case category.
CREATE TRIGGER compliance_case_updated AFTER UPDATE ON cases_case
    FOR EACH ROW WHEN (OLD.category IS DISTINCT FROM NEW.category) EXECUTE FUNCTION vs_compliance_mark_case();
""".replace("WHEN (CHANGED)", f"WHEN ({CHANGED})")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD_SQL, params=None)


def backwards(apps, schema_editor):
    # Back to 0006's statement-level triggers.
    if schema_editor.connection.vendor == "postgresql":
        import importlib

        earlier = importlib.import_module("takedowns.migrations.0006_compliance_rollup")
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS compliance_request_inserted ON takedowns_takedownrequest;"
            "DROP TRIGGER IF EXISTS compliance_request_updated ON takedowns_takedownrequest;"
            "DROP TRIGGER IF EXISTS compliance_request_deleted ON takedowns_takedownrequest;"
            "DROP TRIGGER IF EXISTS compliance_notice_inserted ON takedowns_notice;"
            "DROP TRIGGER IF EXISTS compliance_notice_updated ON takedowns_notice;"
            "DROP TRIGGER IF EXISTS compliance_case_updated ON cases_case;",
            params=None,
        )
        earlier.install_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("takedowns", "0007_hashlist_outlives_purge"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
