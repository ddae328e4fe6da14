-- Local AI Stack: n8n gets its own database and role (not the Postgres superuser), and only that
-- database: by default PUBLIC may connect to (and create TEMP tables in) every database, so n8n
-- could open the Supabase ones. The password comes from the container's environment (N8N_DB_PASSWORD).
\set ON_ERROR_STOP on
\set n8npass `echo "$N8N_DB_PASSWORD"`
SELECT 'CREATE ROLE n8n WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'n8n')\gexec
ALTER ROLE n8n WITH PASSWORD :'n8npass';
SELECT 'CREATE DATABASE n8n WITH OWNER n8n'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'n8n')\gexec
REVOKE ALL ON DATABASE n8n FROM PUBLIC;
GRANT ALL ON DATABASE n8n TO n8n;

-- The Supabase databases: PUBLIC's CONNECT and TEMPORARY go; every role that exists now (the
-- Supabase services log in as authenticator, supabase_auth_admin, supabase_storage_admin, postgres,
-- pgbouncer and supabase_admin; the image has a few more) gets them back explicitly, n8n does not.
-- A role created later needs `GRANT CONNECT ON DATABASE ...` to log in to them.
DO $localai$
DECLARE
  db text;
  r record;
BEGIN
  FOREACH db IN ARRAY ARRAY[current_database(), '_supabase'] LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db);
    FOR r IN SELECT rolname FROM pg_roles
              WHERE rolname <> 'n8n' AND rolname NOT LIKE 'pg\_%' ORDER BY rolname LOOP
      EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, r.rolname);
    END LOOP;
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db);
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM n8n', db);
  END LOOP;
END
$localai$;

\c n8n
ALTER SCHEMA public OWNER TO n8n;
