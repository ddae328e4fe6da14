"""Render the whole stack from templates into one output directory, deterministically.

One Jinja2 environment with StrictUndefined. templates/** mirrors into the output tree,
Caddyfile.j2 becomes Caddyfile, and the compose/ fragments of the enabled services are merged
into ONE docker-compose.yml. Secrets never enter the context: templates write `${VAR}` and
Compose (or the container) fills them in.
"""
from __future__ import annotations

import copy
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import jinja2
import yaml

from stack.catalogue import BY_NAME, SERVICES, Service, enabled_services, user_url
from stack.config.envfile import write_atomic
from stack.config.schema import SECRET_KEYS
from stack.config.settings import Settings
from stack.doctor.advice import context_choice
from stack.doctor.hardware import CPU_CONTEXT
from stack.doctor.probes import SystemProbe
from stack.embeddings import DEFAULT_EMBEDDING_MODEL, embedding_dimensions, is_embedding_model
from stack.errors import ConfigError, StackError

ROOT = Path(__file__).resolve().parent.parent
MARKER = ".localai-build"
COMPOSE_FILE = "docker-compose.yml"
LOGGING = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}

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
PRIVATE_SITE_NAMES = {"open-webui": "webui", "n8n": "n8n", "kong": "supabase", "ollama": "ollama",
                      "searxng": "searxng"}


def _environment(search_path: list[Path]) -> jinja2.Environment:
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


