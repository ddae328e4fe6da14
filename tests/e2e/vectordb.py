"""A throw-away Postgres started from the stack's rendered `db` service (its image, environment and
init-file mounts, exactly as docker-compose.yml has them), and the SQL PostgREST sends for the REST
calls LangChain and n8n make, so the vector store is exercised the way the REST API calls it.

The REST double (tests/images/supabase-rest/double.py) runs each call through a new psql process
with literal arguments; PostgREST instead runs one prepared statement per request whose arguments
come from the JSON body through json_to_record. That difference decides whether the HNSW index is
usable inside match_documents, so the statements below follow PostgREST itself:
github PostgREST/postgrest @ v14.5 (the pinned SUPABASE_REST_IMAGE):
  - src/PostgREST/Query/QueryBuilder.hs:171-190 callPlanToQuery (`LATERAL fn(arg := pgrst_body.arg) pgrst_call`)
  - src/PostgREST/Query/SqlFragment.hs:313-350 fromJsonBodyF (`json_to_record($1) AS _(name type) LIMIT 1`)
  - src/PostgREST/Query/Statements.hs:91-113 mainCall (the outer SELECT with json_agg)
  - src/PostgREST/Query/QueryBuilder.hs:121-143 mutatePlanToQuery Insert (upsert: ON CONFLICT DO UPDATE)
Requests run as PostgREST runs them: logged in as `authenticator`, role switched per transaction.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.conftest import append_env, copy_product, read_env_file, run_start

# Another Postgres image (e.g. the real supabase/postgres) may be used instead of the test image.
IMAGE_OVERRIDE = "LOCALAI_VECTOR_DB_IMAGE"
VAR_RE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
SEP = "\x1f"   # psql field separator
RS = "\x1e"    # psql record separator (json_agg output has newlines)


def _docker(*args: str, env: dict[str, str] | None = None, input_text: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=input_text,
                          env={**os.environ, **(env or {})})


@dataclass
class VectorDb:
    name: str
    ip: str
    root: Path
    secrets: dict[str, str]

    def psql(self, sql: str, user: str = "supabase_admin", db: str = "postgres", password: str | None = None,
             check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """psql inside the container over TCP to its own address: password (scram) auth, as a
        client on the network. The password reaches psql through the environment only."""
        pw = self.secrets["POSTGRES_PASSWORD"] if password is None else password
        result = _docker("exec", "-i", "-e", "PGPASSWORD", self.name, "psql", "-X", "-q", "-t", "-A",
                         "-F", SEP, "-R", RS, "-v", "ON_ERROR_STOP=1", "-h", self.ip, "-U", user, "-d", db, "-f", "-",
                         env={"PGPASSWORD": pw}, input_text=sql, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"psql as {user} on {db} failed: {result.stderr.strip()}")
        return result

    def rest(self, statement: str, body: object, role: str = "service_role") -> object:
        """One REST request: a transaction as authenticator with the JWT's role, the prepared statement
        executed with the JSON body as $1; returns the response body PostgREST would send."""
        claims = json.dumps({"role": role})
        sql = (f"BEGIN;\nSELECT set_config('role', {_lit(role)}, true), "
               f"set_config('request.jwt.claims', {_lit(claims)}, true) \\g /dev/null\n"
               f"PREPARE pgrst(json) AS {statement};\nEXECUTE pgrst({_lit(json.dumps(body))});\nCOMMIT;\n")
        return response_body(self.psql(sql, user="authenticator").stdout)

    def stop(self) -> None:
        _docker("rm", "-f", "-v", self.name, timeout=120)


def response_body(out: str) -> object:
    """The body column of the last row psql printed for a PostgREST-shaped statement."""
    records = [r for r in out.split(RS) if r.strip()]
    return json.loads(records[-1].split(SEP)[2])


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def start_db(tmp: Path, settings: dict[str, str], timeout: float = 180) -> VectorDb:
    """Render a stack with `settings` and start its db service alone, without Compose."""
    from tests.e2e.conftest import image

    root = copy_product(tmp / "stack")
    append_env(root, {"SUPABASE_DB_IMAGE": os.environ.get(IMAGE_OVERRIDE) or image("postgres"), **settings})
    rendered = run_start(root, "render")
    if rendered.returncode != 0:
        raise AssertionError(f"render failed: {rendered.stderr.strip()}")
    values = read_env_file(root / ".env")
    service = yaml.safe_load((root / "build" / "docker-compose.yml").read_text())["services"]["db"]
    env_file = tmp / "db.env"
    env_file.write_text("".join(f"{k}={VAR_RE.sub(lambda m: values[m.group(1)], str(v))}\n"
                                for k, v in service["environment"].items()))
    env_file.chmod(0o600)
    mounts = []
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts += ["-v", f"{(root / 'build' / source).resolve()}:{target}:ro"]
    name = f"lasrag-{secrets.token_hex(4)}"
    started = _docker("run", "-d", "--name", name, "--label", "localai.test=vector-store", "--env-file",
                      str(env_file), *mounts, service["image"])
    if started.returncode != 0:
        raise AssertionError(f"docker run failed: {started.stderr.strip()}")
    ip = _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
    db = VectorDb(name, ip, root, values)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _docker("exec", name, "pg_isready", "-q", "-h", ip, "-p", "5432").returncode == 0:
            return db
        if _docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
            break
        time.sleep(1)
    logs = _docker("logs", "--tail", "40", name)
    db.stop()
    raise AssertionError(f"the database did not become ready:\n{logs.stdout}{logs.stderr}")


def rpc(function: str, params: list[tuple[str, str]], limit: int | None = None) -> str:
    """POST /rpc/<function> with a JSON object body naming `params` ([(name, type)]); `limit` is the
    ?limit= query parameter (LangChain Python's .limit(k))."""
    names = ", ".join(f'"{n}"' for n, _ in params)
    typed = ", ".join(f'"{n}" {t}' for n, t in params)
    args = ", ".join(f'"{n}" := pgrst_body."{n}"' for n, _ in params)
    page = f" LIMIT {limit} OFFSET 0" if limit is not None else ""
    return ("WITH pgrst_source AS (SELECT pgrst_call.* FROM (SELECT $1 AS json_data) pgrst_payload, "
            f"LATERAL (SELECT {names} FROM json_to_record(pgrst_payload.json_data) AS _({typed}) LIMIT 1) pgrst_body, "
            f'LATERAL "public"."{function}"({args}) pgrst_call) '
            "SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
            "coalesce(json_agg(_postgrest_t), '[]') AS body, "
            "nullif(current_setting('response.headers', true), '') AS response_headers, "
            "nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted "
            f'FROM (SELECT "pgrst_source".* FROM "pgrst_source"{page}) _postgrest_t')


def upsert(table: str, columns: list[tuple[str, str]]) -> str:
    """POST /<table> with Prefer: resolution=merge-duplicates, return=representation and a JSON array
    body (supabase-js/-py `.upsert(rows)`); `columns` are the keys of the rows."""
    names = ", ".join(f'"{n}"' for n, _ in columns)
    typed = ", ".join(f'"{n}" {t}' for n, t in columns)
    body_cols = ", ".join(f'pgrst_body."{n}"' for n, _ in columns)
    updates = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n, _ in columns)
    return (f'WITH pgrst_source AS (INSERT INTO "public"."{table}"({names}) SELECT {body_cols} '
            "FROM (SELECT $1 AS json_data) pgrst_payload, "
            f"LATERAL (SELECT {names} FROM json_to_recordset(pgrst_payload.json_data) AS _({typed})) pgrst_body "
            f'ON CONFLICT("id") DO UPDATE SET {updates} RETURNING "public"."{table}".*) '
            "SELECT '' AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
            "coalesce(json_agg(_postgrest_t), '[]') AS body, '' AS response_headers, '' AS response_status, "
            "'' AS response_inserted FROM (SELECT * FROM pgrst_source) _postgrest_t")


MATCH_PARAMS = [("query_embedding", "extensions.vector"), ("match_count", "integer"), ("filter", "jsonb")]


def random_rows_sql(count: int, dims: int, rare_every: int = 100) -> str:
    """Fill documents with `count` random vectors; every `rare_every`-th row has metadata source=rare."""
    return ("SET maintenance_work_mem = '256MB';\n"
            "INSERT INTO public.documents (content, metadata, embedding) "
            f"SELECT 'doc ' || i, jsonb_build_object('source', CASE WHEN i % {rare_every} = 0 THEN 'rare' "
            "ELSE 'common' END), "
            f"(SELECT array_agg(random() - 0.5) FROM generate_series(1, {dims}) WHERE i > 0)::extensions.vector "
            f"FROM generate_series(1, {count}) AS i;\nANALYZE public.documents;\n")
