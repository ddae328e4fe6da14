-- Local AI Stack: roles, schemas and grants the Supabase services rely on.
-- Runs once, when the database is first initialised. Every step is idempotent: the
-- supabase/postgres image already ships most roles; a plain Postgres gets them here.
-- Passwords come from the container's environment, never from this file.
\set ON_ERROR_STOP on
\set pgpass `echo "$POSTGRES_PASSWORD"`
SELECT set_config('localai.pgpass', :'pgpass', false) IS NOT NULL AS password_loaded;

DO $localai$
DECLARE
  r record;
  created boolean;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('anon',                     'NOLOGIN NOINHERIT',                                      false),
      ('authenticated',            'NOLOGIN NOINHERIT',                                      false),
      ('service_role',             'NOLOGIN NOINHERIT BYPASSRLS',                            false),
      ('authenticator',            'LOGIN NOINHERIT',                                        true),
      ('supabase_admin',           'LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS', false),
      ('supabase_auth_admin',      'LOGIN NOINHERIT CREATEROLE',                             true),
      ('supabase_storage_admin',   'LOGIN NOINHERIT CREATEROLE',                             true),
      ('supabase_functions_admin', 'LOGIN NOINHERIT CREATEROLE',                             true),
      ('pgbouncer',                'LOGIN',                                                  true)
    ) AS t(name, options, always_set_password)
    -- Not supabase_realtime_admin: Realtime's own migrations create it when it is missing
    -- (supabase/realtime v2.129.8, the newest stored tag below the pinned v2.134.10:
    -- lib/realtime/tenants/repo/migrations/20240401105812_create_realtime_admin_and_move_ownership.ex:11-17
    -- and 20260707120000_restrict_realtime_schema.ex:11-12, NOINHERIT NOLOGIN NOREPLICATION), and
    -- newer supabase/postgres images create it with their own flags (init-scripts/
    -- 00000000000003-realtime-schema.sql: LOGIN REPLICATION CREATEROLE). Whoever owns the role
    -- makes it; a copy of ours with other flags would only shadow theirs.
  LOOP
    created := NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name);
    IF created THEN
      EXECUTE format('CREATE ROLE %I %s', r.name, r.options);
    END IF;
    -- supabase_admin's password belongs to the image when it made the role itself.
    IF r.always_set_password OR (created AND r.options LIKE 'LOGIN%') THEN
      EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', r.name, current_setting('localai.pgpass'));
    END IF;
  END LOOP;
END
$localai$;

SELECT set_config('localai.pgpass', '', false) IS NOT NULL AS password_cleared;

-- Grants and schemas; a step the current user may not take (the image did it already) is skipped.
DO $localai$
DECLARE
  stmt text;
BEGIN
  FOREACH stmt IN ARRAY ARRAY[
    'GRANT anon, authenticated, service_role TO authenticator',
    'GRANT anon, authenticated, service_role TO supabase_storage_admin',
    'CREATE SCHEMA IF NOT EXISTS extensions',
    'CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin',
    'CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_storage_admin',
    'CREATE SCHEMA IF NOT EXISTS graphql_public',
    'GRANT USAGE ON SCHEMA public, extensions, graphql_public TO anon, authenticated, service_role',
    'GRANT USAGE ON SCHEMA auth, storage TO anon, authenticated, service_role',
    'ALTER ROLE supabase_auth_admin SET search_path = auth',
    'ALTER ROLE supabase_storage_admin SET search_path = storage',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role',
    'ALTER ROLE authenticator SET statement_timeout = ''8s''',
    'ALTER ROLE anon SET statement_timeout = ''3s''',
    'ALTER ROLE authenticated SET statement_timeout = ''8s''',
    format('GRANT CREATE, CONNECT ON DATABASE %I TO supabase_auth_admin, supabase_storage_admin, '
           'supabase_functions_admin', current_database())
  ]
  LOOP
    BEGIN
      EXECUTE stmt;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'localai: skipped (%), the image manages it', stmt;
    END;
  END LOOP;
END
$localai$;
