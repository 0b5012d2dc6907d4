#!/bin/sh
# Runs once, on the first start of an empty PostgreSQL volume (the postgres image's
# /docker-entrypoint-initdb.d). Two roles besides the superuser (docs/operations.md, "Database roles"):
# - victimsupport_owner owns the database and its schema: the migrate and db-grants services connect
#   as it (DATABASE_OWNER_URL), so every table, trigger and the audit purge function belong to it;
# - victimsupport_app is what web, worker and beat connect as (DATABASE_URL). After each migration
#   db-grants (manage.py create_db_roles --grants-only) lets it read and write the ordinary tables
#   but only read and append to the audit tables; it owns nothing, so it cannot lift a trigger.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$DB_OWNER_PASSWORD" -v app_password="$DB_APP_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE victimsupport_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE victimsupport_app LOGIN PASSWORD :'app_password';
ALTER DATABASE :"db" OWNER TO victimsupport_owner;
ALTER SCHEMA public OWNER TO victimsupport_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO victimsupport_app;
SQL
