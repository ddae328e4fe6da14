"""Contract double of supabase/supavisor (the Supabase pooler): `supavisor eval|start`, the boot checks
of config/runtime.exs, Supavisor.Release.migrate (schema _supavisor, for real in Postgres), the tenant
script our stack evals (checked structurally: the application must be started before any Supavisor
call), `/api/health`, and the Postgres proxy ports, which forward real connections to the tenant's
database.

Upstream facts: supabase/supavisor @ v2.9.10 (the newest tag in the mirror; the pin is 2.9.12).
Limits of the double, on purpose: it does not pool (one upstream connection per client) and does not
authenticate clients itself with the tenant's auth_query (the real one does, as the manager user):
the client's own password exchange is passed through to Postgres, which checks the same password.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import sys
import threading

from doublelib.common import (
    Pg,
    Readiness,
    background,
    env,
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

TENANT_COLUMNS = ("external_id", "db_host", "db_port", "db_database", "require_user", "auth_query",
                  "default_pool_size", "default_max_clients")


# -- configuration: config/runtime.exs @ v2.9.10 ---------------------------------------------------

def to_integer(name: str, default: str) -> int:
    """String.to_integer/1 of an env value: an ArgumentError for anything but an integer."""
    value = env(name, default)
    if not re.fullmatch(r"[+-]?\d+", value):
        refuse(f"ERROR! Config provider Config.Reader failed with: ** (ArgumentError) errors were found at "
               f"the given arguments: * 1st argument: not a textual representation of an integer ({name})")
    return int(value)


def check_config() -> Pg:
    # runtime.exs:16-25: SECRET_KEY_BASE || raise "environment variable SECRET_KEY_BASE is missing."
    if "SECRET_KEY_BASE" not in os.environ:
        refuse("ERROR! Config provider Config.Reader failed with: ** (RuntimeError) environment variable "
               "SECRET_KEY_BASE is missing.")
    to_integer("PORT", "4000")                     # runtime.exs:30
    to_integer("MAX_CONNECTIONS", "1000")          # runtime.exs:33
    to_integer("NUM_ACCEPTORS", "100")             # runtime.exs:34
    addr = env("ADDR_TYPE", "inet")                # runtime.exs:36-40
    if addr not in ("inet", "inet6"):
        refuse(f'ERROR! Config provider Config.Reader failed with: ** (RuntimeError) ADDR_TYPE env var is '
               f'invalid: "{addr}"')
    # runtime.exs:88-95: with CLUSTER_POSTGRES the region is the first of CLUSTER_ID, LOCATION_ID,
    # REGION; none of them -> String.replace(nil, ...) fails.
    if env("CLUSTER_POSTGRES") and not any(env(n) for n in ("CLUSTER_ID", "LOCATION_ID", "REGION")):
        refuse("ERROR! Config provider Config.Reader failed with: ** (FunctionClauseError) no function clause "
               "matching in String.replace/4")
    for name, default in (("SESSION_PROXY_PORTS", "12100,12101,12102,12103"),     # runtime.exs:188-193
                          ("TRANSACTION_PROXY_PORTS", "12104,12105,12106,12107")):
        if not all(re.fullmatch(r"[+-]?\d+", p) for p in env(name, default).split(",") if p):
            refuse(f"ERROR! Config provider Config.Reader failed with: ** (ArgumentError) {name} is not a "
                   "list of integers")
    try:                                           # runtime.exs:197
        json.loads(env("JWT_CLAIM_VALIDATORS", "{}"))
    except ValueError:
        refuse("ERROR! Config provider Config.Reader failed with: ** (JSON.DecodeError) JWT_CLAIM_VALIDATORS")
    to_integer("PROXY_PORT_TRANSACTION", "6543")   # runtime.exs:201
    to_integer("PROXY_PORT_SESSION", "5432")       # runtime.exs:202
    to_integer("PROXY_PORT", "5412")               # runtime.exs:203
    to_integer("DB_POOL_SIZE", "25")               # runtime.exs:229
    # runtime.exs:228: the Repo's URL, an ecto:// URL (default ecto://postgres:postgres@localhost:6432/postgres)
    url = env("DATABASE_URL", "ecto://postgres:postgres@localhost:6432/postgres")
    try:
        return Pg.from_url("postgres://" + url.split("://", 1)[1])
    except (ValueError, IndexError):
        refuse("ERROR! Config provider Config.Reader failed with: ** (Ecto.InvalidURLError) invalid url "
               "DATABASE_URL")


# -- Supavisor.Release.migrate (lib/supavisor/release.ex:8-21) -----------------------------------------

MIGRATE_SQL = """
create schema if not exists _supavisor;
CREATE TABLE IF NOT EXISTS _supavisor.schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp);
CREATE TABLE IF NOT EXISTS _supavisor.tenants (
  external_id text PRIMARY KEY, db_host text NOT NULL, db_port integer NOT NULL, db_database text NOT NULL,
  require_user boolean NOT NULL, auth_query text, default_pool_size integer, default_max_clients integer,
  inserted_at timestamp DEFAULT now());
