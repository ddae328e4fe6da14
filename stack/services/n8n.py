"""n8n and its task runners (external mode: Code nodes run in the runners' container)."""
from __future__ import annotations

from stack.services.base import Probe, Service, Site

# /healthz/readiness answers ~4.5 s before the REST API is mounted (n8n abstract-server.js:154 vs 198):
# the editor's own settings call is the probe.
SERVICE = Service(
    "n8n", "n8n (workflows)", "n8n", image_key="N8N_IMAGE", port=5678, port_key="N8N_PORT",
    hostname_key="N8N_HOSTNAME", site=Site("n8n", required=True), probe=Probe("/rest/settings", "versionCli"),
    volumes=("n8n_data",), after_ready="n8n.sync", note="owner login: `python start.py accounts`")

RUNNERS = Service("n8n-runners", "n8n task runners", "n8n-runners", image_key="N8N_RUNNERS_IMAGE")
