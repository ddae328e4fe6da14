"""The pgvector store (templates/supabase/db/rag.sql) and n8n's database confinement (n8n.sql), on
the stack's own db service with its rendered init files, called the way PostgREST calls it.

What the clients send and expect, read from their packages:
- LangChain JS, npm @langchain/community 1.1.27 (the version @n8n/n8n-nodes-langchain 2.41.1 pins),
  dist/vectorstores/supabase.js: addVectors 174-194 upserts {content, embedding, metadata} rows
  without ids (with `id` only when the caller passes ids); _searchSupabase 204-219 calls
  rpc(queryName, {query_embedding, filter, match_count}); maxMarginalRelevanceSearch 247-254 reads
  each result's `embedding` as an array of numbers.
- n8n 2.41: @n8n/n8n-nodes-langchain 2.41.1 dist/nodes/vector_store/VectorStoreSupabase/
  VectorStoreSupabase.node.js 62-103 (SupabaseVectorStore.fromExistingIndex / fromDocuments, query
  name default match_documents); @n8n/ai-utilities 0.34.1 .../operations/updateOperation.js 28-30
  (update = addDocuments with ids [the document id]).
- LangChain Python, PyPI langchain-community 0.4.2, langchain_community/vectorstores/supabase.py:
  match_args 210-216 sends {query_embedding} plus filter only when one is given, the result size
  comes from .limit(k) (250, 295); _add_vectors 346-362 upserts rows with the caller's ids (uuid4
  strings from LangChain's callers); similarity_search_by_vector_returning_embeddings 299-311 parses
  `embedding` as pgvector's text form "[...]", the docstring 440-471 names that function
  match_documents_embeddings.
"""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.vectordb import MATCH_PARAMS, SEP, random_rows_sql, rpc, start_db, upsert

DIMS = 1024  # mxbai-embed-large (stack/embeddings.py)
DOC_COLUMNS = [("content", "text"), ("embedding", "extensions.vector"), ("metadata", "jsonb")]


def unit(i: int, dims: int = DIMS) -> list[float]:
    vec = [0.0] * dims
    vec[i] = 1.0
    return vec


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    box = start_db(tmp_path_factory.mktemp("vector"), {"OLLAMA_MODELS": "tinyllama:latest,mxbai-embed-large"})
    yield box
    box.stop()


def test_the_table_takes_the_embedding_models_size_and_js_inserts_without_ids(db):
    kind = db.psql("SELECT atttypid::regtype::text || '/' || atttypmod FROM pg_attribute "
                   "WHERE attrelid = 'public.documents'::regclass AND attname = 'embedding'").stdout
    assert kind.strip().strip("\x1e").rpartition(".")[2] == f"vector/{DIMS}"  # schema shown or not
    rows = db.rest(upsert("documents", DOC_COLUMNS), [
        {"content": "llamas", "embedding": unit(0), "metadata": {"source": "js"}},
        {"content": "alpacas", "embedding": unit(1), "metadata": {"source": "js"}}])
    assert [r["content"] for r in rows] == ["llamas", "alpacas"]
    assert all(uuid.UUID(r["id"]) for r in rows)


def test_langchain_js_search_returns_its_columns_with_the_embedding_as_numbers(db):
    found = db.rest(rpc("match_documents", MATCH_PARAMS),
                    {"query_embedding": unit(0), "filter": {"source": "js"}, "match_count": 2})
    assert [set(r) for r in found] == [{"id", "content", "metadata", "embedding", "similarity"}] * 2
    assert found[0]["content"] == "llamas" and found[0]["similarity"] == pytest.approx(1.0)
    assert found[0]["embedding"] == unit(0)
    assert found[0]["similarity"] >= found[1]["similarity"]


def test_langchain_python_ids_upsert_and_its_mmr_function(db):
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    rows = [{"id": ids[0], "content": "vicuñas", "embedding": unit(2), "metadata": {"source": "py"}},
            {"id": ids[1], "content": "guanacos", "embedding": unit(3), "metadata": {"source": "py"}}]
    columns = [("id", "uuid"), *DOC_COLUMNS]
    assert [r["id"] for r in db.rest(upsert("documents", columns), rows)] == ids
    rows[0]["content"] = "vicuñas (edited)"
    assert db.rest(upsert("documents", columns), rows[:1])[0]["content"] == "vicuñas (edited)"
    # Python's call: no match_count, no filter, ?limit=k.
    found = db.rest(rpc("match_documents", MATCH_PARAMS[:1], limit=1), {"query_embedding": unit(2)})
    assert [(r["id"], r["content"]) for r in found] == [(ids[0], "vicuñas (edited)")]
    assert found[0]["embedding"] is None  # every row comes back here: no JSON embedding for each
    mmr = db.rest(rpc("match_documents_embeddings", MATCH_PARAMS[:1], limit=2),
                  {"query_embedding": unit(3)})
    assert mmr[0]["id"] == ids[1]
    text = mmr[0]["embedding"]
    assert isinstance(text, str) and [float(x) for x in text.strip("[]").split(",")] == unit(3)


