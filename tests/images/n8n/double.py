"""Contract double of n8nio/n8n: `n8n start` (health endpoints, encryption-key settings file,
a real write to its Postgres schema like n8n's migrations) and `n8n import:workflow` /
`n8n import:credentials`, which validate their input and record each run in double-imports.log."""
from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path

from doublelib.common import (
    Pg,
    PgResult,
    Readiness,
    env,
    html,
    ident,
    is_http_url,
    keep_checking,
    literal,
    log,
    on_stop,
    psql,
    refuse,
    reply,
    serve,
    setup,
)

VERSION = "1.119.2"
FOLDER = Path(env("N8N_USER_FOLDER") or env("HOME") or "/home/node") / ".n8n"
CONFIG = FOLDER / "config"
IMPORT_LOG = FOLDER / "double-imports.log"
DB_TYPES = ("sqlite", "postgresdb", "mysqldb", "mariadb")


def fail(message: str) -> None:
    """n8n prints a command's error on stderr and exits 1."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def check_env() -> None:
    port = env("N8N_PORT", "5678")
    if not port.isdigit() or not 0 < int(port) < 65536:
        refuse(f"Invalid value for N8N_PORT - must be a port number, got {port!r}")
    if env("N8N_PROTOCOL", "http") not in ("http", "https"):
        refuse(f"Invalid value for N8N_PROTOCOL - must be one of http, https, got {env('N8N_PROTOCOL')!r}")
    for name in ("WEBHOOK_URL", "N8N_EDITOR_BASE_URL"):
        if env(name) and not is_http_url(env(name)):
            refuse(f"Invalid value for {name} - must be an http(s) URL, got {env(name)!r}")
    hops = env("N8N_PROXY_HOPS", "0")
    if not hops.isdigit():
        refuse(f"Invalid value for N8N_PROXY_HOPS - must be an integer, got {hops!r}")
    if env("DB_TYPE", "sqlite") not in DB_TYPES:
        refuse(f"Invalid value for DB_TYPE - must be one of {', '.join(DB_TYPES)}, got {env('DB_TYPE')!r}")


def encryption_key() -> None:
    """n8n's InstanceSettings: the key lives in ~/.n8n/config; a different N8N_ENCRYPTION_KEY is fatal."""
    wanted = env("N8N_ENCRYPTION_KEY")
    if CONFIG.is_file():
        try:
            stored = json.loads(CONFIG.read_text()).get("encryptionKey", "")
        except (OSError, ValueError, AttributeError):
            refuse(f"Error: the settings file {CONFIG} is not valid JSON")
        if wanted and stored != wanted:
            refuse(f"Mismatching encryption keys. The encryption key in the settings file {CONFIG} does not match "
                   "the N8N_ENCRYPTION_KEY env var. Please make sure both keys match. More information: "
                   "https://docs.n8n.io/hosting/environment-variables/configuration-methods/#encryption-key")
        log(f"encryption key: from {CONFIG}")
        return
    FOLDER.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(json.dumps({"encryptionKey": wanted or secrets.token_urlsafe(24)}, indent="\t"))
    CONFIG.chmod(0o600)
    log(f"encryption key: {'from N8N_ENCRYPTION_KEY' if wanted else 'no key given - auto-generated'}, "
        f"saved to {CONFIG}")


def database() -> tuple[Pg, str] | None:
    """The Postgres n8n uses (DB_POSTGRESDB_*), or None for the default SQLite file."""
    db_type = env("DB_TYPE", "sqlite")
    if db_type == "sqlite":
        return None
    if db_type != "postgresdb":
        refuse(f"DB_TYPE={db_type} is not supported by the n8n contract double")
    port = env("DB_POSTGRESDB_PORT", "5432")
    if not port.isdigit():
        refuse(f"Invalid value for DB_POSTGRESDB_PORT - must be a port number, got {port!r}")
    return (Pg(env("DB_POSTGRESDB_HOST", "localhost"), int(port), env("DB_POSTGRESDB_USER", "postgres"),
               env("DB_POSTGRESDB_PASSWORD"), env("DB_POSTGRESDB_DATABASE", "n8n")),
            env("DB_POSTGRESDB_SCHEMA", "public"))


def migrate(target: tuple[Pg, str] | None) -> PgResult:
    """Connect and write, as n8n's migrations do; SQLite writes database.sqlite in the folder."""
    if target is None:
        import sqlite3

        try:
            with sqlite3.connect(FOLDER / "database.sqlite") as db:
                db.execute("CREATE TABLE IF NOT EXISTS n8n_double_settings (key TEXT PRIMARY KEY, value TEXT)")
                db.execute("INSERT OR REPLACE INTO n8n_double_settings VALUES ('lastStart', datetime('now'))")
        except sqlite3.Error as exc:
            return PgResult(1, "", str(exc), message=str(exc))
        return PgResult(0, "", "")
    pg, schema = target
    table = f"{ident(schema)}.n8n_double_settings"
    return psql(pg, f"CREATE TABLE IF NOT EXISTS {table} (key text PRIMARY KEY, value text NOT NULL);\n"
                    f"INSERT INTO {table} VALUES ('lastStart', now()::text) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;")


