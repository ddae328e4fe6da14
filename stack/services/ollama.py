"""Ollama: serves the models. No login of its own, so public mode puts it behind Caddy basic auth."""
from __future__ import annotations

from stack.services.base import Probe, Service, Site

SERVICE = Service(
    "ollama", "Ollama API", "ollama", image_key="OLLAMA_IMAGE", port=11434, port_key="OLLAMA_PORT",
    hostname_key="OLLAMA_HOSTNAME", site=Site("ollama", protected=True),
    probe=Probe("/", "Ollama is running"), volumes=("ollama_data",), after_ready="ollama.pull_models",
    on_host_with_profile_none=True)
