"""Vector search benchmark: top-5 latency of match_documents through the REST path, on 20k rows.

Starts the stack's db service alone (rendered init files, the test Postgres image or
$LOCALAI_VECTOR_DB_IMAGE), fills `documents` with 20k random vectors of the default embedding
model's size, and times each request as PostgREST v14.5 runs it: one transaction as `authenticator`,
role set from the JWT, then the prepared RPC statement with the JSON body as $1 (the SQL is in
tests/e2e/vectordb.py, with the PostgREST source lines it follows). The REST double cannot be used:
it starts a psql per request and passes literal arguments, which neither costs nor plans like
PostgREST. Not measured: PostgREST's HTTP and JSON handling outside Postgres, and Kong.

Times are Postgres' own per-statement times as psql reports them (\\timing) for the role settings
plus the call, in one session, so no process start is counted. Prints one JSON object.

    .venv/bin/python bench/vector_search.py [--rows 20000] [--requests 200]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stack.embeddings import DEFAULT_EMBEDDING_MODEL, known_dimensions  # noqa: E402
from tests.e2e.vectordb import MATCH_PARAMS, VectorDb, random_rows_sql, rpc, start_db  # noqa: E402

TIME_RE = re.compile(r"^Time: ([0-9.]+) ms", re.MULTILINE)
# The old rag.sql's function: the same search as one inlinable SQL statement, for comparison.
INLINABLE = """CREATE FUNCTION public.bench_match_documents_sql(query_embedding extensions.vector,
  match_count integer DEFAULT NULL, filter jsonb DEFAULT '{}') RETURNS TABLE (id uuid, content text,
  metadata jsonb, similarity double precision) LANGUAGE sql STABLE AS $$
  SELECT d.id, d.content, d.metadata, 1 - (d.embedding OPERATOR(extensions.<=>) query_embedding)
    FROM public.documents AS d WHERE d.metadata @> filter
   ORDER BY d.embedding OPERATOR(extensions.<=>) query_embedding LIMIT match_count $$;
GRANT EXECUTE ON FUNCTION public.bench_match_documents_sql TO service_role;
"""


def load(db: VectorDb, rows: int, dims: int) -> float:
    """Fill the table; the index is rebuilt in bulk from its own definition (faster than 20k inserts)."""
    definition = db.psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'documents_embedding_hnsw_idx'"
                         ).stdout.strip().strip("\x1e")
    if "hnsw" not in definition:
        raise SystemExit("the documents table has no HNSW index: is pgvector installed in this image?")
    result = db.psql("\\timing on\nDROP INDEX public.documents_embedding_hnsw_idx;\n" + random_rows_sql(rows, dims)
                     + f"{definition};\n" + INLINABLE, timeout=1800)
    return sum(float(t) for t in TIME_RE.findall(result.stdout)) / 1000


def measure(db: VectorDb, function: str, bodies: list[dict], params: list[tuple[str, str]],
            limit: int | None = None, warmup: int = 20) -> dict[str, float]:
    claims = json.dumps({"role": "service_role"})
    settings = (f"SELECT set_config('role', 'service_role', true), "
                f"set_config('request.jwt.claims', '{claims}', true) \\g /dev/null")
    # Like PostgREST, the statement is prepared once per connection, inside a request's transaction.
    lines = ["BEGIN;", settings, "PREPARE pgrst(json) AS " + rpc(function, params, limit) + ";", "COMMIT;"]
    for body in bodies[:warmup] + bodies:
        literal = json.dumps(body).replace("'", "''")
        lines += ["BEGIN;", settings, f"EXECUTE pgrst('{literal}') \\g /dev/null", "COMMIT;"]
    script = "\\timing on\n" + "\n".join(lines) + "\n"
    times = [float(t) for t in TIME_RE.findall(db.psql(script, user="authenticator", timeout=1800).stdout)]
    # 4 statements per transaction: BEGIN, set_config, PREPARE/EXECUTE, COMMIT; a request's time is
    # the two PostgREST runs in it (its BEGIN/COMMIT travel in the same round trips).
    per_request = [times[i + 1] + times[i + 2] for i in range(4, len(times) - 3, 4)][warmup:]
    per_request.sort()
    return {"requests": len(per_request), "median_ms": round(statistics.median(per_request), 2),
            "p95_ms": round(per_request[int(0.95 * (len(per_request) - 1))], 2),
            "max_ms": round(per_request[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    dims = known_dimensions(DEFAULT_EMBEDDING_MODEL) or 768
    rng = random.Random(9)
    vectors = [[round(rng.random() - 0.5, 6) for _ in range(dims)] for _ in range(args.requests)]
    with tempfile.TemporaryDirectory(prefix="localai-vbench-") as tmp:
        db = start_db(Path(tmp), {})
        try:
            load_s = load(db, args.rows, dims)
            top5 = [{"query_embedding": v, "match_count": 5, "filter": {}} for v in vectors]
            report = {
                "rows": args.rows, "dimensions": dims, "model": DEFAULT_EMBEDDING_MODEL, "load_and_index_s":
                round(load_s, 1),
                "top5_match_documents": measure(db, "match_documents", top5, MATCH_PARAMS),
                "top5_filtered_1pct": measure(db, "match_documents", [
                    {**b, "filter": {"source": "rare"}} for b in top5], MATCH_PARAMS),
                "top5_python_limit_param": measure(db, "match_documents", [
                    {"query_embedding": v} for v in vectors], MATCH_PARAMS[:1], limit=5),
                "top5_old_inlinable_sql_function": measure(db, "bench_match_documents_sql", top5[:50], MATCH_PARAMS),
                "goal_median_ms": 5,
            }
        finally:
            db.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
