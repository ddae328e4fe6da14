"""Contract double of postgrest/postgrest: verifies the request's JWT with PGRST_JWT_SECRET, switches
to the role it names (or the anon role) and runs the request FOR REAL in Postgres through psql as
the authenticator, so grants and row-level security decide, as with PostgREST. Supports simple
reads (select, filters, order, limit, offset), inserts and RPC calls with named arguments."""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass

from doublelib.common import (
    JWTError,
    Pg,
    PgResult,
    Request,
    Response,
    bearer,
    env,
    http_status,
    ident,
    jwt_verify,
    listen_address,
    literal,
    log,
    psql,
    refuse,
    reply,
    serve,
    serve_in_background,
    setup,
)

VERSION = "14.5"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE",
             "ilike": "ILIKE"}
RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
NOT_FOUND = "__PGRST_NOT_FOUND__"


@dataclass(frozen=True)
class Config:
    pg: Pg
    schemas: list[str]
    extra_search_path: list[str]
    anon_role: str
    jwt_secret: str
    jwt_aud: str
    max_rows: int | None
    app_settings: dict[str, str]


def load_config() -> Config:
    """PostgREST's configuration from PGRST_* variables, refused where PostgREST refuses it."""
    uri = env("PGRST_DB_URI", "postgresql://")
    try:
        pg = Pg.from_url(uri)
    except ValueError:
        refuse("PGRST_DB_URI must be a postgres:// URI for the PostgREST contract double")
    secret = env("PGRST_JWT_SECRET")
    if env("PGRST_JWT_SECRET_IS_BASE64").lower() in ("true", "1") or secret.lstrip().startswith("{"):
        refuse("The PostgREST contract double supports a plain HS256 PGRST_JWT_SECRET only (no base64, no JWK)")
    if secret and len(secret) < 32:
        refuse("The JWT secret must be at least 32 characters long.")
    schemas = [s.strip() for s in (env("PGRST_DB_SCHEMAS") or env("PGRST_DB_SCHEMA") or "public").split(",")
               if s.strip()]
    max_rows = env("PGRST_DB_MAX_ROWS")
    if max_rows and not max_rows.isdigit():
        refuse(f"Invalid value for PGRST_DB_MAX_ROWS: {max_rows!r}")
    for name in ("PGRST_SERVER_PORT", "PGRST_ADMIN_SERVER_PORT"):
        if env(name) and not env(name).isdigit():
            refuse(f"Invalid value for {name}: {env(name)!r}")
    settings = {k[len("PGRST_APP_SETTINGS_"):].lower(): v for k, v in os.environ.items()
                if k.startswith("PGRST_APP_SETTINGS_")}
    return Config(pg, schemas, [s.strip() for s in env("PGRST_DB_EXTRA_SEARCH_PATH", "public").split(",")
                                if s.strip()],
                  env("PGRST_DB_ANON_ROLE"), secret, env("PGRST_JWT_AUD"), int(max_rows) if max_rows else None,
                  settings)


