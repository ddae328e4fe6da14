"""The service catalogue: what runs, where it answers, how we know it is ready.

Adding a service means one compose fragment, its config under templates/, and one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass

from stack.settings import Settings


@dataclass(frozen=True)
class Service:
    name: str                 # compose service name
    title: str                # what the user sees in tables
    fragment: str             # compose/<fragment>.yml.j2
    port: int = 0             # port inside the container (0 = not an HTTP service)
    port_key: str = ""        # setting with the 127.0.0.1 port in private mode
    hostname_key: str = ""    # setting with the public domain
    probe_path: str = ""      # HTTP readiness probe, relative to the service URL
    probe_expect: str = ""    # text the probe's body must contain
    supabase: str = ""        # "" | core | full
    needs_basic_auth: bool = False  # no login of its own: never public without Caddy basic auth
    note: str = ""

    def enabled(self, settings: Settings) -> bool:
        if self.name == "ollama" and settings.profile == "none":
            return False
        return not (self.supabase == "full" and settings["SUPABASE_SERVICES"] != "full")


SERVICES: tuple[Service, ...] = (
    Service("ollama", "Ollama API", "ollama", 11434, "OLLAMA_PORT", "OLLAMA_HOSTNAME", "/",
            "Ollama is running", needs_basic_auth=True),
    Service("open-webui", "Open WebUI (chat)", "open-webui", 8080, "WEBUI_PORT", "WEBUI_HOSTNAME", "/health",
            note="admin login: `python start.py accounts`"),
    # /healthz/readiness answers ~4.5 s before the REST API is mounted (n8n abstract-server.js:154 vs 198):
    # the editor's own settings call is the probe. Without a login it answers the public settings
    # (n8n dist/server.js:405, services/frontend.service.js:522-525): settingsMode, no versionCli.
    Service("n8n", "n8n (workflows)", "n8n", 5678, "N8N_PORT", "N8N_HOSTNAME", "/rest/settings", "settingsMode",
            note="owner login: `python start.py accounts`"),
    Service("n8n-runners", "n8n task runners", "n8n-runners"),
    Service("searxng", "SearXNG (search)", "searxng", 8080, "SEARXNG_PORT", "SEARXNG_HOSTNAME", "/healthz",
            needs_basic_auth=True),
    Service("kong", "Supabase API + Studio", "supabase/kong", 8000, "SUPABASE_PORT", "SUPABASE_HOSTNAME",
            "/auth/v1/health", supabase="core", note="Studio login: DASHBOARD_USERNAME / DASHBOARD_PASSWORD"),
    Service("db", "Supabase Postgres", "supabase/db", 5432, "POSTGRES_PORT", supabase="core"),
    Service("auth", "Supabase Auth", "supabase/auth", supabase="core"),
    Service("rest", "Supabase REST", "supabase/rest", supabase="core"),
    Service("realtime", "Supabase Realtime", "supabase/realtime", supabase="core"),
    Service("storage", "Supabase Storage", "supabase/storage", supabase="core"),
    Service("imgproxy", "Supabase imgproxy", "supabase/imgproxy", supabase="core"),
    Service("meta", "Supabase pg-meta", "supabase/meta", supabase="core"),
    Service("studio", "Supabase Studio", "supabase/studio", supabase="core"),
    Service("analytics", "Supabase Analytics", "supabase/analytics", supabase="full"),
    Service("vector", "Supabase log collector", "supabase/vector", supabase="full"),
    Service("functions", "Supabase Edge Functions", "supabase/functions", supabase="full"),
    Service("supavisor", "Supabase pooler", "supabase/supavisor", supabase="full"),
    Service("caddy", "Caddy (front door)", "caddy", 80, "CADDY_PORT", probe_path="/healthz",
            probe_expect="OK"),
)

BY_NAME: dict[str, Service] = {s.name: s for s in SERVICES}


def enabled_services(settings: Settings) -> list[Service]:
    return [s for s in SERVICES if s.enabled(settings)]


def private_url(service: Service, settings: Settings) -> str:
    """Where the user's browser reaches `service` in private mode."""
    return f"http://127.0.0.1:{settings[service.port_key]}" if service.port_key else ""


def public_url(service: Service, settings: Settings) -> str:
    host = settings[service.hostname_key] if service.hostname_key else ""
    return f"https://{host}" if host else ""


def user_url(service: Service, settings: Settings) -> str:
    return public_url(service, settings) if settings.public else private_url(service, settings)
