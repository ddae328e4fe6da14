"""Contract double of n8nio/n8n:2.41.3 (tests only; see tests/images/CONTRACTS.md).

Sources are the npm tarballs of n8n@2.41.3 (paths "n8n dist/..."), @n8n/config@2.39.0 ("config
dist/...") and n8n-core@2.41.1. What it does, point by point:
- `n8n start`: settings file with the encryption key (n8n-core instance-settings.js; 0600 and
  chmod of a wider file when N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS is on, its default at 2.x,
  instance-settings.js:226-245); migrations on its Postgres; the owner from N8N_INSTANCE_OWNER_*
  before it serves (n8n dist/commands/start.js:190 before :303; owner.instance-settings-loader.js);
  /healthz at once, /healthz/readiness after the database, and the editor and REST API only
  REST_DELAY seconds later (abstract-server.js:152-154 health, :198 configure: seen ~4.5 s on the
  real one); the task broker on N8N_RUNNERS_BROKER_LISTEN_ADDRESS:N8N_RUNNERS_BROKER_PORT
  (task-broker-server.js:182, :210-218); REST login, workflow read and activation; chat webhooks
  (agent.py).
- CLI: import:workflow, import:credentials, list:workflow, publish:workflow (store.py).
"""
from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
import warnings
from pathlib import Path

from agent import run_chat
from doublelib.common import (
    JWTError,
    Pg,
    PgResult,
    Readiness,
    env,
    html,
    is_http_url,
    jwt_sign,
    jwt_verify,
    keep_checking,
    log,
    on_stop,
    refuse,
    reply,
    serve,
    serve_in_background,
    setup,
)
from store import Store

VERSION = "2.41.3"
FOLDER = Path(env("N8N_USER_FOLDER") or env("HOME") or "/home/node") / ".n8n"
CONFIG = FOLDER / "config"
IMPORT_LOG = FOLDER / "double-imports.log"
DB_TYPES = ("sqlite", "postgresdb", "mysqldb", "mariadb")
REST_DELAY = 4.5
# owner.instance-settings-loader.js:19
BCRYPT_HASH_RE = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
# deprecation.service.js: a warning at start for each of these that is set
DEPRECATED = {"WEBHOOK_URL": "Use N8N_WEBHOOK_URL instead, which sets the base URL for both test and production "
                             "webhooks.",
              "N8N_RUNNERS_ENABLED": "Remove this environment variable; it is no longer needed."}