CREATE TABLE IF NOT EXISTS _supavisor.users (
  tenant_external_id text REFERENCES _supavisor.tenants(external_id) ON DELETE CASCADE,
  db_user text NOT NULL, mode_type text NOT NULL, pool_size integer, is_manager boolean NOT NULL,
  PRIMARY KEY (tenant_external_id, db_user, mode_type));
INSERT INTO _supavisor.schema_migrations VALUES (1, now()) ON CONFLICT DO NOTHING;
"""


def migrate(pg: Pg) -> None:
    """The seeds create schema _supavisor (priv/repo/seeds_before_migration.exs), then the migrations
    run with prefix _supavisor: a failure is a MatchError, exit 1."""
    result = psql(pg, MIGRATE_SQL)
    if not result.ok:
        refuse(f"** (MatchError) no match of right hand side value: {{:error, {result.reason()!r}}}")
    log("migrations ran (schema _supavisor)")


# -- `supavisor eval SCRIPT` with our tenant script ---------------------------------------------------

def _strip_comments(script: str) -> str:
    return "\n".join(re.sub(r'#(?=(?:[^"]*"[^"]*")*[^"]*$).*', "", line) for line in script.splitlines())


class Script:
    """What the double can read of an Elixir tenant script: bindings and `"key" => value` pairs whose
    values are literals, System.get_env/1,2, an `int_env.(NAME, DEFAULT)` helper or a bound name."""

    def __init__(self, text: str) -> None:
        self.text = _strip_comments(text)
        self.bindings: dict[str, str] = {}
        for name, expr in re.findall(r"^\s*([a-z_][a-zA-Z0-9_]*)\s*=\s*(System\.get_env\([^)]*\))\s*$",
                                     self.text, re.M):
            self.bindings[name] = expr
        self.int_helper = re.search(r"^\s*(\w+)\s*=\s*fn\s+\w+,\s*\w+\s*->\s*\w+\s*\|>\s*System\.get_env\(\w+\)"
                                    r"\s*\|>\s*String\.to_integer\(\)\s*end", self.text, re.M)

    def value(self, expr: str) -> object:
        expr = expr.strip().rstrip(",").strip()
        if expr in self.bindings:
            return self.value(self.bindings[expr])
        if m := re.fullmatch(r'"([^"]*)"', expr):
            return m.group(1)
        if re.fullmatch(r"-?\d+", expr):
            return int(expr)
        if expr in ("true", "false"):
            return expr == "true"
        if m := re.fullmatch(r'System\.get_env\("(\w+)"(?:,\s*"([^"]*)")?\)', expr):
            return env(m.group(1)) if m.group(1) in os.environ else m.group(2)
        if self.int_helper and (m := re.fullmatch(rf'{self.int_helper.group(1)}\.\("(\w+)",\s*"([^"]*)"\)', expr)):
            text = env(m.group(1), m.group(2))
            if not re.fullmatch(r"[+-]?\d+", text):
                refuse(f"** (ArgumentError) errors were found at the given arguments: * 1st argument: not a "
                       f"textual representation of an integer ({m.group(1)})")
            return int(text)
        return ...   # an expression the double does not evaluate: present, value unknown

    def pairs(self, block: str) -> dict[str, object]:
        return {key: self.value(expr) for key, expr in re.findall(r'"(\w+)"\s*=>\s*([^\n]+)', block)}


def run_tenant_script(pg: Pg, text: str) -> None:
    script = Script(text)
    first_call = re.search(r"\bSupavisor\.\w+", script.text)
    started = re.search(r"Application\.ensure_all_started\(:supavisor\)", script.text)
    if first_call and (not started or started.start() > first_call.start()):
        # `supavisor eval` runs in a VM where only the config was loaded: Supavisor.Repo is not running
        # (supabase/supabase docker/volumes/pooler/pooler.exs starts the app first for this reason).
        refuse("** (RuntimeError) could not lookup Ecto repo Supavisor.Repo because it was not started or "
               "it does not exist")
    if not started:
        log("eval: the script makes no Supavisor call")
        return
    log("eval: application :supavisor started")
    create = re.search(r"Supavisor\.Tenants\.create_tenant\((\w+)\)", script.text)
    if not create:
        log("eval: no Supavisor.Tenants.create_tenant call")
        return
    params_at = re.search(rf"^\s*{create.group(1)}\s*=\s*%{{", script.text, re.M)
    if not params_at:
        refuse(f"** (CompileError) undefined variable \"{create.group(1)}\"")
    body = script.text[params_at.end():]
    users_at = body.find('"users"')
    tenant = script.pairs(body[:users_at] if users_at >= 0 else body)
    users = [script.pairs(block) for block in re.findall(r"%\{([^{}]*)\}", body[users_at:])] if users_at >= 0 else []
    tenant.setdefault("require_user", False)  # field default: lib/supavisor/tenants/tenant.ex:26
    # Tenant.changeset validate_required (lib/supavisor/tenants/tenant.ex:81-89; allow_list has a default)
    missing = [k for k in ("default_parameter_status", "external_id", "db_host", "db_port", "db_database",
                           "require_user") if tenant.get(k) in (None, "")]
    problems = [f"{k}: can't be blank" for k in missing]
    for user in users:   # User.changeset (lib/supavisor/tenants/user.ex:16,44-71)
        for k in ("db_user", "db_password"):
            if user.get(k) in (None, ""):
                problems.append(f"users.{k}: can't be blank")
        if user.get("mode_type") not in ("transaction", "session", ...):
            problems.append("users.mode_type: is invalid")
    if problems:
        refuse("** (MatchError) no match of right hand side value: {:error, #Ecto.Changeset<errors: "
               + "; ".join(problems) + ">}")
    external_id = str(tenant["external_id"])
    guarded = re.search(r"get_tenant_by_external_id\(\s*external_id\s*\)\s*==\s*nil", script.text) or \
        re.search(rf'get_tenant_by_external_id\("{re.escape(external_id)}"\)\s*==\s*nil', script.text)
    row = {k: tenant.get(k) for k in TENANT_COLUMNS}

    def sql_value(value: object) -> str:
        if value is None or value is ...:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return literal(str(value))

    insert = (f"INSERT INTO _supavisor.tenants ({', '.join(TENANT_COLUMNS)}) VALUES "
              f"({', '.join(sql_value(row[k]) for k in TENANT_COLUMNS)})"
              + (" ON CONFLICT (external_id) DO NOTHING" if guarded else "") + ";\n")
    # the script's `if get_tenant_by_external_id(...) == nil` guard makes a second start a no-op
    for user in users:
        insert += ("INSERT INTO _supavisor.users VALUES ("
                   f"{literal(external_id)}, {sql_value(user.get('db_user'))}, "
                   f"{sql_value(user.get('mode_type') if user.get('mode_type') is not ... else 'transaction')}, "
                   f"{sql_value(user.get('pool_size'))}, {sql_value(bool(user.get('is_manager', False)))}) "
                   "ON CONFLICT DO NOTHING;\n")
    result = psql(pg, insert)
    if not result.ok:
        # unique_constraint([:external_id]) (tenant.ex:91) makes a second create an {:error, changeset}
        refuse(f"** (MatchError) no match of right hand side value: {{:error, {result.reason()!r}}}")
    log(f"eval: tenant {external_id} present (db {row['db_host']}:{row['db_port']}/{row['db_database']})")


# -- the proxy ports -------------------------------------------------------------------------------

def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def _error(code: str, message: str) -> bytes:
    fields = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def tenant_of(pg: Pg, external_id: str) -> dict[str, str] | None:
    result = psql(pg, "SELECT db_host, db_port, db_database FROM _supavisor.tenants WHERE external_id = "
                  f"{literal(external_id)};")
    if not result.ok or not result.out.strip():
        return None
    host, port, database = result.out.strip().splitlines()[0].split("|")
    return {"host": host, "port": port, "database": database}


def handle_client(pg: Pg, client: socket.socket, mode: str) -> None:
    """Startup packet: user `<db_user>.<tenant external_id>`; the tenant's database is used whatever the
    client asked (the tenant fixes db_database). Errors are Postgres ErrorResponses, like Supavisor's."""
    try:
        length = struct.unpack("!I", _read_exact(client, 4))[0]
        packet = _read_exact(client, length - 4)
        if struct.unpack("!I", packet[:4])[0] == 80877103:   # SSLRequest: no TLS configured here
            client.sendall(b"N")
            length = struct.unpack("!I", _read_exact(client, 4))[0]
            packet = _read_exact(client, length - 4)
        version, params_raw = packet[:4], packet[4:].split(b"\0")
        params = dict(zip(params_raw[0::2], params_raw[1::2], strict=False))
        user = params.get(b"user", b"").decode()
        db_user, _, external_id = user.rpartition(".")
        found = tenant_of(pg, external_id) if db_user else None
        if not found:
            # lib/supavisor/errors/tenant_or_user_not_found_error.ex:16-17
            log(f"{mode}: tenant/user {user} not found")
            client.sendall(_error("XX000", f"tenant/user {user} not found"))
            return
        params[b"user"] = db_user.encode()
        params[b"database"] = found["database"].encode()
        body = version + b"".join(k + b"\0" + v + b"\0" for k, v in params.items() if k) + b"\0"
        upstream = socket.create_connection((found["host"], int(found["port"])), timeout=10)
        upstream.settimeout(None)
        upstream.sendall(struct.pack("!I", len(body) + 4) + body)
        log(f"{mode}: {db_user} -> tenant {external_id} ({found['host']}:{found['port']}/{found['database']})")
        background(lambda: _pump(upstream, client), "pg-down")
        _pump(client, upstream)
    except (OSError, ConnectionError, struct.error, ValueError) as exc:
        log(f"{mode}: client connection ended: {type(exc).__name__}")
    finally:
        client.close()


