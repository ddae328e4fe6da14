"""Contract double of PostgREST: JWT -> role, real queries through psql as authenticator."""
from __future__ import annotations

import json
import re
import sys
import threading
import urllib.request

from common import bearer, env, jwt_claims, log, pg_params, psql, reply, serve

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _role(request):
    token = bearer(request)
    if not token:
        return env("PGRST_DB_ANON_ROLE", "anon"), None
    claims = jwt_claims(token, env("PGRST_JWT_SECRET"))
    if claims is None:
        return None, reply(401, {"code": "PGRST301", "message": "JWSError JWSInvalidSignature"})
    return str(claims.get("role") or env("PGRST_DB_ANON_ROLE", "anon")), None


def _run(role: str, sql: str):
    if not IDENT.match(role):
        return reply(401, {"code": "42704", "message": f'role "{role}" does not exist'})
    schema = env("PGRST_DB_SCHEMAS", "public").split(",")[0].strip()
    code, out, err = psql(pg_params(env("PGRST_DB_URI")),
                          f'SET ROLE "{role}"; SET search_path TO "{schema}", public; {sql}')
    if code != 0:
        message = err.strip().splitlines()[-1].removeprefix("psql:").strip() if err.strip() else "error"
        message = re.sub(r"^<stdin>:\d+: |^ERROR:\s+", "", message).removeprefix("ERROR:  ")
        if "permission denied" in message:
            return reply(401 if role == env("PGRST_DB_ANON_ROLE", "anon") else 403,
                         {"code": "42501", "message": message})
        if "does not exist" in message:
            return reply(404, {"code": "PGRST205", "message": message})
        return reply(400, {"code": "PGRST000", "message": message})
    text = out.strip().splitlines()[-1] if out.strip() else "null"
    return reply(200, json.loads(text))


def handle(request):
    if request.path == "/":
        return reply(200, {"swagger": "2.0", "info": {"title": "PostgREST double"}, "paths": {}})
    role, error = _role(request)
    if error:
        return error
    name = request.path.strip("/")
    if name.startswith("rpc/"):
        fn = name[4:]
        if not IDENT.match(fn):
            return reply(404, {"code": "PGRST202", "message": "function not found"})
        args = request.json() or {}
        params = ", ".join(f"{k} => '{str(v).replace(chr(39), chr(39) * 2)}'"
                           for k, v in args.items() if IDENT.match(k))
        return _run(role, f"SELECT to_json({fn}({params}))")
    if not IDENT.match(name):
        return reply(404, {"code": "PGRST205", "message": f"Could not find the table '{name}'"})
    if request.method == "GET":
        limit = request.query.get("limit", "")
        limit_sql = f" LIMIT {int(limit)}" if limit.isdigit() else ""
        return _run(role, f"SELECT coalesce(json_agg(t), '[]'::json) FROM (SELECT * FROM {name}{limit_sql}) t")
    if request.method == "POST":
        body = json.dumps(request.json() or {}).replace("'", "''")
        return _run(role, f"INSERT INTO {name} SELECT * FROM json_populate_record(NULL::{name}, '{body}'); "
                          "SELECT '[]'::json")
    return reply(405, {"message": "method not allowed"})


def admin(request):
    if request.path in ("/ready", "/live"):
        role = env("PGRST_DB_ANON_ROLE", "anon")
        code, _, _ = psql(pg_params(env("PGRST_DB_URI")), f'SET ROLE "{role}"; SELECT 1')
        return reply(200 if code == 0 else 503, "")
    return reply(404, "")


def main(argv: list[str]) -> None:
    admin_port = int(env("PGRST_ADMIN_SERVER_PORT", "0") or 0)
    if "--ready" in argv:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=3)
        except OSError:
            sys.exit(1)
        return
    if not env("PGRST_DB_URI"):
        print("PGRST_DB_URI is required", file=sys.stderr)
        sys.exit(1)
    if admin_port:
        threading.Thread(target=serve, args=(admin, admin_port), daemon=True).start()
    log("starting")
    serve(handle, int(env("PGRST_SERVER_PORT", "3000")))


if __name__ == "__main__":
    main(sys.argv[1:])