def record_import(target: tuple[Pg, str] | None, kind: str, names: list[str]) -> PgResult:
    if target is None:
        return PgResult(0, "", "")
    pg, schema = target
    table = f"{ident(schema)}.n8n_double_imports"
    rows = ", ".join(f"({literal(kind)}, {literal(name)})" for name in names) or None
    insert = f"INSERT INTO {table} (kind, name) VALUES {rows};" if rows else ""
    return psql(pg, f"CREATE TABLE IF NOT EXISTS {table} (id serial PRIMARY KEY, kind text NOT NULL, "
                    f"name text NOT NULL, imported_at timestamptz NOT NULL DEFAULT now());\n{insert}")


def start() -> None:
    check_env()
    encryption_key()
    target = database()
    where = "SQLite" if target is None else f"postgresdb {target[0].user}@{target[0].host}:{target[0].port}/" \
                                             f"{target[0].dbname} schema {target[1]}"
    log(f"database: {where}")
    ready = Readiness()
    keep_checking(ready, lambda: migrate(target), "database connected and migrated")
    for name in ("N8N_HOST", "N8N_PROTOCOL", "WEBHOOK_URL", "N8N_PROXY_HOPS", "GENERIC_TIMEZONE"):
        if env(name):
            log(f"{name}={env(name)}")

    def handle(request):
        if request.path == "/healthz":
            return reply(200, {"status": "ok"})
        if request.path == "/healthz/readiness":
            return reply(200, {"status": "ok"}) if ready else reply(503, {"status": "error"})
        if not ready:
            return reply(503, {"code": 503, "message": "Database is not ready!"})
        if request.path.startswith(("/webhook/", "/webhook-test/")):
            return reply(404, {"code": 404, "message": "The requested webhook is not registered."})
        if request.path == "/rest/settings":
            return reply(200, {"data": {"versionCli": VERSION, "instanceId": "double",
                                        "urlBaseWebhook": env("WEBHOOK_URL") or "/"}})
        if request.method in ("GET", "HEAD") and not request.path.startswith("/rest/"):
            return html(200, "<!doctype html><title>n8n.io - Workflow Automation</title><div id=app></div>")
        return reply(404, {"code": 404, "message": "not found"})

    host = env("N8N_LISTEN_ADDRESS") or "0.0.0.0"
    log(f"n8n ready on {host}, port {env('N8N_PORT', '5678')} (Version: {VERSION})")
    serve(handle, int(env("N8N_PORT", "5678")), host, quiet=lambda r: r.path.startswith("/healthz"))


def _flags(argv: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            flags[key] = value
        elif arg in ("--input", "-i", "--userId", "--projectId") and i + 1 < len(argv):
            flags["input" if arg == "-i" else arg[2:]] = argv[i + 1]
            i += 1
        elif arg.startswith("--"):
            flags[arg[2:]] = "true"
        i += 1
    return flags


def _load(flags: dict[str, str]) -> list[object]:
    source = flags.get("input", "")
    if not source:
        fail("An input file or directory with --input must be provided")
    path = Path(source)
    files = sorted(path.glob("*.json")) if flags.get("separate") == "true" else [path]
    if flags.get("separate") == "true" and not path.is_dir():
        fail(f"The input {source} is not a directory (--separate expects one)")
    items: list[object] = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except OSError as exc:
            fail(f"Error: cannot read {file}: {exc.strerror}")
        except ValueError as exc:
            fail(f"Error: {file} is not valid JSON: {exc}")
        items.extend(data if isinstance(data, list) else [data])
    return items


def import_command(kind: str, argv: list[str]) -> None:
    flags = _flags(argv)
    check_env()
    encryption_key()
    items = _load(flags)
    noun = "workflow" if kind == "workflow" else "credential"
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            fail(f"File does not seem to contain {noun}s: item {number} is not an object")
        required = ("nodes", "connections") if kind == "workflow" else ("name", "type", "data")
        missing = [key for key in required if key not in item]
        if missing:
            fail(f"File does not seem to contain valid {noun}s: item {number} has no {', '.join(missing)}")
        if kind == "workflow" and not (isinstance(item["nodes"], list) and isinstance(item["connections"], dict)):
            fail(f"File does not seem to contain valid workflows: item {number} has malformed nodes/connections")
        if kind == "credentials" and not isinstance(item["data"], (dict, str)):
            fail(f"File does not seem to contain valid credentials: item {number} has malformed data")
    target = database()
    log(f"Importing {len(items)} {noun}s...")
    for result in (migrate(target),
                   record_import(target, noun, [str(i.get("name") or i.get("id") or "") for i in items])):  # type: ignore[union-attr]
        if not result.ok:
            fail(f"There was an error initializing DB: {result.reason()}")
    FOLDER.mkdir(parents=True, exist_ok=True)
    with IMPORT_LOG.open("a") as handle:
        handle.write(json.dumps({"cmd": f"import:{kind}", "input": flags["input"], "count": len(items),
                                 "separate": flags.get("separate") == "true",
                                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    print(f"Successfully imported {len(items)} {noun}{'' if len(items) == 1 else 's'}.", flush=True)


def main(argv: list[str]) -> None:
    setup("n8n")
    on_stop()
    command = argv[0] if argv else "start"
    if command == "start":
        start()
    elif command in ("import:workflow", "import:credentials"):
        import_command(command.split(":")[1], argv[1:])
    elif command in ("--version", "-v", "version"):
        print(VERSION)
    else:
        fail(f"command {command} not found (the n8n contract double knows start, import:workflow, "
             "import:credentials, --version)")


if __name__ == "__main__":
    main(sys.argv[1:])