def _caddy_sites(settings: Settings, enabled: list[Service]) -> list[dict[str, Any]]:
    names = {s.name for s in enabled}
    sites: list[dict[str, Any]] = []
    for name in ("open-webui", "n8n", "kong", "ollama", "searxng"):
        service = BY_NAME[name]
        if name not in names:
            continue
        upstream = f"{service.name}:{service.port}"
        if settings.public:
            host = settings[service.hostname_key]
            if not host:
                continue
            sites.append({"address": host, "upstream": upstream, "protected": service.needs_basic_auth})
        else:
            sites.append({"address": f"http://{PRIVATE_SITE_NAMES[name]}.localhost", "upstream": upstream,
                          "protected": False})
    return sites


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
    env = {k: v for k, v in settings.values.items() if k not in SECRET_KEYS}
    enabled = enabled_services(settings)
    urls = {s.name: user_url(s, settings) for s in SERVICES}
    if settings.public and settings.profile == "none" and settings["OLLAMA_HOSTNAME"]:
        raise ConfigError("OLLAMA_HOSTNAME: with profile none Ollama runs on the host, outside the stack; "
                          "Caddy cannot publish it. Leave OLLAMA_HOSTNAME blank")
    if settings.public:
        searx_host = settings["SEARXNG_HOSTNAME"]
        searxng_base_url = f"https://{searx_host}" if searx_host else "http://searxng:8080"
    else:
        searxng_base_url = f"http://127.0.0.1:{settings['SEARXNG_PORT']}"
    sites = _caddy_sites(settings, enabled)
    return {
        "env": env,
        "profile": settings.profile,
        "environment": settings.environment,
        "public": settings.public,
        "project": settings.project,
        "full": settings["SUPABASE_SERVICES"] == "full",
        "urls": urls,
        "ollama_url": "http://ollama:11434" if settings.profile != "none" else settings["OLLAMA_HOST_URL"],
        "ollama_context": ollama_context(settings, probe),
        "embedding_model": _embedding_model(settings.models),
        "embedding_dimensions": embedding_dimensions(_embedding_model(settings.models),
                                                     settings["EMBEDDING_DIMENSIONS"]),
        "chat_model": _chat_model(settings.models),
        "n8n_internal_url": "http://n8n:5678",
        "n8n_host": settings["N8N_HOSTNAME"] if settings.public else "localhost",
        "searxng_base_url": searxng_base_url,
        "site_url": settings["SITE_URL"] or urls["open-webui"],
        "sites": sites,
        "caddy_upstreams": sorted({s["upstream"].split(":")[0] for s in sites}),
        "db_init_files": DB_INIT_FILES,
        "kong_entrypoint": KONG_ENTRYPOINT,
        "n8n_entrypoint": N8N_ENTRYPOINT,
        "services": [s.name for s in enabled],
    }


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def render_files(settings: Settings, root: Path = ROOT, probe: Any = None) -> dict[str, bytes]:
    """Render everything into memory: {relative path: content}. Nothing touches the disk.
    `probe` (a doctor.SystemProbe) is only asked for the VRAM when OLLAMA_CONTEXT_LENGTH is auto on a GPU."""
    ctx = context(settings, probe)
    files: dict[str, bytes] = {}
    try:
        tmpl_env = _environment([root / "templates"])
        for path in sorted((root / "templates").rglob("*")):
            if path.is_file():
                rel = path.relative_to(root / "templates").as_posix()
                out_rel = rel.removesuffix(".j2")
                files[out_rel] = tmpl_env.get_template(rel).render(ctx).encode()
        files["Caddyfile"] = _environment([root]).get_template("Caddyfile.j2").render(ctx).encode()

        def file_hash(rel: str) -> str:
            return _digest(files[rel])

        def dir_hash(prefix: str) -> str:
            keys = sorted(k for k in files if k.startswith(prefix.rstrip("/") + "/"))
            return _digest(*(k.encode() + b"\0" + files[k] for k in keys))

        compose_env = _environment([root / "compose"])
        compose_env.globals.update(file_hash=file_hash, dir_hash=dir_hash)
        merged: dict[str, Any] = {"name": settings.project, "services": {}, "volumes": {}}
        for service in enabled_services(settings):
            text = compose_env.get_template(f"{service.fragment}.yml.j2").render(ctx)
            _merge(merged, yaml.safe_load(text), service.fragment)
    except jinja2.TemplateError as exc:
        raise StackError(f"template error: {exc}") from exc
    except yaml.YAMLError as exc:
        raise StackError(f"a compose fragment rendered invalid YAML: {exc}") from exc
    merged["volumes"] = dict(sorted(merged["volumes"].items()))
    header = (f"# Rendered by Local AI Stack (profile {settings.profile}, {settings.environment}). "
              "Do not edit: run `python start.py render`.\n"
              "# Secrets are ${VARIABLES} that Compose reads from .env.\n")
    body = yaml.safe_dump(merged, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    files[COMPOSE_FILE] = (header + body).encode()
    return files


def _merge(merged: dict[str, Any], fragment: dict[str, Any], origin: str) -> None:
    for name, spec in (fragment.get("services") or {}).items():
        if name in merged["services"]:
            raise StackError(f"compose/{origin}: service {name} is defined twice")
        spec.setdefault("restart", "unless-stopped")
        spec.setdefault("logging", copy.deepcopy(LOGGING))
        merged["services"][name] = spec
    for name, spec in (fragment.get("volumes") or {}).items():
        merged["volumes"][name] = spec or {}
    for name, spec in (fragment.get("networks") or {}).items():
        merged.setdefault("networks", {})[name] = spec or {}


def check_output_dir(out: Path) -> None:
    """Refuse an output directory we cannot write or that holds someone else's files.

    Tries a real write (permission bits say nothing for root) so that .env is only written
    when the render will succeed too.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output: {out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ConfigError(f"--output: {out} is not empty and was not made by start.py; choose an empty "
                          "or new directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(f"--output: cannot write to {out} ({exc.strerror or exc})") from exc


def write_files(files: dict[str, bytes], out: Path) -> list[str]:
    """Write only what changed (keeps unchanged files' inodes for running bind mounts), drop stale files."""
    check_output_dir(out)
    changed: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("Rendered by Local AI Stack; everything here is regenerated.\n")
        for rel, content in files.items():
            target = out / rel
            if target.is_file() and target.read_bytes() == content:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, content.decode(), mode=0o644)
            changed.append(rel)
        for path in sorted(out.rglob("*"), reverse=True):
            rel = path.relative_to(out).as_posix()
            if path.is_file() and rel != MARKER and rel not in files:
                path.unlink()
                changed.append(rel)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    except OSError as exc:
        raise StackError(f"cannot write {out}: {exc.strerror}") from exc
    return changed
