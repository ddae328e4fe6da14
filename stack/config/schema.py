"""Every setting the stack knows: default, group, documentation and kind.

This table is the single source of `.env.example` (see `example_text`) and of validation.
Secrets have an empty default and a declared `Secret` (generator, checks, rotation rule);
stack/config/secrets.py fills them once, in the order their dependencies give.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from stack.config.generators import Alnum, ApiKey, BcryptOf, Hex, Password, Refused, Rotatable, Secret
from stack.config.images import DEFAULT_IMAGES

PROFILES = ("cpu", "gpu-nvidia", "gpu-amd", "none")
ENVIRONMENTS = ("private", "public")
TARGETS = ("compose", "swarm")
KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    group: str
    doc: str
    kind: str = "str"  # str|int|port|bool|choice|email|hostname|image|registry|secret|url|models|name|list
    choices: tuple[str, ...] = ()
    secret: Secret | None = None  # how a secret is made, checked and rotated (stack/config/generators.py)
    optional: bool = True
    extra: dict[str, str] = field(default_factory=dict)


def _s(key: str, default: str, group: str, doc: str, kind: str = "str", **kw: object) -> Setting:
    return Setting(key, default, group, doc, kind, **kw)  # type: ignore[arg-type]


SETTINGS: tuple[Setting, ...] = (
    # -- general ---------------------------------------------------------------------------
    _s("PROJECT_NAME", "localai", "General", "Compose project name: prefixes containers and volumes.",
       "name", optional=False),
    _s("PROFILE", "cpu", "General",
       "How Ollama runs: cpu | gpu-nvidia | gpu-amd | none (none = Ollama already runs on this host). "
       "start.py --profile remembers the last choice here.", "choice", choices=PROFILES, optional=False),
    _s("ENVIRONMENT", "private", "General",
       "private = every port on 127.0.0.1 only; public = only Caddy on 80/443 with HTTPS for your "
       "domains. start.py --environment remembers the last choice here.", "choice",
       choices=ENVIRONMENTS, optional=False),
    _s("TARGET", "compose", "General",
       "What runs the stack: compose (Docker Compose, this machine) | swarm (docker stack deploy on a "
       "swarm manager; label the data node `localai.data=true`, GPU nodes `localai.gpu=true`, README). "
       "start.py --target remembers the last choice here.", "choice", choices=TARGETS, optional=False),
    _s("SWARM_PRIVATE_ON_ALL_INTERFACES", "false", "General",
       "Swarm cannot publish a port on 127.0.0.1 only: every published port listens on all of the node's "
       "interfaces. So a private stack on Swarm is refused unless this is true, i.e. you keep the node's "
       "ports private yourself (a firewall). Public mode on Swarm publishes only Caddy's 80/443.", "bool",
       optional=False),
    _s("TIMEZONE", "UTC", "General", "Timezone for n8n schedules and logs (e.g. Europe/Berlin)."),
    # -- public mode ------------------------------------------------------------------------
    _s("LETSENCRYPT_EMAIL", "", "Public mode (Caddy)",
       "Email for Let's Encrypt certificates. Required in public mode.", "email"),
    _s("WEBUI_HOSTNAME", "", "Public mode (Caddy)", "Domain for Open WebUI, e.g. chat.example.com. "
       "Required in public mode.", "hostname"),
    _s("N8N_HOSTNAME", "", "Public mode (Caddy)", "Domain for n8n, e.g. n8n.example.com. "
       "Required in public mode.", "hostname"),
    _s("SUPABASE_HOSTNAME", "", "Public mode (Caddy)", "Domain for the Supabase API and Studio, "
       "e.g. supabase.example.com. Required in public mode.", "hostname"),
    _s("OLLAMA_HOSTNAME", "", "Public mode (Caddy)", "Optional domain for the Ollama API. Ollama has no "
       "login of its own, so Caddy protects it with basic auth (CADDY_BASIC_AUTH_*).", "hostname"),
    _s("SEARXNG_HOSTNAME", "", "Public mode (Caddy)", "Optional domain for SearXNG, protected by Caddy "
       "basic auth like Ollama.", "hostname"),
    _s("CADDY_TLS", "acme", "Public mode (Caddy)", "acme = real certificates from Let's Encrypt; "
       "internal = Caddy's own CA (for testing without a public DNS name).", "choice",
       choices=("acme", "internal"), optional=False),
    _s("CADDY_BASIC_AUTH_USER", "admin", "Public mode (Caddy)",
       "User name for the basic auth in front of Ollama and SearXNG.", "name", optional=False),
    _s("CADDY_BASIC_AUTH_PASSWORD", "", "Public mode (Caddy)",
       "Password for that basic auth. Generated when blank.", "secret",
       secret=Secret(Alnum(24), min_length=8, rotation=Rotatable("the basic auth in front of Ollama and SearXNG "
                                                                 "changes"))),
    _s("CADDY_BASIC_AUTH_HASH", "", "Public mode (Caddy)",
       "bcrypt hash of CADDY_BASIC_AUTH_PASSWORD for Caddy. Derived automatically; do not edit.",
       "secret",
       secret=Secret(BcryptOf("CADDY_BASIC_AUTH_PASSWORD"), rotation=Refused("rotate CADDY_BASIC_AUTH_PASSWORD "
                                                                             "instead; the hash follows it"))),
    # -- ports (private mode) ---------------------------------------------------------------
    _s("WEBUI_PORT", "3000", "Ports (private mode, bound to 127.0.0.1)", "Open WebUI.", "port", optional=False),
    _s("N8N_PORT", "5678", "Ports (private mode, bound to 127.0.0.1)", "n8n editor and webhooks.", "port",
       optional=False),
    _s("SUPABASE_PORT", "8000", "Ports (private mode, bound to 127.0.0.1)",
       "Supabase API gateway (Kong) and Studio.", "port", optional=False),
    _s("OLLAMA_PORT", "11434", "Ports (private mode, bound to 127.0.0.1)", "Ollama API.", "port",
       optional=False),
    _s("SEARXNG_PORT", "8081", "Ports (private mode, bound to 127.0.0.1)", "SearXNG.", "port", optional=False),
    _s("POSTGRES_PORT", "5432", "Ports (private mode, bound to 127.0.0.1)",
       "Supabase Postgres, for your own SQL tools.", "port", optional=False),
    _s("CADDY_PORT", "8880", "Ports (private mode, bound to 127.0.0.1)",
       "Caddy in private mode: http://webui.localhost:PORT, n8n.localhost, supabase.localhost.",
       "port", optional=False),
    # -- ollama -----------------------------------------------------------------------------
    _s("OLLAMA_FLASH_ATTENTION", "1", "Ollama", "Flash attention: faster and needed for a quantized "
       "KV cache. 1 or 0.", "bool", optional=False),
    _s("OLLAMA_KV_CACHE_TYPE", "q8_0", "Ollama", "KV cache precision: f16 | q8_0 (about half the memory "
       "of f16) | q4_0. q8_0 and q4_0 need OLLAMA_FLASH_ATTENTION=1.", "choice", choices=KV_CACHE_TYPES,
       optional=False),
    _s("OLLAMA_CONTEXT_LENGTH", "auto", "Ollama", "Default context window in tokens, or auto: from what "
       "doctor knows about this machine (never below Ollama's own VRAM-based 4k/32k/256k; 8192 on the CPU). "
       "`start.py doctor` shows the value.", "str", optional=False, extra={"min": "512", "max": "1048576"}),
    _s("OLLAMA_KEEP_ALIVE", "5m", "Ollama", "How long a model stays loaded after use (e.g. 5m, 1h, -1)."),
    _s("OLLAMA_MODELS", "llama3.2:3b,nomic-embed-text", "Ollama",
       "Models to pull after start, comma separated (a chat model and an embedding model).", "models"),
    _s("EMBEDDING_DIMENSIONS", "", "Ollama", "Vector size of the embedding model in OLLAMA_MODELS, for "
       "the Supabase vector store (fixed when the database is first created). Blank = known from the "
       "model (nomic-embed-text 768, mxbai-embed-large 1024, ...); set it for a model start.py does not "
       "know.", "int", extra={"min": "1", "max": "2000"}),
    _s("OLLAMA_GPU_COUNT", "all", "Ollama", "gpu-nvidia: how many GPUs Ollama may use (all or a number).",
       "str", optional=False),
    _s("OLLAMA_HOST_URL", "http://host.docker.internal:11434", "Ollama",
       "profile none: where the host's Ollama answers, as seen from the containers.", "url", optional=False),
    # -- supabase ---------------------------------------------------------------------------
    _s("SUPABASE_SERVICES", "core", "Supabase", "core = db, gateway, auth, rest, realtime, storage, "
       "imgproxy, meta, studio; full adds analytics, vector, edge functions and the pooler.", "choice",
       choices=("core", "full"), optional=False),
    _s("POSTGRES_DB", "postgres", "Supabase", "Main database name.", "name", optional=False),
    _s("POSTGRES_PASSWORD", "", "Supabase", "Postgres superuser password. Generated (alphanumeric) "
       "when blank. Changing it later does NOT change the database's password.", "secret",
       secret=Secret(Alnum(32), min_length=12, url_safe=True, in_database=True,
                     rotation=Rotatable("changed inside the running database for every Supabase role that "
                                        "logs in"))),
    _s("JWT_SECRET", "", "Supabase", "Signs ANON_KEY, SERVICE_ROLE_KEY and user sessions. Generated.",
       "secret",
       secret=Secret(Alnum(48), min_length=32, rotation=Rotatable("ANON_KEY and SERVICE_ROLE_KEY are re-signed; update "
                                                                  "clients that hold the old keys"))),
    _s("ANON_KEY", "", "Supabase", "Public API key (JWT, role anon) signed with JWT_SECRET. Generated.",
       "secret",
       secret=Secret(ApiKey("anon"), rotation=Refused("rotate JWT_SECRET instead; it re-signs both API keys"))),
    _s("SERVICE_ROLE_KEY", "", "Supabase", "Admin API key (JWT, role service_role) signed with "
       "JWT_SECRET. Generated. Keep it on servers only.", "secret",
       secret=Secret(ApiKey("service_role"), rotation=Refused("rotate JWT_SECRET instead; it re-signs both API keys"))),
    _s("JWT_EXPIRY", "3600", "Supabase", "Lifetime of user session tokens in seconds.", "int",
       optional=False, extra={"min": "60", "max": "31536000"}),
    _s("DASHBOARD_USERNAME", "supabase", "Supabase", "Supabase Studio login.", "name", optional=False),
    _s("DASHBOARD_PASSWORD", "", "Supabase", "Supabase Studio password. Generated.", "secret",
       secret=Secret(Alnum(24), min_length=8, rotation=Rotatable("the Supabase Studio login changes"))),
    _s("SECRET_KEY_BASE", "", "Supabase", "Realtime and pooler session secret (64+ chars). Generated.",
       "secret",
       secret=Secret(Alnum(64), min_length=64, rotation=Rotatable("Realtime and pooler sessions restart"))),
    _s("VAULT_ENC_KEY", "", "Supabase", "Pooler vault key (exactly 32 chars). Generated.", "secret",
       secret=Secret(Alnum(32), exact_length=32,
                     rotation=Refused("the pooler's stored secrets are encrypted with it"))),
    _s("PG_META_CRYPTO_KEY", "", "Supabase", "postgres-meta encryption key (32+ chars). Generated.",
       "secret",
       secret=Secret(Alnum(32), min_length=32, rotation=Refused("postgres-meta's stored connection secrets are "
                                                                "encrypted with it"))),
    _s("REALTIME_DB_ENC_KEY", "", "Supabase", "Realtime tenant encryption key (exactly 16 chars). "
       "Generated.", "secret",
       secret=Secret(Alnum(16), exact_length=16, rotation=Refused("Realtime's tenant settings are encrypted with it"))),
    _s("LOGFLARE_PUBLIC_ACCESS_TOKEN", "", "Supabase", "Analytics ingest token (full set). Generated.",
       "secret",
       secret=Secret(Alnum(40), rotation=Rotatable("analytics ingest token changes"))),
    _s("LOGFLARE_PRIVATE_ACCESS_TOKEN", "", "Supabase", "Analytics admin token (full set). Generated.",
       "secret",
       secret=Secret(Alnum(40), rotation=Rotatable("analytics admin token changes"))),
    _s("SITE_URL", "", "Supabase", "Where auth emails send users back to. Blank = the Open WebUI URL.",
       "url"),
    _s("DISABLE_SIGNUP", "false", "Supabase", "Refuse new Supabase Auth sign-ups.", "bool", optional=False),
    _s("ENABLE_EMAIL_AUTOCONFIRM", "true", "Supabase", "Confirm emails automatically (no SMTP needed).",
       "bool", optional=False),
    _s("STUDIO_DEFAULT_ORGANIZATION", "Local AI Stack", "Supabase", "Name shown in Studio."),
    _s("STUDIO_DEFAULT_PROJECT", "Local AI", "Supabase", "Project name shown in Studio."),
    # -- n8n -------------------------------------------------------------------------------
    _s("N8N_DB_PASSWORD", "", "n8n", "Password of n8n's own Postgres role. Generated (alphanumeric).",
       "secret",
       secret=Secret(Alnum(32), min_length=12, url_safe=True, in_database=True,
                     rotation=Rotatable("changed inside the running database for n8n's role"))),
    _s("N8N_ENCRYPTION_KEY", "", "n8n", "Encrypts n8n credentials. Generated once; changing it makes "
       "saved credentials unreadable.", "secret",
       secret=Secret(Alnum(40), min_length=16, rotation=Refused("n8n encrypts every saved credential with it; a new "
                                                                "key makes them unreadable"))),
    _s("N8N_USER_MANAGEMENT_JWT_SECRET", "", "n8n", "Signs n8n login sessions. Generated.", "secret",
       secret=Secret(Alnum(40), min_length=16, rotation=Rotatable("everyone is signed out of n8n"))),
    _s("N8N_OWNER_EMAIL", "owner@localai.local", "n8n", "Login of the n8n owner account, created at the first "
       "start (nobody can claim it from the sign-up page). `start.py accounts` shows it.", "email", optional=False),
    _s("N8N_OWNER_PASSWORD", "", "n8n", "Password of the n8n owner. Generated (letters and digits, with an "
       "uppercase letter and a digit as n8n requires). n8n applies a change here at its next start.", "secret",
       secret=Secret(Password(24), min_length=8)),
    _s("N8N_OWNER_PASSWORD_HASH", "", "n8n", "bcrypt hash of N8N_OWNER_PASSWORD for n8n. Derived automatically; "
       "do not edit.", "secret",
       secret=Secret(BcryptOf("N8N_OWNER_PASSWORD"))),
    _s("N8N_AGENT_PASSWORD", "", "n8n", "Basic auth password (user openwebui) of the starter agent's chat "
       "webhook, used by the Open WebUI pipe. Generated.", "secret",
       secret=Secret(Alnum(32), min_length=8)),
    _s("N8N_RUNNERS_AUTH_TOKEN", "", "n8n", "Shared secret between n8n and its task runners container (Code "
       "nodes run there). Generated.", "secret",
       secret=Secret(Alnum(40), min_length=16)),
    # -- open webui ------------------------------------------------------------------------
    _s("WEBUI_SECRET_KEY", "", "Open WebUI", "Signs Open WebUI sessions so logins survive a restart. "
       "Generated.", "secret",
       secret=Secret(Alnum(40), min_length=16, rotation=Rotatable("everyone is signed out of Open WebUI"))),
    _s("WEBUI_NAME", "Local AI", "Open WebUI", "Name shown in the chat page."),
    _s("WEBUI_ADMIN_EMAIL", "admin@localai.local", "Open WebUI", "Login of the Open WebUI admin, created at the "
       "first start (nobody can sign up after it). `python start.py accounts` shows it.", "email",
       optional=False),
    _s("WEBUI_ADMIN_PASSWORD", "", "Open WebUI", "Password of that admin. Generated; used only when the admin is "
       "created (change it later in Open WebUI, then here too, so start.py can keep the n8n agent set up).",
       "secret",
       secret=Secret(Alnum(24), rotation=Refused("Open WebUI keeps it in its own database; change it in Open WebUI "
                                                 "(Settings -> Account), then write the new one into .env"))),
    # -- searxng ---------------------------------------------------------------------------
    _s("SEARXNG_SECRET", "", "SearXNG", "SearXNG server secret (the service refuses its default). "
       "Generated.", "secret",
       secret=Secret(Hex(32), min_length=16, rotation=Rotatable("no visible effect"))),
    # -- images ----------------------------------------------------------------------------
    _s("IMAGE_REGISTRY", "", "Images (pinned; override for a mirror or an air-gapped registry)",
       "One registry mirror for every image, host[:port][/prefix]. Blank = each image from its own registry. "
       "Set, every image (pinned or overridden below) is pulled as <IMAGE_REGISTRY>/<its registry>/<repository>"
       ":<tag>, Docker Hub as docker.io (official images docker.io/library/NAME), e.g. reg:5000/mirror/docker.io/"
       "library/caddy:2.11.9-alpine; an image already under IMAGE_REGISTRY is used as written. "
       "`start.py images push` fills such a mirror.", "registry"),
    *(
        _s(key, ref, "Images (pinned; override for a mirror or an air-gapped registry)",
           f"Image for {key.removesuffix('_IMAGE').lower().replace('_', ' ')}.", "image", optional=False)
        for key, ref in DEFAULT_IMAGES.items()
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
SECRET_KEYS: tuple[str, ...] = tuple(s.key for s in SETTINGS if s.secret)
SECRETS: dict[str, Secret] = {s.key: s.secret for s in SETTINGS if s.secret}


def groups() -> list[str]:
    seen: list[str] = []
    for s in SETTINGS:
        if s.group not in seen:
            seen.append(s.group)
    return seen


def example_text() -> str:
    """The text of `.env.example`: every setting, documented, grouped; secrets blank."""
    out = [
        "# Local AI Stack settings. start.py copies this file to .env on first run and fills in",
        "# every blank secret ONCE (never regenerated: a new key would make existing data unreadable).",
        "# .env holds your secrets: it is created with mode 0600 and is never committed.",
        "",
    ]
    for group in groups():
        out.append(f"# ==== {group} " + "=" * max(3, 80 - len(group) - 8))
        for s in SETTINGS:
            if s.group != group:
                continue
            out.append(f"# {s.doc}")
            out.append(f"{s.key}={s.default}")
        out.append("")
    return "\n".join(out)
