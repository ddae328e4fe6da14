"""Pinned image versions: the one place to bump them. Each can be overridden from .env."""
from __future__ import annotations

# setting name -> default image reference (never `latest` or `main`)
DEFAULT_IMAGES: dict[str, str] = {
    "OLLAMA_IMAGE": "ollama/ollama:0.13.5",
    "OLLAMA_ROCM_IMAGE": "ollama/ollama:0.13.5-rocm",
    "OPEN_WEBUI_IMAGE": "ghcr.io/open-webui/open-webui:v0.6.36",
    "N8N_IMAGE": "n8nio/n8n:2.41.3",  # npm n8n dist-tags latest, checked 2026-12-01
    "N8N_RUNNERS_IMAGE": "n8nio/runners:2.41.3",  # n8n-io/n8n docker/images/runners, same release, checked 2026-12-01
    "SEARXNG_IMAGE": "searxng/searxng:2025.9.20-57ef342",
    "CADDY_IMAGE": "caddy:2.10.2-alpine",
    "SUPABASE_DB_IMAGE": "supabase/postgres:15.8.1.085",
    "SUPABASE_KONG_IMAGE": "kong:2.8.1",
    "SUPABASE_AUTH_IMAGE": "supabase/gotrue:v2.186.0",
    "SUPABASE_REST_IMAGE": "postgrest/postgrest:v14.5",
    "SUPABASE_REALTIME_IMAGE": "supabase/realtime:v2.78.15",
    "SUPABASE_STORAGE_IMAGE": "supabase/storage-api:v1.44.2",
    "SUPABASE_IMGPROXY_IMAGE": "darthsim/imgproxy:v3.30.1",
    "SUPABASE_META_IMAGE": "supabase/postgres-meta:v0.95.2",
    "SUPABASE_STUDIO_IMAGE": "supabase/studio:2026.02.16-sha-26c615c",
    "SUPABASE_ANALYTICS_IMAGE": "supabase/logflare:1.31.2",
    "SUPABASE_VECTOR_IMAGE": "timberio/vector:0.53.0-alpine",
    "SUPABASE_FUNCTIONS_IMAGE": "supabase/edge-runtime:v1.70.3",
    "SUPABASE_POOLER_IMAGE": "supabase/supavisor:2.7.4",
}

FLOATING_TAGS = frozenset({"latest", "main", "master", "nightly"})


def image_problem(reference: str) -> str | None:
    """Why `reference` is not an acceptable pinned image, or None when it is."""
    if not reference or any(c.isspace() for c in reference):
        return "must be an image reference like name:1.2.3"
    if "@sha256:" in reference:
        return None
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag; pin a version (e.g. name:1.2.3) or a digest"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() in FLOATING_TAGS:
        return f"uses the floating tag '{tag}'; pin a version"
    return None
