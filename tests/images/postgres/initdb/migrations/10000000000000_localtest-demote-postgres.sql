-- The demotion of postgres, as supabase/postgres does it in its migrations, which run as
-- supabase_admin: migrations/db/migrations/10000000000000_demote-postgres.sql (@15.8.1.004
-- lines 4-17): postgres gets every privilege on the database and the auth, storage and
-- extensions schemas and their objects, then stops being a superuser (it keeps CREATEDB,
-- CREATEROLE, LOGIN, REPLICATION, BYPASSRLS). From here on postgres cannot alter a superuser
-- role (supabase_admin), set superuser-only parameters, or touch objects it does not own.
-- Restated for the test image, not copied.
\set ON_ERROR_STOP on
SELECT format('GRANT ALL ON DATABASE %I TO postgres', current_database())\gexec
GRANT ALL ON SCHEMA auth, storage, extensions TO postgres;
GRANT ALL ON ALL TABLES IN SCHEMA auth, storage, extensions TO postgres;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth, storage, extensions TO postgres;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth, storage, extensions TO postgres;
ALTER ROLE postgres NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS;
-- 20230201083204_grant_auth_roles_to_postgres.sql line 2: postgres may act as the API roles.
GRANT anon, authenticated, service_role TO postgres;
