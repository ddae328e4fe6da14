-- Local AI Stack: JWT settings the database functions read (auth.jwt(), realtime).
-- Values come from the container's environment, never from this file.
\set ON_ERROR_STOP on
\set jwt_secret `echo "$JWT_SECRET"`
\set jwt_exp `echo "${JWT_EXP:-3600}"`
SELECT set_config('localai.jwt_secret', :'jwt_secret', false) IS NOT NULL AS secret_loaded,
       set_config('localai.jwt_exp', :'jwt_exp', false) IS NOT NULL AS exp_loaded;

DO $localai$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET "app.settings.jwt_secret" TO %L',
                 current_database(), current_setting('localai.jwt_secret'));
  EXECUTE format('ALTER DATABASE %I SET "app.settings.jwt_exp" TO %L',
                 current_database(), current_setting('localai.jwt_exp'));
END
$localai$;

SELECT set_config('localai.jwt_secret', '', false) IS NOT NULL AS secret_cleared;
