"""Contract double of supabase/logflare (Supabase Analytics): `logflare eval Logflare.Release.migrate`
and `logflare start` as run.sh calls them, the boot checks of config/runtime.exs, migrations and the
Supabase-mode seed for real in Postgres (DB_* with search_path DB_SCHEMA), `GET /health`, and the
ingest API (`POST /api/logs?source_name=...`) authorised by the access tokens.

Upstream facts: Logflare/logflare @ v1.42.0 (the pinned supabase/logflare:1.42.0).
Limits: events are counted and logged (no BigQuery/Postgres backend tables are written); no UI.
"""
from __future__ import annotations

import os
import re
import sys
import threading

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

# lib/logflare/single_tenant.ex:47-57: the sources Supabase mode seeds for the single tenant.
SEED_SOURCES = ("cloudflare.logs.prod", "postgres.logs", "deno-relay-logs", "deno-subhosting-events",
                "gotrue.logs.prod", "realtime.logs.prod", "storage.logs.prod.2", "postgREST.logs.prod",
                "pgbouncer.logs.prod")
BOOT = "ERROR! Config provider Config.Reader failed with: "


def get_boolean(name: str) -> bool:
    """Env.get_boolean (config/runtime.exs:5-10): downcased and turned into an *existing* atom, so
    "true"/"false" work and e.g. "yes" raises at boot (the double knows no other atoms)."""
    value = os.environ.get(name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered not in ("true", "false", "nil"):
        refuse(f"{BOOT}** (ArgumentError) errors were found at the given arguments: * 1st argument: not an "
               f"already existing atom ({name})")
    return lowered == "true"


def to_integer(name: str) -> None:
    value = os.environ.get(name)
    if value is not None and not re.fullmatch(r"[+-]?\d+", value):
        refuse(f"{BOOT}** (ArgumentError) errors were found at the given arguments: * 1st argument: not a "
               f"textual representation of an integer ({name})")


def check_config() -> tuple[Pg, str]:
    single = get_boolean("LOGFLARE_SINGLE_TENANT")        # runtime.exs:81
    get_boolean("LOGFLARE_SUPABASE_MODE")                 # runtime.exs:82
    for name in ("DB_PORT", "DB_POOL_SIZE", "LOGFLARE_GRPC_PORT", "LOGFLARE_PUBSUB_POOL_SIZE"):
        to_integer(name)                                  # runtime.exs:63,146-147,166-167,288
    override = os.environ.get("LOGFLARE_FEATURE_FLAG_OVERRIDE")
    if override is not None:
        # runtime.exs:373-387: "k=v,k=v" -> split on "=" -> List.to_tuple -> Map.new: each item must
        # split into exactly two parts, or Map.new raises.
        for item in override.lower().split(","):
            if len(item.split("=")) != 2:
                refuse(f"{BOOT}** (ArgumentError) LOGFLARE_FEATURE_FLAG_OVERRIDE item {item!r} is not key=value")
    backend = os.environ.get("POSTGRES_BACKEND_URL")
    if single and backend is not None and not re.match(r"postgres(ql)?://", backend):   # runtime.exs:310-317
        log("POSTGRES_BACKEND_URL is not a postgres:// URL: the backend will not connect")
    # runtime.exs:146-167 (Logflare.Repo): DB_DATABASE/HOSTNAME/PASSWORD/USERNAME/PORT, and
    # after_connect `set search_path=<DB_SCHEMA>` when DB_SCHEMA is set (:161-162).
    pg = Pg(env("DB_HOSTNAME"), int(env("DB_PORT", "5432")), env("DB_USERNAME"), env("DB_PASSWORD"),
            env("DB_DATABASE"))
    return pg, env("DB_SCHEMA")


def search_path(schema: str) -> str:
    return f"set search_path={schema};\n" if schema else ""


def migrate(pg: Pg, schema: str) -> int:
    """Logflare.Release.migrate: Ecto migrations through the Repo (search_path DB_SCHEMA). A missing
    schema is Postgres's own error: "no schema has been selected to create in"."""
    sql = search_path(schema) + (
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp);\n"
        "CREATE TABLE IF NOT EXISTS double_sources (name text PRIMARY KEY, events bigint NOT NULL DEFAULT 0);\n"
        "INSERT INTO schema_migrations VALUES (1, now()) ON CONFLICT DO NOTHING;")
    result = psql(pg, sql)
    if not result.ok:
        print(f"** (Postgrex.Error) {result.reason()}", file=sys.stderr, flush=True)
        return 1
    log(f"migrations ran (search_path {schema or 'default'})")
    return 0


