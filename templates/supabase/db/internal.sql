-- Local AI Stack: the internal database the analytics and pooler services (full set) use.
\set ON_ERROR_STOP on
SELECT 'CREATE DATABASE _supabase WITH OWNER supabase_admin'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '_supabase')\gexec
\c _supabase
CREATE SCHEMA IF NOT EXISTS _analytics AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS _supavisor AUTHORIZATION supabase_admin;