def fail(message: str) -> None:
    """n8n prints a command's error on stderr and exits 1."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def config_bool(name: str, default: bool) -> bool:
    """config dist/decorators.js: 'true'/'1' and 'false'/'0' (any case); anything else warns, keeps the default."""
    value = env(name)
    if not value:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    log(f"Invalid boolean value for {name}: {value}")
    return default


def check_env() -> None:
    port = env("N8N_PORT", "5678")
    if not port.isdigit() or not 0 < int(port) < 65536:
        refuse(f"Invalid value for N8N_PORT - must be a port number, got {port!r}")
    if env("N8N_PROTOCOL", "http") not in ("http", "https"):
        refuse(f"Invalid value for N8N_PROTOCOL - must be one of http, https, got {env('N8N_PROTOCOL')!r}")
    for name in ("N8N_WEBHOOK_URL", "WEBHOOK_URL", "N8N_EDITOR_BASE_URL"):
        if env(name) and not is_http_url(env(name)):
            refuse(f"Invalid value for {name} - must be an http(s) URL, got {env(name)!r}")
    hops = env("N8N_PROXY_HOPS", "0")
    if not hops.isdigit():
        refuse(f"Invalid value for N8N_PROXY_HOPS - must be an integer, got {hops!r}")
    if env("DB_TYPE", "sqlite") not in DB_TYPES:
        refuse(f"Invalid value for DB_TYPE - must be one of {', '.join(DB_TYPES)}, got {env('DB_TYPE')!r}")


def runners_mode() -> str:
    """config dist/configs/runners.config.js:17-20,38: internal (default) or external."""
    mode = env("N8N_RUNNERS_MODE", "internal")
    if mode not in ("internal", "external"):
        log(f"Invalid value for N8N_RUNNERS_MODE - Invalid enum value. Expected 'internal' | 'external', received "
            f"'{mode}'. Falling back to default value.")
        return "internal"
    return mode


def encryption_key() -> None:
    """n8n-core InstanceSettings: the key lives in ~/.n8n/config; a different N8N_ENCRYPTION_KEY is fatal."""
    wanted = env("N8N_ENCRYPTION_KEY")
    enforce = config_bool("N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS", True)
    if CONFIG.is_file():
        try:
            stored = json.loads(CONFIG.read_text()).get("encryptionKey", "")
        except (OSError, ValueError, AttributeError):
            refuse(f"Error: the settings file {CONFIG} is not valid JSON")
        if wanted and stored != wanted:
            refuse(f"Mismatching encryption keys. The encryption key in the settings file {CONFIG} does not match "
                   "the N8N_ENCRYPTION_KEY env var. Please make sure both keys match. More information: "
                   "https://docs.n8n.io/hosting/environment-variables/configuration-methods/#encryption-key")
        mode = CONFIG.stat().st_mode & 0o777
        if enforce and mode != 0o600:
            log(f"Permissions 0{mode:o} for n8n settings file {CONFIG} are too wide. Changing permissions to 0600..")
            CONFIG.chmod(0o600)
        log(f"encryption key: from {CONFIG}")
        return
    FOLDER.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(json.dumps({"encryptionKey": wanted or secrets.token_urlsafe(24)}, indent="\t"))
    CONFIG.chmod(0o600 if enforce else 0o644)
    log(f"encryption key: {'from N8N_ENCRYPTION_KEY' if wanted else 'no key given - auto-generated'}, "
        f"saved to {CONFIG}")


def database() -> Store | None:
    """The Postgres n8n uses (DB_POSTGRESDB_*), or None for the default SQLite file."""
    db_type = env("DB_TYPE", "sqlite")
    if db_type == "sqlite":
        return None
    if db_type != "postgresdb":
        refuse(f"DB_TYPE={db_type} is not supported by the n8n contract double")
    port = env("DB_POSTGRESDB_PORT", "5432")
    if not port.isdigit():
        refuse(f"Invalid value for DB_POSTGRESDB_PORT - must be a port number, got {port!r}")
    return Store(Pg(env("DB_POSTGRESDB_HOST", "localhost"), int(port), env("DB_POSTGRESDB_USER", "postgres"),
                    env("DB_POSTGRESDB_PASSWORD"), env("DB_POSTGRESDB_DATABASE", "n8n")),
                 env("DB_POSTGRESDB_SCHEMA", "public"))


def require_store(store: Store | None) -> Store:
    if store is None:
        refuse("the n8n contract double keeps workflows in Postgres only: set DB_TYPE=postgresdb")
    return store


def owner_env() -> tuple[str, str] | None:
    """owner.instance-settings-loader.js:20-61: with N8N_INSTANCE_OWNER_MANAGED_BY_ENV the owner is
    (re)written at every start from N8N_INSTANCE_OWNER_EMAIL and a pre-hashed
    N8N_INSTANCE_OWNER_PASSWORD_HASH; a missing or malformed value stops n8n."""
    if not config_bool("N8N_INSTANCE_OWNER_MANAGED_BY_ENV", False):
        return None
    if not env("N8N_INSTANCE_OWNER_EMAIL"):
        refuse("N8N_INSTANCE_OWNER_EMAIL is required when N8N_INSTANCE_OWNER_MANAGED_BY_ENV is true")
    hashed = env("N8N_INSTANCE_OWNER_PASSWORD_HASH")
    if not hashed:
        refuse("N8N_INSTANCE_OWNER_PASSWORD_HASH is required when N8N_INSTANCE_OWNER_MANAGED_BY_ENV is true")
    if not BCRYPT_HASH_RE.fullmatch(hashed):
        refuse("N8N_INSTANCE_OWNER_PASSWORD_HASH is not a valid bcrypt hash. Provide a pre-hashed bcrypt string.")
    return env("N8N_INSTANCE_OWNER_EMAIL"), hashed


def sqlite_migrate() -> PgResult:
    """The default database: ~/.n8n/database.sqlite (the double keeps no workflows there)."""
    import sqlite3

    try:
        with sqlite3.connect(FOLDER / "database.sqlite") as db:
            db.execute("CREATE TABLE IF NOT EXISTS n8n_double_settings (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("INSERT OR REPLACE INTO n8n_double_settings VALUES ('lastStart', datetime('now'))")
    except sqlite3.Error as exc:
        return PgResult(1, "", str(exc), message=str(exc))
    return PgResult(0, "", "")


def broker(mode: str) -> None:
    """The task broker (runners.config.js defaults: port 5679 on 127.0.0.1; a random token when none is
    given, task-broker-server.js:142; external mode without one is fatal, task-runner-module.js:77)."""
    token = env("N8N_RUNNERS_AUTH_TOKEN")
    if mode == "external" and not token:
        refuse("Missing auth token. When `N8N_RUNNERS_MODE` is `external`, it is required to set "
               "`N8N_RUNNERS_AUTH_TOKEN`. Its value should be a shared secret between the main instance and the "
               "launcher.")
    token = token or secrets.token_hex(32)
    address, port = env("N8N_RUNNERS_BROKER_LISTEN_ADDRESS", "127.0.0.1"), int(env("N8N_RUNNERS_BROKER_PORT", "5679"))
    path = env("N8N_RUNNERS_PATH", "/runners").rstrip("/")

    def handle(request):
        if request.path == "/healthz" and request.method == "GET":
            return reply(200, {"status": "ok"})
        if request.path == f"{path}/auth" and request.method == "POST":
            body = request.json()
            if not isinstance(body, dict) or not isinstance(body.get("token"), str):
                return reply(400, {"code": 400, "message": "invalid_type"})
            if not secrets.compare_digest(body["token"], token):
                return reply(403, {"code": 403, "message": "Forbidden"})
            log("task runner authenticated with the broker")
            return reply(200, {"data": {"token": secrets.token_hex(16)}})
        return reply(404, f"Cannot {request.method} {request.path}")

    serve_in_background(handle, port, address, quiet=lambda r: r.path == "/healthz")
    log(f"n8n Task Broker ready on {address}, port {port}")


def bcrypt_matches(password: str, hashed: str) -> bool:
    """bcryptjs compare in n8n; here bcrypt ($2b$) through libxcrypt's crypt(3) (Python 3.11's crypt)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, hashed) == hashed


