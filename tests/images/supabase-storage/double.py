"""Contract double of supabase/storage-api: the API keys must be JWTs signed with the JWT secret and
carry the roles anon and service_role; the file backend directory must be writable (a marker is
written there); its migrations table is written for real in the storage schema; GET /status."""
from __future__ import annotations

from pathlib import Path

from doublelib.common import (
    JWTError,
    Pg,
    Readiness,
    env,
    is_http_url,
    jwt_verify,
    keep_checking,
    log,
    psql,
    refuse,
    reply,
    serve,
    setup,
)

MIGRATE = """CREATE TABLE IF NOT EXISTS storage.migrations (id integer PRIMARY KEY, name varchar(100) UNIQUE NOT NULL,
  hash varchar(40) NOT NULL, executed_at timestamp DEFAULT current_timestamp);
INSERT INTO storage.migrations (id, name, hash) VALUES (0, 'create-migrations-table', 'double')
  ON CONFLICT DO NOTHING;"""


def check_config() -> Pg:
    secret = env("AUTH_JWT_SECRET") or env("PGRST_JWT_SECRET")
    if not secret:
        refuse("Error: PGRST_JWT_SECRET (or AUTH_JWT_SECRET) is required")
    for name, role in (("ANON_KEY", "anon"), ("SERVICE_KEY", "service_role")):
        try:
            claims = jwt_verify(env(name), secret)
        except JWTError as exc:
            refuse(f"Error: {name} is not a valid JWT signed with the JWT secret ({exc.reason})")
        if claims.get("role") != role:
            refuse(f"Error: {name} must carry role {role}, it carries {claims.get('role')!r}")
    backend = env("STORAGE_BACKEND", "file")
    if backend not in ("file", "s3"):
        refuse(f"Error: STORAGE_BACKEND must be file or s3, got {backend!r}")
    if backend == "file":
        folder = Path(env("FILE_STORAGE_BACKEND_PATH") or "/var/lib/storage")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".storage-double").write_text("written by the storage contract double at start\n")
        except OSError as exc:
            refuse(f"Error: FILE_STORAGE_BACKEND_PATH {folder} is not writable: {exc.strerror}")
        log(f"file backend {folder} is writable")
    # storage-api no longer reads POSTGREST_URL (src/config.ts @ v1.70.6 has no such name).
    for name in ("IMGPROXY_URL",):
        if env(name) and not is_http_url(env(name)):
            refuse(f"Error: {name} must be an http(s) URL, got {env(name)!r}")
    if env("ENABLE_IMAGE_TRANSFORMATION", "false") == "true" and not env("IMGPROXY_URL"):
        refuse("Error: ENABLE_IMAGE_TRANSFORMATION needs IMGPROXY_URL")
    if env("FILE_SIZE_LIMIT") and not env("FILE_SIZE_LIMIT").isdigit():
        refuse(f"Error: FILE_SIZE_LIMIT must be a number of bytes, got {env('FILE_SIZE_LIMIT')!r}")
    try:
        return Pg.from_url(env("DATABASE_URL"))
    except ValueError:
        refuse("Error: DATABASE_URL must be a postgres:// URL")


def main() -> None:
    setup("storage")
    pg = check_config()
    log(f"database {pg.user}@{pg.host}:{pg.port}/{pg.dbname}; tenant {env('TENANT_ID') or '-'}; "
        f"region {env('REGION') or '-'}; bucket {env('GLOBAL_S3_BUCKET') or '-'}")
    ready = Readiness()
    keep_checking(ready, lambda: psql(pg, MIGRATE), f"migrations table written as {pg.user}")

    def handle(request):
        if request.path == "/status":
            return reply(200) if ready else reply(503, {"statusCode": "503", "error": "Service Unavailable",
                                                       "message": ready.detail})
        return reply(404, {"statusCode": "404", "error": "Not Found",
                           "message": "not implemented by the storage contract double"})

    serve(handle, int(env("SERVER_PORT") or env("PORT") or 5000), "0.0.0.0", quiet=lambda r: r.path == "/status")


if __name__ == "__main__":
    main()
