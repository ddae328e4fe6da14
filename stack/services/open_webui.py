"""Open WebUI: the chat page. Its after-ready step installs the pipe function to n8n's agent."""
from __future__ import annotations

from stack.services.base import Probe, Service, Site

SERVICE = Service(
    "open-webui", "Open WebUI (chat)", "open-webui", image_key="OPEN_WEBUI_IMAGE", port=8080,
    port_key="WEBUI_PORT", hostname_key="WEBUI_HOSTNAME", site=Site("webui", required=True),
    probe=Probe("/health"), volumes=("open_webui_data",), after_ready="open_webui.ensure_pipe",
    note="admin login: `python start.py accounts`")
