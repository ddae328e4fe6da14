-- Local AI Stack: schemas Supabase Realtime keeps its state in.
\set ON_ERROR_STOP on
CREATE SCHEMA IF NOT EXISTS _realtime;
CREATE SCHEMA IF NOT EXISTS realtime;
ALTER SCHEMA _realtime OWNER TO supabase_admin;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, service_role;
