-- Local AI Stack: n8n gets its own database and role (not the Postgres superuser).
-- The password comes from the container's environment (N8N_DB_PASSWORD).
\set ON_ERROR_STOP on
\set n8npass `echo "$N8N_DB_PASSWORD"`
SELECT 'CREATE ROLE n8n WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'n8n')\gexec
ALTER ROLE n8n WITH PASSWORD :'n8npass';
SELECT 'CREATE DATABASE n8n WITH OWNER n8n'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'n8n')\gexec
REVOKE ALL ON DATABASE n8n FROM PUBLIC;
GRANT ALL ON DATABASE n8n TO n8n;
\c n8n
ALTER SCHEMA public OWNER TO n8n;
