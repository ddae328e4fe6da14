"""The registry of services, and what follows from the records alone.

Adding a service: one module here with its record (stack/services/base.py says what a record
holds), listed in SERVICES, plus its compose fragment (compose/<fragment>.yml.j2) and templates.
From the records come: the merged compose file, Caddy's sites, internal URLs, readiness probes,
the published ports and their collision checks, the public hostnames, and the backup's volumes.
Functions read SERVICES when called, so a test can register a service with monkeypatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.config.settings import Settings
from stack.errors import ConfigError
from stack.services import caddy, n8n, ollama, open_webui, searxng, supabase
from stack.services.base import FixedPort, Probe, Service, Site

__all__ = ["FixedPort", "Probe", "PublishedPort", "Service", "Site", "SERVICES", "after_ready_hooks", "by_name",
           "caddy_sites", "check_settings", "database_volume", "enabled_services", "names", "published_ports"]

SERVICES: tuple[Service, ...] = (
    ollama.SERVICE,
    open_webui.SERVICE,
    n8n.SERVICE,
    n8n.RUNNERS,
    searxng.SERVICE,
    *supabase.SERVICES,
    caddy.SERVICE,
)


def by_name(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(name)


def names() -> list[str]:
    return [s.name for s in SERVICES]


def enabled_services(settings: Settings) -> list[Service]:
    return [s for s in SERVICES if s.enabled(settings)]


@dataclass(frozen=True)
class PublishedPort:
    """A host port the stack publishes. `setting` is the .env key that moves it ("" = fixed)."""

    port: int
    source: str
    setting: str = ""


def published_ports(settings: Settings) -> list[PublishedPort]:
    """Every host port the chosen environment publishes, in registry order."""
    if settings.public:
        return [PublishedPort(p.port, p.label) for s in enabled_services(settings) for p in s.public_ports]
    return [PublishedPort(int(settings[s.port_key]), s.port_key, s.port_key)
            for s in enabled_services(settings) if s.port_key]


def check_settings(settings: Settings) -> None:
    """The checks across services: own ports in private mode, own (and required) hostnames in public."""
    values = settings.values
    if settings.public:
        missing = [s.hostname_key for s in SERVICES if s.site and s.site.required and not values[s.hostname_key]]
        if values["CADDY_TLS"] == "acme" and not values["LETSENCRYPT_EMAIL"]:
            missing.append("LETSENCRYPT_EMAIL")
        if missing:
            raise ConfigError(f"public mode needs {', '.join(missing)} in .env (the domains Caddy serves "
                              "with HTTPS, and the email for Let's Encrypt)")
        hosts = [values[s.hostname_key] for s in SERVICES if s.hostname_key and values[s.hostname_key]]
        if len(hosts) != len(set(hosts)):
            raise ConfigError("public mode: each service needs its own hostname (two *_HOSTNAME are equal)")
        for service in SERVICES:
            if service.hostname_key and values[service.hostname_key] and not service.enabled(settings) \
                    and service.on_host_with_profile_none:
                raise ConfigError(f"{service.hostname_key}: with profile none {service.title.split()[0]} runs "
                                  "on the host, outside the stack; Caddy cannot publish it. "
                                  f"Leave {service.hostname_key} blank")
    else:
        ports: dict[str, str] = {}
        for service in SERVICES:  # every port key, enabled or not: switching a profile must not collide
            key = service.port_key
            if key and values[key] in ports:
                raise ConfigError(f"{key}: port {values[key]} is already used by {ports[values[key]]}")
            if key:
                ports[values[key]] = key


def caddy_sites(settings: Settings) -> list[dict[str, Any]]:
    """Caddy's sites: services with their own login first, then those behind basic auth (registry order)."""
    routed = [s for s in enabled_services(settings) if s.site and s.port]
    sites: list[dict[str, Any]] = []
    for service in sorted(routed, key=lambda s: s.needs_basic_auth):
        upstream = f"{service.name}:{service.port}"
        if settings.public:
            host = settings[service.hostname_key]
            if host:
                sites.append({"address": host, "upstream": upstream, "protected": service.needs_basic_auth})
        else:
            sites.append({"address": f"http://{service.site.private_name}.localhost",  # type: ignore[union-attr]
                          "upstream": upstream, "protected": False})
    return sites


def after_ready_hooks(settings: Settings) -> list[str]:
    """Names of the after-ready steps of the enabled services (imports, key checks, model pulls).
    stack/ops maps each name to the function that does it; services never import ops."""
    return [s.after_ready for s in enabled_services(settings) if s.after_ready]


def database_volume() -> str:
    """The volume of the database service (dumped with pg_dumpall, its state recorded by dbstate)."""
    return next(s.volumes[0] for s in SERVICES if s.database)
