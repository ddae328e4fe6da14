-- Local AI Stack: the JWT expiry database functions may read (current_setting('app.settings.jwt_exp')).
-- The JWT secret is deliberately NOT stored here: a database setting is readable by every role
-- that can connect (pg_db_role_setting, current_setting), and with it anyone can sign any JWT.
-- Supabase's own self-hosting dropped it for that reason (supabase/supabase issue 43513, PR 45003,
-- which keeps app.settings.jwt_exp). Functions that need the secret should use Vault.
\set ON_ERROR_STOP on
\set jwt_exp `echo "${JWT_EXP:-3600}"`
SELECT format('ALTER DATABASE %I SET "app.settings.jwt_exp" TO %L', current_database(), :'jwt_exp')\gexec
