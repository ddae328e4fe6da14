"""n8n and its task runners (external mode: Code nodes run in the runners' container)."""
from __future__ import annotations

from stack.services.base import Probe, Service, Site

# /healthz/readiness answers ~4.5 s before the REST API is mounted (n8n abstract-server.js:154 vs 198):
# the editor's own settings call is the probe. Without a login n8n 2.41.3 answers the public settings
# (dist/server.js:402-406 -> services/frontend.service.js:522-525, settingsMode 'public'); versionCli is
# only in the logged-in ones (frontend.service.js:104,133). Both carry settingsMode.
SERVICE = Service(
    "n8n", "n8n (workflows)", "n8n", image_key="N8N_IMAGE", port=5678, port_key="N8N_PORT",
    hostname_key="N8N_HOSTNAME", site=Site("n8n", required=True), probe=Probe("/rest/settings", '"settingsMode"'),
    volumes=("n8n_data",), after_ready="n8n.sync", note="owner login: `python start.py accounts`")

RUNNERS = Service("n8n-runners", "n8n task runners", "n8n-runners", image_key="N8N_RUNNERS_IMAGE")