def start(pg: Pg, schema: str) -> None:
    public = os.environ.get("LOGFLARE_PUBLIC_ACCESS_TOKEN") or os.environ.get("LOGFLARE_API_KEY")  # runtime.exs:83-84
    private = os.environ.get("LOGFLARE_PRIVATE_ACCESS_TOKEN")                                      # runtime.exs:85
    supabase = get_boolean("LOGFLARE_SUPABASE_MODE")
    seed = "".join(f"INSERT INTO double_sources (name) VALUES ({literal(n)}) ON CONFLICT DO NOTHING;\n"
                   for n in SEED_SOURCES) if supabase else ""
    ready = Readiness()
    keep_checking(ready, lambda: psql(pg, search_path(schema) + seed + "SELECT 1;"),
                  f"repo {pg.user}@{pg.host}:{pg.port}/{pg.dbname}" + (" (supabase mode seeded)" if supabase else ""))
    lock = threading.Lock()

    def token_of(request) -> str | None:
        # lib/logflare_web/controllers/plugs/verify_api_access.ex:110-130: Bearer, x-api-key, ?api_key=
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() == "bearer" and token:
            return token.strip()
        return request.header("x-api-key") or request.query.get("api_key") or None

    def ingest(request):
        token = token_of(request)
        if not token or token not in {t for t in (public, private) if t}:
            # verify_api_access.ex:57,68-73 (require_token: true for the ingest pipeline, router.ex:100)
            return reply(401, {"error": "Unauthorized"})
        name = request.query.get("source_name") or request.query.get("collection_name")
        body = request.json()
        events = body.get("batch") if isinstance(body, dict) and isinstance(body.get("batch"), list) else \
            body if isinstance(body, list) else [body]
        if not name:
            return reply(500, {"message": "the double ingests by source_name only"})
        with lock:
            result = psql(pg, search_path(schema) + f"UPDATE double_sources SET events = events + {len(events)} "
                          f"WHERE name = {literal(name)} RETURNING events;")
        if not result.ok or not result.out.strip():
            # fetch_resource.ex:22-35 assigns source nil for an unknown name; LogController.create then
            # ingests into nil (log_controller.ex:82-87) and the request fails.
            log(f"ingest: no source named {name!r}")
            return reply(500, {"errors": {"detail": "Internal Server Error"}})
        return reply(200, {"message": "Logged!"})

    def handle(request):
        if request.path.rstrip("/") == "/health" and request.method in ("GET", "HEAD"):
            # lib/logflare_web/controllers/health_check_controller.ex:10-50 (503 coming_up until the
            # repo answers and, in supabase mode, the seed is there)
            status = "ok" if ready else "coming_up"
            return reply(200 if ready else 503, {"status": status, "nodes_count": 1})
        if request.path.rstrip("/") in ("/logs", "/api/logs", "/api/events") and request.method == "POST":
            return ingest(request)   # router.ex:557-561
        return reply(404, {"errors": {"detail": "Not Found"}})

    port = int(env("PHX_HTTP_PORT") or "4000")    # config/prod.exs:7-8, runtime.exs:111
    serve(handle, port, env("PHX_HTTP_IP") or "0.0.0.0", quiet=lambda r: r.path.startswith("/health"))


def main(argv: list[str]) -> None:
    setup("logflare")
    pg, schema = check_config()
    if argv[:2] == ["eval", "Logflare.Release.migrate"]:
        raise SystemExit(migrate(pg, schema))
    if argv[:1] == ["start"]:
        start(pg, schema)
    refuse(f"Usage: logflare COMMAND [ARGS]  (unknown command {' '.join(argv)!r})")


if __name__ == "__main__":
    main(sys.argv[1:])