def listen_proxy(pg: Pg, port: int, mode: str, family: int) -> None:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    server.listen(64)
    log(f"proxy ({mode}) listening on port {port}")

    def accept() -> None:
        while True:
            client, _ = server.accept()
            threading.Thread(target=handle_client, args=(pg, client, mode), daemon=True).start()

    background(accept, f"proxy-{port}")


def start(pg: Pg) -> None:
    """`supavisor start` (rel/overlays/bin/server): HTTP on PORT, proxies on the session and transaction
    ports; /api/health is 204 while the Repo answers SELECT 1 (lib/supavisor/health.ex:13-16,81-91;
    lib/supavisor_web/controllers/tenant_controller.ex:235-250), with no auth (router.ex:97)."""
    on_stop()
    ready = Readiness()
    keep_checking(ready, lambda: psql(pg, "SELECT 1;"), f"metadata database {pg.host}:{pg.port}/{pg.dbname}")
    family = socket.AF_INET6 if env("ADDR_TYPE", "inet") == "inet6" else socket.AF_INET
    listen_proxy(pg, int(env("PROXY_PORT_SESSION", "5432")), "session", family)
    listen_proxy(pg, int(env("PROXY_PORT_TRANSACTION", "6543")), "transaction", family)

    def handle(request):
        if request.path == "/api/health":
            if ready:
                return reply(204)
            return reply(503, {"status": "unhealthy", "failed_checks": ["database_reachable"]})
        return reply(404, {"errors": {"detail": "Not Found"}})

    serve(handle, int(env("PORT", "4000")), "::" if family == socket.AF_INET6 else "0.0.0.0",
          quiet=lambda r: r.path == "/api/health")


def main(argv: list[str]) -> None:
    setup("supavisor")
    command = argv[0] if argv else ""
    if command == "eval" and len(argv) == 2:
        pg = check_config()
        if argv[1].strip() == "Supavisor.Release.migrate":
            migrate(pg)
        else:
            run_tenant_script(pg, argv[1])
        return
    if command == "start":
        start(check_config())
        return
    if command == "version":
        print("supavisor 2.9.12 (contract double)")
        return
    refuse(f"Usage: supavisor COMMAND [ARGS]  (unknown command {command!r})")


if __name__ == "__main__":
    main(sys.argv[1:])