def bcrypt_hash(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))


def owner_setup_problem(body: dict) -> str:
    """OwnerSetupRequestDto: an email, first and last name, and api-types schemas/password.schema.js
    (8 to 64 characters, a digit, an uppercase letter)."""
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        return "Invalid email"
    for key, label in (("firstName", "First name"), ("lastName", "Last name")):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"{label} is required"
    if not isinstance(password, str) or not 8 <= len(password) <= 64:
        return "Password must be 8 to 64 characters long."
    if not re.search(r"\d", password):
        return "Password must contain at least 1 number."
    if not re.search(r"[A-Z]", password):
        return "Password must contain at least 1 uppercase letter."
    return ""


def _jwt_secret() -> str:
    return env("N8N_USER_MANAGEMENT_JWT_SECRET") or env("N8N_ENCRYPTION_KEY") or "double"


def _session(request) -> dict | None:
    """auth.service.js: the n8n-auth cookie, a JWT signed with the user-management secret."""
    cookie = "; " + request.header("cookie")
    token = cookie.split("; n8n-auth=", 1)[1].split(";", 1)[0] if "; n8n-auth=" in cookie else ""
    try:
        return jwt_verify(token, _jwt_secret()) if token else None
    except JWTError:
        return None


def _public_workflow(w: dict) -> dict:
    return {"id": w["id"], "name": w["name"], "active": w["active"], "versionId": w["version_id"],
            "activeVersionId": w["version_id"] if w["active"] else None, "nodes": w["nodes"],
            "connections": w["connections"]}


