"""Pinned image versions: the one place to bump them. Each can be overridden from .env."""
from __future__ import annotations

# setting name -> default image reference (never `latest` or `main`)
DEFAULT_IMAGES: dict[str, str] = {
    "OLLAMA_IMAGE": "ollama/ollama:0.32.15",  # github ollama/ollama tag v0.32.15 (newest non-rc), checked 2026-12-01
    # same release; .github/workflows/release.yaml @ v0.32.15 pushes {{version}} with suffix '-rocm', checked 2026-12-01
    "OLLAMA_ROCM_IMAGE": "ollama/ollama:0.32.15-rocm",
    "OPEN_WEBUI_IMAGE": "ghcr.io/open-webui/open-webui:v0.12.4",  # PyPI open-webui 0.12.4, checked 2026-12-01
    "N8N_IMAGE": "n8nio/n8n:2.41.3",  # npm n8n dist-tags latest, checked 2026-12-01
    "N8N_RUNNERS_IMAGE": "n8nio/runners:2.41.3",  # n8n-io/n8n docker/images/runners, same release, checked 2026-12-01
    # github searxng/searxng master @ 9fea41204 (2026-08-22): container.yml tags it with searx/version.py's
    # DOCKER_TAG (commit date + short hash), checked 2026-12-01
    "SEARXNG_IMAGE": "searxng/searxng:2026.8.22-9fea41204",
    # github caddyserver/caddy tag v2.11.9 (newest 2.11.x the Go module proxy serves), image from
    # caddyserver/caddy-docker 2.11/alpine, checked 2026-12-01
    "CADDY_IMAGE": "caddy:2.11.9-alpine",
    "SUPABASE_DB_IMAGE":
        "supabase/postgres:17.6.1.136",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_KONG_IMAGE":
        "kong/kong:3.9.3",  # supabase/supabase docker/docker-compose.kong.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_AUTH_IMAGE":
        "supabase/gotrue:v2.196.0",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_REST_IMAGE":
        "postgrest/postgrest:v14.17",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_REALTIME_IMAGE":
        "supabase/realtime:v2.134.10",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_STORAGE_IMAGE":
        "supabase/storage-api:v1.74.0",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_IMGPROXY_IMAGE":
        "darthsim/imgproxy:v3.31.4",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_META_IMAGE":
        "supabase/postgres-meta:v0.99.0",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_STUDIO_IMAGE":
        "supabase/studio:2026.09.07-sha-7996410",  # supabase docker/docker-compose.yml@1f37f2a9, checked 2026-12-01
    "SUPABASE_ANALYTICS_IMAGE":
        "supabase/logflare:1.42.0",  # supabase/supabase docker/docker-compose.logs.yml @ 07b8529e, checked 2026-12-01
    "SUPABASE_VECTOR_IMAGE":
        "timberio/vector:0.53.0-alpine",  # supabase docker/docker-compose.logs.yml@07b8529e, checked 2026-12-01
    "SUPABASE_FUNCTIONS_IMAGE":
        "supabase/edge-runtime:v1.76.2",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
    "SUPABASE_POOLER_IMAGE":
        "supabase/supavisor:2.9.12",  # supabase/supabase docker/docker-compose.yml @ 1f37f2a9, checked 2026-12-01
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
