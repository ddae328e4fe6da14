-- Local AI Stack: a tiny function start.py calls through the API gateway after `up` to prove
-- that each API key maps to the database role it should (anon stays anon).
\set ON_ERROR_STOP on
CREATE OR REPLACE FUNCTION public.localai_whoami() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT current_user::text $$;
COMMENT ON FUNCTION public.localai_whoami() IS 'Local AI Stack: which role the API key maps to.';
REVOKE ALL ON FUNCTION public.localai_whoami() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.localai_whoami() TO anon, authenticated, service_role;