def rest(request, store: Store) -> object:
    path, method = request.path, request.method
    if path == "/rest/settings" and method == "GET":  # server.js:402, no login needed
        return reply(200, {"data": {"versionCli": VERSION, "instanceId": "double",
                                    "urlBaseWebhook": env("N8N_WEBHOOK_URL") or env("WEBHOOK_URL") or "/",
                                    "userManagement": {"showSetupOnFirstLoad": store.owner() is None}}})
    if path == "/rest/login" and method == "POST":  # auth.controller.js, LoginRequestDto
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("emailOrLdapLoginId"), str) \
                or not isinstance(body.get("password"), str) or not body["password"]:
            return reply(400, {"code": 400, "message": "Invalid request body"})
        owner = store.owner()
        email = body["emailOrLdapLoginId"].strip().lower()
        if not owner or owner["email"] != email or not bcrypt_matches(body["password"], owner["password_hash"]):
            return reply(401, {"code": 401, "message": "Wrong username or password. Do you have caps lock on?"})
        token = jwt_sign({"id": "owner", "email": email, "exp": int(time.time()) + 7 * 86400}, _jwt_secret())
        secure = "; Secure" if config_bool("N8N_SECURE_COOKIE", True) else ""
        return reply(200, {"data": {"id": "owner", "email": email, "role": "global:owner"}},
                     {"Set-Cookie": f"n8n-auth={token}; Path=/; HttpOnly; SameSite=Lax{secure}"})
    if path == "/rest/owner/setup" and method == "POST":  # ownership.service.js setupOwner
        body = request.json() if isinstance(request.json(), dict) else {}
        problem = owner_setup_problem(body)  # api-types dto/owner/owner-setup-request.dto.js
        if problem:
            return reply(400, {"code": 400, "message": problem})
        if store.owner() is not None:
            return reply(400, {"code": 400, "message": "Instance owner already setup"})
        result = store.set_owner(body["email"], bcrypt_hash(body["password"]))
        return reply(200, {"data": {"email": body["email"].lower(), "role": "global:owner"}}) if result.ok \
            else reply(500, {"code": 500, "message": result.reason()})
    if _session(request) is None:
        return reply(401, {"status": "error", "message": "Unauthorized"})
    match = re.fullmatch(r"/rest/workflows/([^/]+)(?:/(activate|deactivate))?", path)
    if not match:
        return reply(404, {"code": 404, "message": "not found"})
    workflow = store.workflow(match.group(1))
    if workflow is None:
        return reply(404, {"code": 404, "message": f'Could not find workflow with ID "{match.group(1)}"'})
    if match.group(2) is None and method == "GET":
        return reply(200, {"data": _public_workflow(workflow)})
    if match.group(2) == "activate" and method == "POST":  # workflows.controller.js:300, ActivateWorkflowDto
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("versionId"), str):
            return reply(400, {"code": 400, "message": "Required"})
        if body["versionId"] != workflow["version_id"]:
            return reply(404, {"code": 404, "message": f"Version {body['versionId']} not found"})
        for node in workflow["nodes"]:
            for kind, ref in (node.get("credentials") or {}).items():
                if not store.credential(str(ref.get("id", ""))):
                    return reply(400, {"code": 400, "message": f"Node \"{node['name']}\" has issues: credentials "
                                                               f"for {kind} are not set."})
        store.set_active(workflow["id"], True)
        log(f"Activated workflow \"{workflow['name']}\" (ID: {workflow['id']})")
        return reply(200, {"data": _public_workflow({**workflow, "active": True})})
    if match.group(2) == "deactivate" and method == "POST":
        store.set_active(workflow["id"], False)
        return reply(200, {"data": _public_workflow({**workflow, "active": False})})
    return reply(404, {"code": 404, "message": "not found"})


