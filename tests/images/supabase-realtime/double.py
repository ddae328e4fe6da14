"""Contract double of supabase/realtime: the boot checks Realtime makes (SECRET_KEY_BASE, DB_ENC_KEY,
API_JWT_SECRET, APP_NAME), a real connection to Postgres as DB_USER with DB_AFTER_CONNECT_QUERY,
and the tenant health endpoint, authorized by a JWT signed with API_JWT_SECRET."""
from __future__ import annotations

from doublelib.common import (
    JWTError,
    Pg,
    Readiness,
    bearer,
    env,
    go_bool,
    jwt_verify,
    keep_checking,
    log,
    psql,
    refuse,
    reply,
    serve,
    setup,
)

TENANT = "realtime-dev"


def check_config() -> Pg:
    if len(env("SECRET_KEY_BASE").encode()) < 64:
        refuse("** (ArgumentError) SECRET_KEY_BASE must be at least 64 bytes (Phoenix signing)")
    if len(env("DB_ENC_KEY")) != 16:
        refuse("** (ArgumentError) DB_ENC_KEY must be exactly 16 characters (AES-128 key)")
    for name in ("API_JWT_SECRET", "APP_NAME", "DB_HOST", "DB_USER", "DB_NAME"):
        if not env(name):
            refuse(f"** (RuntimeError) environment variable {name} is missing")
    if not env("DB_PORT", "5432").isdigit() or not env("PORT", "4000").isdigit():
        refuse("** (ArgumentError) DB_PORT and PORT must be integers")
    return Pg(env("DB_HOST"), int(env("DB_PORT", "5432")), env("DB_USER"), env("DB_PASSWORD"), env("DB_NAME"))


def main() -> None:
    setup("realtime")
    pg = check_config()
    seeded = go_bool(env("SEED_SELF_HOST", "false")) is True
    tenants = {TENANT} if seeded else set()
    log(f"database {pg.user}@{pg.host}:{pg.port}/{pg.dbname}; seed self-host tenant: {seeded}")
    after = env("DB_AFTER_CONNECT_QUERY")
    migrate = (f"{after.rstrip(';')};\n" if after else "") + (
        "CREATE SCHEMA IF NOT EXISTS _realtime;\n"
        "CREATE TABLE IF NOT EXISTS _realtime.schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp);\n"
        "SELECT 1;")
    ready = Readiness()
    keep_checking(ready, lambda: psql(pg, migrate), f"connected to the database as {pg.user}")

    def handle(request):
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 4 and parts[:2] == ["api", "tenants"] and parts[3] == "health":
            try:
                jwt_verify(bearer(request), env("API_JWT_SECRET"))
            except JWTError as exc:
                log(f"tenant health: token refused ({exc.reason})")
                return reply(403, {"message": "Forbidden"})
            if parts[2] not in tenants:
                return reply(404, {"message": "Tenant not found"})
            if not ready:
                return reply(503, {"data": {"healthy": False, "db_connected": False}})
            return reply(200, {"data": {"healthy": True, "db_connected": True, "connected_cluster": 1}})
        if request.path == "/api/ping":
            return reply(200, {"message": "Success"})
        if request.path == "/":
            return reply(200, "Realtime (contract double)")
        return reply(404, {"message": "Not Found"})

    serve(handle, int(env("PORT", "4000")), "0.0.0.0", quiet=lambda r: r.path.endswith("/health"))


if __name__ == "__main__":
    main()
