"""Contract double of supabase/postgres-meta: needs CRYPTO_KEY, answers /health once it can connect
with PG_META_DB_*, and lists tables and schemas for real from the database catalogue."""
from __future__ import annotations

import json
import time

from doublelib.common import (
    Pg,
    Readiness,
    env,
    keep_checking,
    literal,
    log,
    psql,
    refuse,
    reply,
    serve,
    setup,
)

SYSTEM = ("pg_catalog", "information_schema", "pg_toast")


def check_config() -> Pg:
    if not env("CRYPTO_KEY"):
        refuse("Error: CRYPTO_KEY is required (it decrypts the connection strings Studio sends)")
    port = env("PG_META_DB_PORT", "5432")
    if not port.isdigit() or not env("PG_META_PORT", "1337").isdigit():
        refuse("Error: PG_META_DB_PORT and PG_META_PORT must be port numbers")
    if env("PG_META_DB_URL"):
        try:
            return Pg.from_url(env("PG_META_DB_URL"))
        except ValueError:
            refuse("Error: PG_META_DB_URL must be a postgres:// URL")
    return Pg(env("PG_META_DB_HOST", "localhost"), int(port), env("PG_META_DB_USER", "postgres"),
              env("PG_META_DB_PASSWORD"), env("PG_META_DB_NAME", "postgres"))


def schema_filter(query: dict[str, str], column: str) -> str:
    included = [s for s in query.get("included_schemas", "").split(",") if s]
    excluded = [s for s in query.get("excluded_schemas", "").split(",") if s] + list(SYSTEM)
    clauses = [f"{column} NOT IN ({', '.join(literal(s) for s in excluded)})"]
    if included:
        clauses.append(f"{column} IN ({', '.join(literal(s) for s in included)})")
    return " AND ".join(clauses)


def main() -> None:
    setup("postgres-meta")
    pg = check_config()
    ready = Readiness()
    keep_checking(ready, lambda: psql(pg, "SELECT 1;"), f"connected as {pg.user}@{pg.host}:{pg.port}/{pg.dbname}")

    def run(sql: str):
        result = psql(pg, sql)
        if not result.ok:
            return reply(400, {"error": result.message or result.reason()})
        return reply(200, json.loads(result.out.strip() or "[]"))

    def handle(request):
        if request.path == "/health":
            return reply(200, {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ")}) if ready else \
                reply(503, {"error": ready.detail})
        if request.path == "/tables" and request.method == "GET":
            return run("SELECT coalesce(json_agg(json_build_object('id', c.oid, 'schema', n.nspname, 'name', "
                       "c.relname, 'rls_enabled', c.relrowsecurity, 'rls_forced', c.relforcerowsecurity, "
                       "'live_rows_estimate', c.reltuples::bigint, 'comment', obj_description(c.oid, 'pg_class')) "
                       "ORDER BY n.nspname, c.relname), '[]')::text FROM pg_class c JOIN pg_namespace n "
                       f"ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
                       f"{schema_filter(request.query, 'n.nspname')};")
        if request.path == "/schemas" and request.method == "GET":
            return run("SELECT coalesce(json_agg(json_build_object('id', n.oid, 'name', n.nspname, 'owner', "
                       "pg_get_userbyid(n.nspowner)) ORDER BY n.nspname), '[]')::text FROM pg_namespace n "
                       f"WHERE {schema_filter(request.query, 'n.nspname')} AND n.nspname NOT LIKE 'pg_temp%' "
                       "AND n.nspname NOT LIKE 'pg_toast_temp%';")
        return reply(404, {"error": "not implemented by the postgres-meta contract double"})

    log(f"database {pg.user}@{pg.host}:{pg.port}/{pg.dbname}")
    serve(handle, int(env("PG_META_PORT", "1337")), env("PG_META_HOST") or "0.0.0.0",
          quiet=lambda r: r.path == "/health")


if __name__ == "__main__":
    main()
