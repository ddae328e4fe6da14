"""SearXNG: private web search for Open WebUI and n8n. No login: public only behind basic auth."""
from __future__ import annotations

from stack.services.base import Probe, Service, Site

SERVICE = Service(
    "searxng", "SearXNG (search)", "searxng", image_key="SEARXNG_IMAGE", port=8080, port_key="SEARXNG_PORT",
    hostname_key="SEARXNG_HOSTNAME", site=Site("searxng", protected=True), probe=Probe("/healthz"),
    volumes=("searxng_config", "searxng_cache"))
