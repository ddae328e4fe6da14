"""Contract doubles of the smaller Supabase services: auth (GoTrue), realtime, storage, imgproxy,
postgres-meta and studio. Each checks its configuration as the real one does and needs the real
database before it reports healthy."""
from __future__ import annotations

import sys
import threading
import urllib.request
from pathlib import Path

from common import bearer, env, jwt_claims, log, pg_params, psql, refuse, reply, serve, wait_for_db


def auth() -> None:
    if not env("GOTRUE_JWT_SECRET"):
        refuse("GOTRUE_JWT_SECRET is required")
    if not env("GOTRUE_DB_DATABASE_URL"):
        refuse("GOTRUE_DB_DATABASE_URL is required")
    if not env("API_EXTERNAL_URL"):
        refuse("API_EXTERNAL_URL is required")
    params = pg_params(env("GOTRUE_DB_DATABASE_URL"))
    ready = threading.Event()

    def migrate() -> None:
        wait_for_db(params, "CREATE SCHEMA IF NOT EXISTS auth; SELECT 1", "auth")
        ready.set()

    threading.Thread(target=migrate, daemon=True).start()

    def handle(request):
        if request.path == "/health":
            if not ready.is_set():
                return reply(503, {"msg": "starting"})
            return reply(200, {"version": "double", "name": "GoTrue", "description": "GoTrue double"})
        if request.path == "/settings":
            return reply(200, {"external": {"email": True}, "disable_signup": env("GOTRUE_DISABLE_SIGNUP") == "true",
                               "mailer_autoconfirm": env("GOTRUE_MAILER_AUTOCONFIRM") == "true"})
        return reply(404, {"code": 404, "msg": "Not Found"})

    serve(handle, int(env("GOTRUE_API_PORT", "9999")), env("GOTRUE_API_HOST", "0.0.0.0"))


def realtime() -> None:
    if len(env("SECRET_KEY_BASE")) < 64:
        refuse("SECRET_KEY_BASE must be at least 64 bytes")
    if len(env("DB_ENC_KEY")) != 16:
        refuse("DB_ENC_KEY must be 16 characters")
    if not env("API_JWT_SECRET"):
        refuse("API_JWT_SECRET is required")
    params = {"PGHOST": env("DB_HOST"), "PGPORT": env("DB_PORT", "5432"), "PGUSER": env("DB_USER"),
              "PGPASSWORD": env("DB_PASSWORD"), "PGDATABASE": env("DB_NAME", "postgres")}
    ready = threading.Event()
    threading.Thread(target=lambda: (wait_for_db(params, "SELECT 1", "realtime"), ready.set()), daemon=True).start()

    def handle(request):
        if request.path.startswith("/api/tenants/") and request.path.endswith("/health"):
            if jwt_claims(bearer(request), env("API_JWT_SECRET")) is None:
                return reply(403, {"message": "Forbidden"})
            return reply(200 if ready.is_set() else 503, {"healthy": ready.is_set()})
        return reply(404, {"error": "not found"})

    serve(handle, int(env("PORT", "4000")))


def storage() -> None:
    secret = env("PGRST_JWT_SECRET")
    for key, role in (("ANON_KEY", "anon"), ("SERVICE_KEY", "service_role")):
        claims = jwt_claims(env(key), secret)
        if not claims or claims.get("role") != role:
            refuse(f"{key} is not a {role} JWT signed with PGRST_JWT_SECRET")
    folder = Path(env("FILE_STORAGE_BACKEND_PATH", "/var/lib/storage"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".storage-double").write_text("writable\n")
    params = pg_params(env("DATABASE_URL"))
    ready = threading.Event()
    threading.Thread(target=lambda: (wait_for_db(params, "SELECT 1", "storage"), ready.set()), daemon=True).start()

    def handle(request):
        if request.path == "/status":
            return reply(200 if ready.is_set() else 503, "")
        return reply(404, {"statusCode": "404", "error": "not_found"})

    serve(handle, int(env("PORT", "5000")))


def imgproxy(argv: list[str]) -> None:
    bind = env("IMGPROXY_BIND", ":8080")
    port = int(bind.rsplit(":", 1)[1])
    if argv[:1] == ["health"]:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3)
        except OSError:
            sys.exit(1)
        return

    def handle(request):
        return reply(200, "imgproxy is running") if request.path == "/health" else reply(404, "Not found")

    serve(handle, port)


def meta() -> None:
    if not env("CRYPTO_KEY"):
        refuse("CRYPTO_KEY is required")
    params = {"PGHOST": env("PG_META_DB_HOST"), "PGPORT": env("PG_META_DB_PORT", "5432"),
              "PGUSER": env("PG_META_DB_USER"), "PGPASSWORD": env("PG_META_DB_PASSWORD"),
              "PGDATABASE": env("PG_META_DB_NAME", "postgres")}

    def handle(request):
        if request.path == "/health":
            code, _, _ = psql(params, "SELECT 1")
            return reply(200 if code == 0 else 503, {"date": "double"})
        if request.path == "/tables":
            code, out, err = psql(params, "SELECT coalesce(json_agg(json_build_object('schema', table_schema, "
                                          "'name', table_name)), '[]') FROM information_schema.tables "
                                          "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
            return reply(200, out.strip()) if code == 0 else reply(500, {"error": err.strip()})
        return reply(404, {"error": "not found"})

    serve(handle, int(env("PG_META_PORT", "8080")))


def studio() -> None:
    for key in ("STUDIO_PG_META_URL", "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_KEY"):
        if not env(key):
            refuse(f"{key} is required")

    def handle(request):
        if request.path == "/api/platform/profile":
            return reply(200, {"id": 1, "primary_email": "admin@localhost", "username": "supabase"})
        if request.path in ("/", "/project/default"):
            return reply(200, "<!doctype html><title>Supabase Studio (double)</title>",
                         {"Content-Type": "text/html"})
        return reply(404, {"error": "not found"})

    host = env("HOSTNAME", "0.0.0.0")
    serve(handle, int(env("PORT", "3000")), "::" if host == "::" else "0.0.0.0")


if __name__ == "__main__":
    service, args = sys.argv[1], sys.argv[2:]
    log(f"{service} starting")
    {"auth": auth, "realtime": realtime, "storage": storage, "meta": meta, "studio": studio}.get(
        service, lambda: imgproxy(args))()