def start() -> None:
    check_env()
    for name, message in DEPRECATED.items():
        if env(name):
            log(f"There are deprecations related to your environment variables: {name} -> {message}")
    encryption_key()
    mode = runners_mode()
    owner = owner_env()
    store = database()
    where = "SQLite" if store is None else \
        f"postgresdb {store.pg.user}@{store.pg.host}:{store.pg.port}/{store.pg.dbname}"
    log(f"database: {where}")
    ready = Readiness()
    rest_at: list[float] = []
    lock = threading.Lock()

    def migrate_and_own() -> PgResult:
        result = sqlite_migrate() if store is None else store.migrate()
        if result.ok and owner and store is not None:
            result = store.set_owner(*owner)
            if result.ok and not rest_at:
                log("N8N_INSTANCE_OWNER_MANAGED_BY_ENV is enabled — applying owner env vars; "
                    "Owner was set up successfully")
        with lock:
            if result.ok and not rest_at:
                rest_at.append(time.monotonic() + REST_DELAY)
        return result

    keep_checking(ready, migrate_and_own, "database connected and migrated")
    broker(mode)
    log(f"task runners: {mode} mode")

    def handle(request):
        if request.path == "/healthz":
            return reply(200, {"status": "ok"})
        if request.path == "/healthz/readiness":
            return reply(200, {"status": "ok"}) if ready else reply(503, {"status": "error"})
        if not ready:
            return reply(503, {"code": 503, "message": "Database is not ready!"})
        if not rest_at or time.monotonic() < rest_at[0]:  # routes are mounted by configure(), after readiness
            return html(404, f"<!DOCTYPE html><pre>Cannot {request.method} {request.path}</pre>")
        match = re.fullmatch(r"/webhook/(.+)/chat", request.path)
        if match and request.method == "POST" and store is not None:
            return run_chat(request, store, match.group(1), request.path[len("/webhook/"):])
        if request.path.startswith(("/webhook/", "/webhook-test/")):
            path = request.path.split("/", 2)[2]
            return reply(404, {"code": 404, "message": f'The requested webhook "{request.method} {path}" is not '
                                                       "registered."})
        if request.path.startswith("/rest/"):
            if store is None:
                return reply(404, {"code": 404, "message": "the n8n contract double serves REST with Postgres only"})
            return rest(request, store)
        if request.method in ("GET", "HEAD"):
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
        elif arg in ("--input", "-i", "--userId", "--projectId", "--id", "--active") and i + 1 < len(argv):
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


def _cli_store() -> Store:
    check_env()
    encryption_key()
    store = require_store(database())
    migrated = store.migrate()
    if not migrated.ok:
        fail(f"There was an error initializing DB: {migrated.reason()}")
    return store


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
        if kind == "credentials" and not isinstance(item["data"], dict):
            fail(f"File does not seem to contain valid credentials: item {number} has malformed data")
    store = _cli_store()
    log(f"Importing {len(items)} {noun}s...")
    typed = [i for i in items if isinstance(i, dict)]
    result = store.import_workflows(typed) if kind == "workflow" else store.upsert_credentials(typed)
    if not result.ok:
        fail(f"An error occurred while importing {noun}s. See log messages for details. {result.reason()}")
    FOLDER.mkdir(parents=True, exist_ok=True)
    with IMPORT_LOG.open("a") as handle:
        handle.write(json.dumps({"cmd": f"import:{kind}", "input": flags["input"], "count": len(items),
                                 "separate": flags.get("separate") == "true",
                                 "ids": [str(i.get("id", "")) for i in typed],
                                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    print(f"Successfully imported {len(items)} {noun}{'' if len(items) == 1 else 's'}.", flush=True)


def list_workflows(argv: list[str]) -> None:
    """commands/list/workflow.js: `id|name` per workflow, or ids only with --onlyId."""
    flags = _flags(argv)
    active = flags.get("active")
    if active is not None and active not in ("true", "false"):
        fail("The --active flag has to be passed using true or false")
    store = _cli_store()
    for w in store.workflows(None if active is None else active == "true"):
        print(w["id"] if flags.get("onlyId") == "true" else f"{w['id']}|{w['name']}", flush=True)


def publish_workflow(argv: list[str]) -> None:
    """commands/publish/workflow.js: sets the published version; a running n8n needs a restart."""
    flags = _flags(argv)
    if not flags.get("id"):
        fail("Missing required flag id")
    store = _cli_store()
    if store.workflow(flags["id"]) is None:
        fail(f"Workflow with id {flags['id']} not found")
    store.set_active(flags["id"], True)
    print(f"Publishing workflow with ID: {flags['id']} (current version)")
    print("Note: Changes will not take effect if n8n is running.")
    print("Please restart n8n for changes to take effect if n8n is currently running.", flush=True)


def main(argv: list[str]) -> None:
    setup("n8n")
    on_stop()
    command = argv[0] if argv else "start"
    if command == "start":
        start()
    elif command in ("import:workflow", "import:credentials"):
        import_command(command.split(":")[1], argv[1:])
    elif command == "list:workflow":
        list_workflows(argv[1:])
    elif command == "publish:workflow":
        publish_workflow(argv[1:])
    elif command in ("--version", "-v", "version"):
        print(VERSION)
    else:
        fail(f"command {command} not found (the n8n contract double knows start, import:workflow, "
             "import:credentials, list:workflow, publish:workflow, --version)")


if __name__ == "__main__":
    main(sys.argv[1:])
