"""The record of one service: everything the control plane needs to know about it, in one place.

render (compose merge, Caddy sites, internal URLs), readiness, port checks, backup and doctor read
these records; none of them branches on a service's name. A service is one module in this package
holding its record(s), plus its compose fragment and templates.
"""
from __future__ import annotations

from dataclasses import dataclass

from stack.config.settings import Settings


@dataclass(frozen=True)
class Site:
    """How Caddy routes to the service: http://<name>.localhost in private mode, its own domain in public."""

    private_name: str              # private mode address: http://<private_name>.localhost
    protected: bool = False        # no login of its own: never public without Caddy basic auth
    required: bool = False         # public mode refuses to start without its hostname


@dataclass(frozen=True)
class Probe:
    """HTTP readiness probe, relative to the service's URL on this host."""

    path: str
    expect: str = ""                                   # text the body must contain
    headers: tuple[tuple[str, str], ...] = ()          # (header, setting key whose value it carries)


@dataclass(frozen=True)
class FixedPort:
    """A host port the service publishes whatever the settings say (Caddy's 80/443 in public mode)."""

    port: int
    label: str


@dataclass(frozen=True)
class Service:
    name: str                      # compose service name
    title: str                     # what the user sees in tables
    fragment: str                  # compose/<fragment>.yml.j2
    image_key: str = ""            # setting (and stack/images.py key) with the pinned image
    port: int = 0                  # port inside the container (0 = not an HTTP service)
    port_key: str = ""             # setting with the 127.0.0.1 port in private mode
    hostname_key: str = ""         # setting with the public domain
    site: Site | None = None       # routed by Caddy
    probe: Probe | None = None
    public_ports: tuple[FixedPort, ...] = ()  # published in public mode (the probe uses the first)
    volumes: tuple[str, ...] = ()  # named volumes it owns (the first holds its data)
    database: bool = False         # its data volume is dumped with pg_dumpall, not copied as files
    after_ready: str = ""          # name of the ops step run once it is ready (stack/ops registers it)
    supabase: str = ""             # "" | core | full
    on_host_with_profile_none: bool = False  # profile none: runs on the host, not in the stack
    note: str = ""                 # next step in the ready table; {KEY} is the setting's value
    private_link: str = ""         # private mode: what the ready table links instead ({KEY} as above)

    @property
    def needs_basic_auth(self) -> bool:
        return bool(self.site and self.site.protected)

    @property
    def internal_url(self) -> str:
        """Where the other containers reach it."""
        return f"http://{self.name}:{self.port}" if self.port else ""

    def enabled(self, settings: Settings) -> bool:
        if self.on_host_with_profile_none and settings.profile == "none":
            return False
        return not (self.supabase == "full" and settings["SUPABASE_SERVICES"] != "full")

    def private_url(self, settings: Settings) -> str:
        """Where the user's browser reaches it in private mode."""
        return f"http://127.0.0.1:{settings[self.port_key]}" if self.port_key else ""

    def public_url(self, settings: Settings) -> str:
        host = settings[self.hostname_key] if self.hostname_key else ""
        return f"https://{host}" if host else ""

    def user_url(self, settings: Settings) -> str:
        return self.public_url(settings) if settings.public else self.private_url(settings)

    def link(self, settings: Settings) -> str:
        """The address the ready table shows for it ("" = no row)."""
        if self.private_link and not settings.public:
            return self.private_link.format_map(settings.values)
        return self.user_url(settings)
