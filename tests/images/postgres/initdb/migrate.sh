#!/bin/bash
# The init step of supabase/postgres, which the image ships as /docker-entrypoint-initdb.d/
# migrate.sh (Dockerfile-17: COPY migrations/db /docker-entrypoint-initdb.d/) and the official
# entrypoint runs as the only top-level init file (init-scripts/ and migrations/ are folders, so
# the entrypoint itself ignores them). What it does (migrations/db/migrate.sh @15.8.1.004
# lines 16-51; same steps in the 17.x revisions):
#   1. as supabase_admin (the initdb superuser): create the role postgres, SUPERUSER LOGIN with
#      POSTGRES_PASSWORD, if it is missing, and give it the database postgres (lines 31-40);
#   2. every init-scripts/*.sql, in glob order, as postgres (lines 42-45);
#   3. supabase_admin gets POSTGRES_PASSWORD as its password (line 46);
#   4. every migrations/*.sql as supabase_admin (lines 48-51); one of them demotes postgres.
# Connections: PGHOST=${POSTGRES_HOST:-localhost}, PGDATABASE=${POSTGRES_DB:-postgres} (lines 16-19).
# Unlike upstream, the password reaches psql as a variable read from the environment, never argv.
set -Eeuo pipefail

export PGDATABASE="${POSTGRES_DB:-postgres}"
export PGHOST="${POSTGRES_HOST:-localhost}"
export PGPORT="${POSTGRES_PORT:-5432}"
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
db=$(cd -- "$(dirname -- "$0")" && pwd)
psql_as() { psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc -U "$@"; }

psql_as supabase_admin -q <<'EOSQL'
\set pw `printf '%s' "$PGPASSWORD"`
SELECT format('CREATE ROLE postgres SUPERUSER LOGIN PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgres')\gexec
SELECT 'ALTER DATABASE postgres OWNER TO postgres'
 WHERE (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postgres') <> 'postgres'\gexec
EOSQL

for sql in "$db"/init-scripts/*.sql; do
	[ -e "$sql" ] || continue
	echo "$0: running $sql"
	psql_as postgres -f "$sql"
done

psql_as postgres -q <<'EOSQL'
\set pw `printf '%s' "$PGPASSWORD"`
SELECT format('ALTER ROLE supabase_admin WITH PASSWORD %L', :'pw')\gexec
EOSQL

for sql in "$db"/migrations/*.sql; do
	[ -e "$sql" ] || continue
	echo "$0: running $sql"
	psql_as supabase_admin -f "$sql"
done