def error(status: int, code: str, message: str, details: str | None = None, hint: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return reply(status, {"code": code, "details": details, "hint": hint, "message": message}, headers)


def status_for(sqlstate: str, anonymous: bool) -> int:
    """PostgREST's mapping of SQLSTATE to HTTP status."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "42883": 404, "42P01": 404, "42P17": 500, "53400": 500,
             "P0001": 400}
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 401 if anonymous else 403
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    prefixes = {"08": 503, "09": 500, "0L": 403, "0P": 403, "23": 400, "25": 500, "28": 403, "2D": 500, "38": 500,
                "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500,
                "HV": 500, "P0": 500, "XX": 500, "42": 400, "22": 400}
    return prefixes.get(sqlstate[:2], 400)


def db_error(result: PgResult, anonymous: bool) -> Response:
    if not result.sqlstate:
        log(f"database unavailable: {result.reason()}")
        return error(503, "PGRST000", "Database connection error. Retrying the connection.", result.reason())
    log(f"database error {result.sqlstate}: {result.message}")
    return error(status_for(result.sqlstate, anonymous), result.sqlstate, result.message, result.detail or None,
                 result.hint or None)


class Api:
    def __init__(self, config: Config) -> None:
        self.config = config

    # -- who is asking ----------------------------------------------------------------------------
    def identify(self, request: Request) -> tuple[str, dict[str, object]] | Response:
        token = bearer(request)
        if not token:
            if not self.config.anon_role:
                return error(401, "PGRST302", "Anonymous access is disabled")
            return self.config.anon_role, {"role": self.config.anon_role}
        if not self.config.jwt_secret:
            return error(500, "PGRST300", "Server lacks JWT secret")
        try:
            claims = jwt_verify(token, self.config.jwt_secret)
        except JWTError as exc:
            message = {"expired": "JWT expired", "nbf": "JWT not yet valid",
                       "malformed": "JWSError (CompactDecodeError Invalid number of parts)",
                       "alg": "JWSError JWSInvalidSignature", "signature": "JWSError JWSInvalidSignature"}[exc.reason]
            code = "PGRST303" if exc.reason in ("expired", "nbf") else "PGRST301"
            log(f"JWT refused: {exc.reason}")
            return error(401, code, message, headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'})
        aud = claims.get("aud")
        if self.config.jwt_aud and aud != self.config.jwt_aud and not (isinstance(aud, list)
                                                                       and self.config.jwt_aud in aud):
            return error(401, "PGRST303", "JWT not in audience")
        role = str(claims.get("role") or self.config.anon_role)
        if not role:
            return error(401, "PGRST302", "Anonymous access is disabled")
        return role, claims

    def schema(self, request: Request) -> str | Response:
        header = "Accept-Profile" if request.method in ("GET", "HEAD") else "Content-Profile"
        wanted = request.header(header) or self.config.schemas[0]
        if wanted not in self.config.schemas:
            return error(406, "PGRST106", f"The schema must be one of the following: {', '.join(self.config.schemas)}",
                         hint=None)
        return wanted

    # -- running SQL ------------------------------------------------------------------------------
    def run(self, role: str, claims: dict[str, object], schema: str, request: Request, exists_sql: str,
            main_sql: str, read_only: bool) -> PgResult:
        """One transaction like PostgREST's: role, claims and search_path as GUCs, then the query;
        `exists_sql` (the schema cache lookup) decides first whether the object exists at all."""
        settings = {"role": role, "request.jwt.claims": json.dumps(claims), "request.method": request.method,
                    "request.path": request.path,
                    "request.headers": json.dumps({k.lower(): v for k, v in request.headers}),
                    "search_path": ", ".join(ident(s) for s in [schema, *self.config.extra_search_path])}
        settings.update({f"app.settings.{k}": v for k, v in self.config.app_settings.items()})
        set_all = ", ".join(f"set_config({literal(k)}, {literal(v)}, true)" for k, v in settings.items())
        script = (f"SELECT ({exists_sql}) AS found \\gset\n\\if :found\n"
                  f"BEGIN{' READ ONLY' if read_only else ''};\n\\o /dev/null\nSELECT {set_all};\n\\o\n"
                  f"{main_sql};\nCOMMIT;\n\\else\n\\echo {NOT_FOUND}\n\\endif\n")
        return psql(self.config.pg, script)

    # -- endpoints --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return self.openapi(request)
        parts = [p for p in request.path.split("/") if p]
        who = self.identify(request)
        if isinstance(who, Response):
            return who
        schema = self.schema(request)
        if isinstance(schema, Response):
            return schema
        role, claims = who
        if len(parts) == 2 and parts[0] == "rpc" and request.method in ("GET", "POST", "HEAD"):
            return self.rpc(request, role, claims, schema, parts[1])
        if len(parts) == 1 and request.method in ("GET", "HEAD"):
            return self.read(request, role, claims, schema, parts[0])
        if len(parts) == 1 and request.method == "POST":
            return self.insert(request, role, claims, schema, parts[0])
        if len(parts) == 1:
            return error(405, "PGRST117", f"Unsupported HTTP method: {request.method} (not implemented by the "
                                          "PostgREST contract double)")
        return error(404, "PGRST125", f"Invalid path specified in request URL: {request.path}")

    def _relation(self, schema: str, table: str) -> str:
        return ("EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = {literal(schema)} AND c.relname = {literal(table)} "
                "AND c.relkind IN ('r', 'v', 'm', 'f', 'p'))")

    def _filters(self, request: Request) -> str | Response:
        clauses = []
        for key, value in request.query_items:
            if key in RESERVED or key == "apikey":
                continue
            if not NAME_RE.fullmatch(key):
                return error(400, "PGRST100", f"\"failed to parse filter ({key})\"")
            negate = value.startswith("not.")
            op, _, operand = value.removeprefix("not.").partition(".")
            column = ident(key)
            if op in OPERATORS:
                clause = f"{column} {OPERATORS[op]} {literal(operand.replace('*', '%') if 'like' in op else operand)}"
            elif op == "is" and operand.lower() in ("null", "true", "false", "unknown"):
                clause = f"{column} IS {operand.upper()}"
            elif op == "in" and operand.startswith("(") and operand.endswith(")"):
                items = [i.strip().strip('"') for i in operand[1:-1].split(",") if i.strip()]
                clause = f"{column} IN ({', '.join(literal(i) for i in items)})" if items else "false"
            else:
                return error(400, "PGRST100", f"\"failed to parse filter ({value})\" (line 1, column 1)")
            clauses.append(f"NOT ({clause})" if negate else clause)
        return " AND ".join(clauses)

    def read(self, request: Request, role: str, claims: dict[str, object], schema: str, table: str) -> Response:
        select = request.query.get("select", "*")
        columns = [c.strip() for c in select.split(",") if c.strip()] or ["*"]
        if columns != ["*"] and not all(NAME_RE.fullmatch(c) for c in columns):
            return error(400, "PGRST100", "\"failed to parse select parameter ({select})\" "
                                          "(the double supports plain column lists)")
        where = self._filters(request)
        if isinstance(where, Response):
            return where
        order = []
        for term in filter(None, request.query.get("order", "").split(",")):
            name, *mods = term.split(".")
            if not NAME_RE.fullmatch(name) or not set(mods) <= {"asc", "desc", "nullsfirst", "nullslast"}:
                return error(400, "PGRST100", f"\"failed to parse order ({term})\"")
            order.append(" ".join([ident(name)] + [{"nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(
                m, m.upper()) for m in mods]))
        limits = []
        for key in ("limit", "offset"):
            value = request.query.get(key)
            if value is not None and not value.isdigit():
                return error(400, "PGRST100", f"\"failed to parse {key} parameter ({value})\"")
        limit = request.query.get("limit")
        if self.config.max_rows is not None:
            limit = str(min(int(limit), self.config.max_rows)) if limit else str(self.config.max_rows)
        if limit:
            limits.append(f"LIMIT {int(limit)}")
        if request.query.get("offset"):
            limits.append(f"OFFSET {int(request.query['offset'])}")
        cols = "*" if columns == ["*"] else ", ".join(ident(c) for c in columns)
        query = (f"SELECT {cols} FROM {ident(schema)}.{ident(table)}" + (f" WHERE {where}" if where else "")
                 + (f" ORDER BY {', '.join(order)}" if order else "") + "".join(f" {x}" for x in limits))
        sql = f"SELECT coalesce(json_agg(_r), '[]')::text FROM ({query}) _r"
        result = self.run(role, claims, schema, request, self._relation(schema, table), sql, read_only=True)
        return self._rows(result, request, role, schema, table, 200)

    def insert(self, request: Request, role: str, claims: dict[str, object], schema: str, table: str) -> Response:
        body = request.json()
        rows = [body] if isinstance(body, dict) else body
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            return error(400, "PGRST102", "Empty or invalid json")
        columns = sorted({key for row in rows for key in row})
        target = f"{ident(schema)}.{ident(table)}"
        cols = ", ".join(ident(c) for c in columns)
        representation = "return=representation" in request.header("Prefer")
        insert = (f"INSERT INTO {target} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{target}, "
                  f"{literal(json.dumps(rows))}::json) RETURNING {'*' if representation else '1'}")
        sql = (f"WITH _ins AS ({insert}) SELECT coalesce(json_agg(_ins), '[]')::text FROM _ins" if representation
               else f"WITH _ins AS ({insert}) SELECT count(*) FROM _ins")
        result = self.run(role, claims, schema, request, self._relation(schema, table), sql, read_only=False)
        if not representation and result.ok and NOT_FOUND not in result.out:
            log(f"POST /{table} as {role}: inserted {result.out.strip()} row(s)")
            return reply(201)
        return self._rows(result, request, role, schema, table, 201)

    def _rows(self, result: PgResult, request: Request, role: str, schema: str, table: str, status: int) -> Response:
        anonymous = role == self.config.anon_role
        if not result.ok:
            return db_error(result, anonymous)
        if NOT_FOUND in result.out:
            return error(404, "PGRST205", f"Could not find the table '{schema}.{table}' in the schema cache",
                         hint=None)
        rows = json.loads(result.out.strip() or "[]")
        log(f"{request.method} /{table} as {role}: {len(rows)} row(s)")
        if "application/vnd.pgrst.object+json" in request.header("Accept"):
            if len(rows) != 1:
                return error(406, "PGRST116", "JSON object requested, multiple (or no) rows returned",
                             f"The result contains {len(rows)} rows")
            return reply(status, rows[0])
        span = f"0-{len(rows) - 1}/*" if rows else "*/*"
        return reply(status, rows, {"Content-Range": span})

    def rpc(self, request: Request, role: str, claims: dict[str, object], schema: str, function: str) -> Response:
        if request.method == "POST":
            body = request.json() if request.body.strip() else {}
            if not isinstance(body, dict):
                return error(400, "PGRST102", "Empty or invalid json")
            args = body
        else:
            args = {k: v for k, v in request.query_items if k not in RESERVED and k != "apikey"}
        names = sorted(args)
        exists = ("EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                  f"WHERE n.nspname = {literal(schema)} AND p.proname = {literal(function)} "
                  f"AND coalesce(p.proargnames, '{{}}') @> ARRAY[{', '.join(literal(a) for a in names)}]::text[] "
                  f"AND p.pronargs - p.pronargdefaults <= {len(names)})")
        shape = self.run(role, claims, schema, request, exists,
                         "SELECT json_build_object('setof', p.proretset, 'void', p.prorettype = 'void'::regtype, "
                         "'composite', t.typtype = 'c' OR p.prorettype = 'record'::regtype)::text "
                         "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                         f"JOIN pg_type t ON t.oid = p.prorettype WHERE n.nspname = {literal(schema)} "
                         f"AND p.proname = {literal(function)} LIMIT 1", read_only=True)
        anonymous = role == self.config.anon_role
        if not shape.ok:
            return db_error(shape, anonymous)
        if NOT_FOUND in shape.out:
            described = f"with parameters {', '.join(names)}" if names else "without parameters"
            return error(404, "PGRST202", f"Could not find the function {schema}.{function} {described} in the "
                                          "schema cache")
        kind = json.loads(shape.out.strip())

        def value(v: object) -> str:
            if v is None:
                return "NULL"
            return literal(v if isinstance(v, str) else json.dumps(v))

        call = f"{ident(schema)}.{ident(function)}({', '.join(f'{ident(k)} => {value(args[k])}' for k in names)})"
        if kind["void"]:
            sql = f"SELECT 1 FROM (SELECT {call}) _r"
        elif kind["composite"]:
            sql = (f"SELECT coalesce(json_agg(_r), '[]')::text FROM {call} _r" if kind["setof"]
                   else f"SELECT to_json(_r)::text FROM {call} _r")
        else:
            sql = (f"SELECT coalesce(json_agg(_r), '[]')::text FROM {call} _r" if kind["setof"]
                   else f"SELECT to_json({call})::text")
        result = self.run(role, claims, schema, request, "true", sql, read_only=request.method != "POST")
        if not result.ok:
            return db_error(result, anonymous)
        log(f"{request.method} /rpc/{function} as {role}: ok")
        if kind["void"]:
            return reply(204)
        return reply(200, (result.out.strip() or "null").encode(), {"Content-Type": "application/json; charset=utf-8"})

    def openapi(self, request: Request) -> Response:
        who = self.identify(request)
        if isinstance(who, Response):
            return who
        role, claims = who
        schema = self.config.schemas[0]
        sql = ("SELECT coalesce(json_agg(table_name ORDER BY table_name), '[]')::text FROM information_schema.tables "
               f"WHERE table_schema = {literal(schema)}")
        result = self.run(role, claims, schema, request, "true", sql, read_only=True)
        if not result.ok:
            return db_error(result, role == self.config.anon_role)
        tables = json.loads(result.out.strip() or "[]")
        paths: dict[str, object] = {"/": {"get": {"summary": "OpenAPI description (this document)"}}}
        paths.update({f"/{t}": {"get": {"tags": [t]}, "post": {"tags": [t]}} for t in tables})
        return reply(200, {"swagger": "2.0", "info": {"title": "PostgREST API", "version": VERSION},
                           "basePath": "/", "schemes": ["http"], "produces": ["application/json"], "paths": paths,
                           "definitions": {}}, {"Content-Type": "application/openapi+json; charset=utf-8"})

    def ready(self) -> PgResult:
        """Like PostgREST's /ready: the authenticator can connect (and become the anon role)."""
        become = f"SET ROLE {ident(self.config.anon_role)};\n" if self.config.anon_role else ""
        return psql(self.config.pg, f"{become}SELECT 1;", timeout=8)


def main(argv: list[str]) -> None:
    setup("postgrest")
    if argv[:1] in (["--version"], ["-v"]):
        print(f"PostgREST {VERSION} (contract double)")
        return
    if argv[:1] == ["--ready"]:
        port = env("PGRST_ADMIN_SERVER_PORT")
        if not port:
            print("Admin server is not running. Please check your configuration.", file=sys.stderr)
            raise SystemExit(1)
        status = http_status(f"http://127.0.0.1:{port}/ready", timeout=5)
        if status != 200:
            print(f"postgrest is not ready (admin /ready answered {status or 'nothing'})", file=sys.stderr)
            raise SystemExit(1)
        return
    if argv and not argv[0].startswith("-"):
        log(f"config file {argv[0]} ignored: the double reads PGRST_* variables only")
    config = load_config()
    api = Api(config)
    log(f"db {config.pg.user}@{config.pg.host}:{config.pg.port}/{config.pg.dbname} schemas={config.schemas} "
        f"anon_role={config.anon_role or '-'} jwt_secret={'set' if config.jwt_secret else 'unset'}")
    host = env("PGRST_SERVER_HOST", "!4")
    host = "0.0.0.0" if host in ("!4", "*4", "*", "") else "::" if host in ("!6", "*6") else host
    admin_port = env("PGRST_ADMIN_SERVER_PORT")
    if admin_port:
        def admin(request: Request) -> Response:
            if request.path == "/live":
                return reply(200)
            if request.path == "/ready":
                result = api.ready()
                if not result.ok:
                    log(f"not ready: {result.reason()}")
                return reply(200 if result.ok else 503)
            return reply(404)

        admin_host = env("PGRST_ADMIN_SERVER_HOST") or host
        serve_in_background(admin, int(admin_port), listen_address(admin_host, int(admin_port))[0],
                            quiet=lambda r: r.path in ("/ready", "/live"))
    serve(api.handle, int(env("PGRST_SERVER_PORT", "3000")), host)


if __name__ == "__main__":
    main(sys.argv[1:])