def _rows(out: str) -> list[dict]:
    return json.loads([r for r in out.split("\x1e") if r.strip()][-1].split(SEP)[2])


def test_search_uses_the_hnsw_index_and_filtered_searches_fill_the_result(db):
    db.psql(random_rows_sql(3000, DIMS, rare_every=20), timeout=600)
    vector = [((i * 7919) % 13) / 13 - 0.5 for i in range(DIMS)]
    query = json.dumps(vector)
    statement = f"PREPARE pgrst(json) AS {rpc('match_documents', MATCH_PARAMS)};\n"

    def call(match_count: int, filter_: dict) -> str:
        body = json.dumps({"query_embedding": vector, "match_count": match_count, "filter": filter_})
        return f"EXECUTE pgrst('{body}');\n"

    # auto_explain shows the plan of the query inside the function, as called from the REST statement.
    explained = db.psql("LOAD 'auto_explain';\nSET auto_explain.log_min_duration = 0;\n"
                        "SET auto_explain.log_nested_statements = on;\nSET auto_explain.log_level = notice;\n"
                        "SET client_min_messages = notice;\nSET ROLE service_role;\n" + statement + call(5, {}))
    assert "Index Scan using documents_embedding_hnsw_idx" in explained.stderr, explained.stderr[-2000:]
    assert len(_rows(explained.stdout)) == 5
    # With the index scan (forced here; the planner picks it whenever it looks cheaper than a scan of
    # the filtered rows), 5% of rows match: the 40 candidates of an HNSW scan (hnsw.ef_search) hold
    # about 2 of them, so only an iterative scan fills 10.
    rare = {"source": "rare"}
    found = _rows(db.psql("SET enable_seqscan = off;\nSET ROLE service_role;\n" + statement + call(10, rare)).stdout)
    assert len(found) == 10 and {r["metadata"]["source"] for r in found} == {"rare"}
    similarities = [r["similarity"] for r in found]
    assert similarities == sorted(similarities, reverse=True)
    plain = db.psql("SET enable_seqscan = off;\nSET hnsw.iterative_scan = off;\n"
                    "SELECT count(*) FROM (SELECT 1 FROM public.documents WHERE metadata @> '{\"source\": \"rare\"}' "
                    f"ORDER BY embedding OPERATOR(extensions.<=>) '{query}' LIMIT 10) AS s;\n").stdout
    assert int(plain.strip().strip("\x1e")) < 10, "the check above would pass without an iterative scan"


def test_rag_sql_runs_again_cleanly(db):
    again = db.psql("\\i /docker-entrypoint-initdb.d/migrations/99-localai-rag.sql\n")
    assert "ERROR" not in again.stderr
    counts = db.psql("SELECT count(*) FROM pg_proc WHERE proname IN ('match_documents', 'match_documents_embeddings');"
                     "SELECT count(*) FROM pg_indexes WHERE tablename = 'documents'").stdout
    assert [c for c in counts.replace("\x1e", "\n").split() if c] == ["2", "2"]


def test_n8n_can_only_open_its_own_database(db):
    password = db.secrets["N8N_DB_PASSWORD"]
    for other in ("postgres", "_supabase"):
        refused = db.psql("SELECT 1", user="n8n", db=other, password=password, check=False)
        assert refused.returncode != 0 and "permission denied for database" in refused.stderr, (other, refused)
    own = db.psql("CREATE TABLE confined_probe (x int); CREATE TEMP TABLE t (x int); SELECT current_user",
                  user="n8n", db="n8n", password=password)
    assert own.stdout.strip().strip("\x1e") == "n8n"
    # The Supabase services' own logins (compose/supabase/*.yml.j2) still reach the main database.
    for role in ("authenticator", "supabase_auth_admin", "supabase_storage_admin", "postgres", "pgbouncer"):
        assert db.psql("SELECT current_user", user=role).stdout.strip().strip("\x1e") == role
