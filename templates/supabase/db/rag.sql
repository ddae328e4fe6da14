-- Local AI Stack: a pgvector store for RAG, in the shape LangChain's SupabaseVectorStore (JS, which
-- n8n's Supabase Vector Store node uses, and Python) expects: a `documents` table and match functions
-- called through the REST API (POST /rest/v1/rpc/match_documents).
--   documents(id uuid, content text, metadata jsonb, embedding vector(N)); N = the embedding model's
--   size ({{ embedding_model }}: {{ embedding_dimensions }}). The uuid id has a default, so LangChain
--   JS inserts rows without ids and LangChain Python may send its own uuid strings.
--   match_documents(query_embedding, match_count, filter): id, content, metadata, embedding (a JSON
--   array, as LangChain JS's maxMarginalRelevanceSearch reads it; NULL without match_count), similarity.
--   match_documents_embeddings(same arguments): the same rows with embedding as pgvector's text form,
--   which LangChain Python's max_marginal_relevance_search parses (set query_name to it).
-- The functions are plpgsql on purpose: PostgREST passes arguments as sub-selects, and an inlined SQL
-- function then cannot use the HNSW index. Iterative index scans (pgvector >= 0.8) keep filtered
-- searches from returning fewer rows than asked for.
-- Runs as a migration at the first start (as supabase_admin); every step is idempotent.
\set ON_ERROR_STOP on
DO $localai$
DECLARE
  wanted constant integer := {{ embedding_dimensions }};
  dims integer := wanted;
  version text;
  scan_setting text := '';
  body text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    RAISE WARNING 'localai: the pgvector extension is not available in this Postgres; '
                  'documents/match_documents not created';
    RETURN;
  END IF;
  CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;
  SELECT extversion INTO version FROM pg_extension WHERE extname = 'vector';
  IF string_to_array(version, '.')::int[] >= ARRAY[0, 8] THEN
    scan_setting := 'SET hnsw.iterative_scan = relaxed_order';
  ELSE
    RAISE WARNING 'localai: pgvector % has no iterative index scans; filtered searches may return '
                  'fewer rows than asked for (pgvector 0.8 or newer fixes it)', version;
  END IF;

  -- An existing table keeps its size: the functions must match the table, not the settings.
  SELECT a.atttypmod INTO dims FROM pg_attribute AS a
   WHERE a.attrelid = to_regclass('public.documents') AND a.attname = 'embedding' AND NOT a.attisdropped;
  IF dims IS NULL THEN
    dims := wanted;
  ELSIF dims <> wanted THEN
    RAISE WARNING 'localai: public.documents already stores % dimensions, not % ({{ embedding_model }}); '
                  'kept as it is', dims, wanted;
  END IF;

  EXECUTE format($sql$
    CREATE TABLE IF NOT EXISTS public.documents (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      content text,
      metadata jsonb DEFAULT '{}'::jsonb,
      embedding extensions.vector(%s)
    )
  $sql$, dims);
  EXECUTE 'ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY';
  EXECUTE 'CREATE INDEX IF NOT EXISTS documents_embedding_hnsw_idx ON public.documents '
          'USING hnsw (embedding extensions.vector_cosine_ops)';

  -- %1$s: the embedding's SQL type in the result, %2$s: how it is written, %3$s: vector size,
  -- %4$s: the iterative scan setting (empty on an older pgvector).
  body := $sql$
    CREATE OR REPLACE FUNCTION public.%5$I(
      query_embedding extensions.vector(%3$s),
      match_count integer DEFAULT NULL,
      filter jsonb DEFAULT '{}'
    ) RETURNS TABLE (id uuid, content text, metadata jsonb, embedding %1$s, similarity double precision)
    LANGUAGE plpgsql STABLE
    SET search_path = ''
    %4$s
    AS $fn$
    BEGIN
      -- The index scan may return rows slightly out of order (relaxed_order); the outer ORDER BY
      -- sorts the few rows found. `+ 0`: Postgres 17 would otherwise take the CTE's own order
      -- (the index's, which relaxed_order does not keep) and skip this sort.
      RETURN QUERY
      WITH nearest AS MATERIALIZED (
        SELECT d.id AS doc_id, d.content AS doc_content, d.metadata AS doc_metadata,
               d.embedding AS doc_embedding,
               d.embedding OPERATOR(extensions.<=>) query_embedding AS distance
          FROM public.documents AS d
         WHERE filter IS NULL OR filter = '{}'::jsonb OR d.metadata @> filter
         ORDER BY d.embedding OPERATOR(extensions.<=>) query_embedding
         LIMIT match_count
      )
      SELECT n.doc_id, n.doc_content, n.doc_metadata, %2$s, 1 - n.distance
        FROM nearest AS n
       ORDER BY n.distance + 0;
    END
    $fn$
  $sql$;
  -- Without match_count (LangChain Python sends none and limits with ?limit=, outside the function)
  -- every row is returned: its embedding as JSON would cost seconds on 20k rows, and Python reads the
  -- embedding only from match_documents_embeddings, so it is left out (NULL) there.
  EXECUTE format(body, 'jsonb', 'CASE WHEN match_count IS NULL THEN NULL ELSE (n.doc_embedding::text)::jsonb END',
                 dims, scan_setting, 'match_documents');
  EXECUTE format(body, 'extensions.vector', 'n.doc_embedding', dims, scan_setting,
                 'match_documents_embeddings');

  -- Like a table made in Studio: the API roles may use it (row-level security decides what they
  -- see; service_role bypasses it) and postgres, the user's role, owns it.
  EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON public.documents TO anon, authenticated, service_role';
  EXECUTE 'GRANT EXECUTE ON FUNCTION public.match_documents(extensions.vector, integer, jsonb), '
          'public.match_documents_embeddings(extensions.vector, integer, jsonb) '
          'TO anon, authenticated, service_role';
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgres') THEN
    EXECUTE 'ALTER TABLE public.documents OWNER TO postgres';
    EXECUTE 'ALTER FUNCTION public.match_documents(extensions.vector, integer, jsonb) OWNER TO postgres';
    EXECUTE 'ALTER FUNCTION public.match_documents_embeddings(extensions.vector, integer, jsonb) '
            'OWNER TO postgres';
  END IF;
END
$localai$;
