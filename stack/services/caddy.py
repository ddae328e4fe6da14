"""Caddy: the front door. Private: 127.0.0.1:CADDY_PORT; public: only 80 and 443 are published."""
from __future__ import annotations

from stack.services.base import FixedPort, Probe, Service

SERVICE = Service(
    "caddy", "Caddy (front door)", "caddy", image_key="CADDY_IMAGE", port=80, port_key="CADDY_PORT",
    probe=Probe("/healthz", "OK"),
    public_ports=(FixedPort(80, "Caddy HTTP (public mode)"), FixedPort(443, "Caddy HTTPS (public mode)")),
    volumes=("caddy_data", "caddy_config"), private_link="http://webui.localhost:{CADDY_PORT}")
