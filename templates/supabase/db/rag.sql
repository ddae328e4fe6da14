-- Local AI Stack: a pgvector store for RAG workflows, in the shape n8n's Supabase vector
-- store expects: documents(id, content, metadata, embedding) and match_documents().
-- The embedding size matches the default embedding model (nomic-embed-text: 768).
\set ON_ERROR_STOP on
DO $localai$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    RAISE WARNING 'localai: the pgvector extension is not available in this Postgres; documents/match_documents not created';
    RETURN;
  END IF;
  CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;
  EXECUTE $sql$
    CREATE TABLE IF NOT EXISTS public.documents (
      id bigserial PRIMARY KEY,
      content text,
      metadata jsonb,
      embedding extensions.vector(768)
    )
  $sql$;
  EXECUTE 'ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY';
  EXECUTE $sql$
    CREATE OR REPLACE FUNCTION public.match_documents(
      query_embedding extensions.vector(768),
      match_count integer DEFAULT NULL,
      filter jsonb DEFAULT '{}'
    ) RETURNS TABLE (id bigint, content text, metadata jsonb, similarity double precision)
    LANGUAGE sql STABLE
    AS $fn$
      SELECT d.id, d.content, d.metadata,
             1 - (d.embedding OPERATOR(extensions.<=>) query_embedding) AS similarity
      FROM public.documents AS d
      WHERE d.metadata @> filter
      ORDER BY d.embedding OPERATOR(extensions.<=>) query_embedding
      LIMIT match_count
    $fn$
  $sql$;
END
$localai$;
