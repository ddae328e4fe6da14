"""What templates see: the render context, built from the settings and the service records.

One Jinja2 environment with StrictUndefined. Secrets never enter the context: templates write
`${VAR}` and Compose (or the container) fills them in. Service addresses (internal URLs, user URLs,
Caddy sites) come from the records in stack/services, never from names written here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from stack import services
from stack.config.images import DEFAULT_IMAGES
from stack.config.schema import SECRET_KEYS
from stack.config.settings import Settings
from stack.doctor.advice import context_choice
from stack.doctor.hardware import CPU_CONTEXT
from stack.doctor.probes import SystemProbe
from stack.embeddings import DEFAULT_EMBEDDING_MODEL, embedding_dimensions, is_embedding_model

# (path under /docker-entrypoint-initdb.d, file under templates/supabase/db) in run order
DB_INIT_FILES = (
    ("init-scripts/99-localai-roles.sql", "roles.sql"),
    ("init-scripts/99-localai-jwt.sql", "jwt.sql"),
    ("migrations/97-localai-internal.sql", "internal.sql"),
    ("migrations/99-localai-realtime.sql", "realtime.sql"),
    ("migrations/99-localai-webhooks.sql", "webhooks.sql"),
    ("migrations/99-localai-n8n.sql", "n8n.sql"),
    ("migrations/99-localai-rag.sql", "rag.sql"),
    ("migrations/99-localai-zz-api.sql", "api.sql"),
)

# Replace each ${NAME} in Kong's config with the container's env value. awk reads ENVIRON, so
# no key is ever part of a command line; `$$` is Compose's escape for a literal `$`.
KONG_ENTRYPOINT = (
    "awk '{ out = \"\"; while (match($$0, /[$$][{][A-Z_]+[}]/)) { "
    "out = out substr($$0, 1, RSTART - 1) ENVIRON[substr($$0, RSTART + 2, RLENGTH - 3)]; "
    "$$0 = substr($$0, RSTART + RLENGTH) } print out $$0 }' "
    "/home/kong/temp.yml > \"$$KONG_DECLARATIVE_CONFIG\" && exec /entrypoint.sh kong docker-start"
)
# n8n's owner hash (bcrypt, full of `$`) arrives base64-encoded; decode it from the environment
# (never argv) into the variable n8n reads, then run the image's own entrypoint.
N8N_ENTRYPOINT = (
    "N8N_INSTANCE_OWNER_PASSWORD_HASH=\"$$(node -e \"process.stdout.write(Buffer.from("
    "process.env.N8N_OWNER_PASSWORD_HASH_B64, 'base64').toString())\")\" && "
    "export N8N_INSTANCE_OWNER_PASSWORD_HASH && unset N8N_OWNER_PASSWORD_HASH_B64 && "
    "exec tini -- /docker-entrypoint.sh"
)


def environment(search_path: list[Path]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _embedding_model(models: list[str]) -> str:
    for model in models:
        if is_embedding_model(model):
            return model
    return DEFAULT_EMBEDDING_MODEL


def _chat_model(models: list[str]) -> str:
    for model in models:
        if not is_embedding_model(model):
            return model
    return "llama3.2:3b"


def ollama_context(settings: Settings, probe: Any = None) -> int | None:
    """OLLAMA_CONTEXT_LENGTH for the ollama service; None leaves it to Ollama (see doctor.context_choice).
    Only `auto` on a GPU profile looks at the machine (its VRAM), through doctor's probe."""
    if settings.profile == "none":
        return None
    raw = settings["OLLAMA_CONTEXT_LENGTH"]
    if raw != "auto" or settings.profile == "cpu":
        return int(raw) if raw != "auto" else CPU_CONTEXT
    return context_choice(settings, probe or SystemProbe()).setting


def context(settings: Settings, probe: Any = None) -> dict[str, Any]:
    """Everything templates may use. Secret values are deliberately absent."""
    services.check_settings(settings)
    env = {k: v for k, v in settings.values.items() if k not in SECRET_KEYS}
    env.update({key: settings.image(key) for key in DEFAULT_IMAGES})  # through IMAGE_REGISTRY, if set
    enabled = services.enabled_services(settings)
    urls = {s.name: s.user_url(settings) for s in services.SERVICES}
    internal = {s.name: s.internal_url for s in services.SERVICES if s.port}
    searxng = services.by_name("searxng")
    if settings.public:
        searx_host = settings[searxng.hostname_key]
        searxng_base_url = f"https://{searx_host}" if searx_host else internal["searxng"]
    else:
        searxng_base_url = searxng.private_url(settings)
    sites = services.caddy_sites(settings)
    return {
        "env": env,
        "profile": settings.profile,
        "environment": settings.environment,
        "public": settings.public,
        "project": settings.project,
        "full": settings["SUPABASE_SERVICES"] == "full",
        "urls": urls,
        "ollama_url": internal["ollama"] if settings.profile != "none" else settings["OLLAMA_HOST_URL"],
        "ollama_context": ollama_context(settings, probe),
        "embedding_model": _embedding_model(settings.models),
        "embedding_dimensions": embedding_dimensions(_embedding_model(settings.models),
                                                     settings["EMBEDDING_DIMENSIONS"]),
        "chat_model": _chat_model(settings.models),
        "n8n_internal_url": internal["n8n"],
        "internal": internal,
        "records": {s.name: s for s in services.SERVICES},
        "n8n_host": settings[services.by_name("n8n").hostname_key] if settings.public else "localhost",
        "searxng_base_url": searxng_base_url,
        "site_url": settings["SITE_URL"] or urls["open-webui"],
        "sites": sites,
        "caddy_upstreams": sorted({s["upstream"].split(":")[0] for s in sites}),
        "db_init_files": DB_INIT_FILES,
        "kong_entrypoint": KONG_ENTRYPOINT,
        "n8n_entrypoint": N8N_ENTRYPOINT,
        "services": [s.name for s in enabled],
    }


