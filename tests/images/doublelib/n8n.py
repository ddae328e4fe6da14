"""Contract double of n8n: encryption-key file, Postgres backend, /healthz(/readiness), import CLI."""
from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

from common import env, log, psql, refuse, reply, serve

DATA = Path(env("DOUBLE_DATA_DIR", "/home/node/.n8n"))
CONFIG = DATA / "config"


def db_params() -> dict[str, str]:
    return {"PGHOST": env("DB_POSTGRESDB_HOST", "localhost"), "PGPORT": env("DB_POSTGRESDB_PORT", "5432"),
            "PGUSER": env("DB_POSTGRESDB_USER", "postgres"), "PGPASSWORD": env("DB_POSTGRESDB_PASSWORD"),
            "PGDATABASE": env("DB_POSTGRESDB_DATABASE", "n8n")}


def db_ok() -> bool:
    if env("DB_TYPE") != "postgresdb":
        return True
    schema = env("DB_POSTGRESDB_SCHEMA", "public")
    code, _, err = psql(db_params(), f'CREATE TABLE IF NOT EXISTS "{schema}".n8n_double_settings '
                                     "(key text PRIMARY KEY, value text); SELECT 1")
    if code != 0:
        log(f"database not usable: {err.strip().splitlines()[-1] if err.strip() else code}")
    return code == 0


def encryption_key() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    wanted = env("N8N_ENCRYPTION_KEY")
    if CONFIG.exists():
        stored = json.loads(CONFIG.read_text()).get("encryptionKey")
        if wanted and stored != wanted:
            refuse(f"Mismatching encryption keys. The encryption key in the settings file {CONFIG} does not "
                   "match the N8N_ENCRYPTION_KEY env var. Please make sure both keys match.")
        return
    CONFIG.write_text(json.dumps({"encryptionKey": wanted or secrets.token_hex(16)}))
    CONFIG.chmod(0o600)


def start() -> None:
    webhook = env("WEBHOOK_URL")
    if webhook and not webhook.startswith(("http://", "https://")):
        refuse(f"WEBHOOK_URL must be an http(s) URL, got {webhook!r}")
    encryption_key()
    log(f"host={env('N8N_HOST')} protocol={env('N8N_PROTOCOL')} webhook={webhook} hops={env('N8N_PROXY_HOPS')}")

    def handle(request):
        if request.path == "/healthz":
            return reply(200, {"status": "ok"})
        if request.path == "/healthz/readiness":
            return reply(200, {"status": "ok"}) if db_ok() else reply(503, {"status": "error"})
        if request.path == "/":
            return reply(200, "<!doctype html><title>n8n (double)</title>", {"Content-Type": "text/html"})
        return reply(404, {"message": "not found"})

    serve(handle, int(env("N8N_PORT", "5678")))


def import_cmd(command: str, args: list[str]) -> None:
    options = dict(a.removeprefix("--").split("=", 1) for a in args if a.startswith("--") and "=" in a)
    source = options.get("input")
    if not source:
        refuse("An input file or directory with --input must be provided")
    path = Path(source)
    files = sorted(path.glob("*.json")) if "--separate" in args else [path]
    items: list[dict] = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            refuse(f"An error occurred while importing: {exc}")
        items.extend(data if isinstance(data, list) else [data])
    for item in items:
        needed = ("nodes", "connections") if command == "import:workflow" else ("name", "type", "data")
        if not isinstance(item, dict) or any(k not in item for k in needed):
            refuse(f"An error occurred while importing: invalid {command.split(':')[1]} (needs {', '.join(needed)})")
    encryption_key()
    if not db_ok():
        refuse("There was an error initializing DB")
    DATA.mkdir(parents=True, exist_ok=True)
    with (DATA / "double-imports.log").open("a") as handle:
        handle.write(json.dumps({"cmd": command, "input": source, "count": len(items)}) + "\n")
    kind = "workflow" if command == "import:workflow" else "credential"
    print(f"Successfully imported {len(items)} {kind}{'s' if len(items) != 1 else ''}.")


def main(argv: list[str]) -> None:
    if not argv or argv[0] == "start":
        start()
    elif argv[0] in ("import:workflow", "import:credentials"):
        import_cmd(argv[0], argv[1:])
    elif argv[0] in ("--version", "-v"):
        print("1.0.0-double")
    else:
        refuse(f"Command \"{argv[0]}\" not found")


if __name__ == "__main__":
    main(sys.argv[1:])
