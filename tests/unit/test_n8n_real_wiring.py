"""What the real n8n 2.41.3 showed in the e2e stack, as rendered: its MCP registry module calls
api.n8n.io at start and every 8 hours (getaddrinfo ENOTFOUND api.n8n.io in a private stack), so it
is disabled. Sources: tests/records/env/n8n.yml (N8N_DISABLED_MODULES)."""
from __future__ import annotations

import pytest
import yaml

from tests.conftest import PUBLIC_ENV, append_env, run_start


@pytest.mark.parametrize("environment", ["private", "public"])
def test_n8n_mcp_registry_module_is_disabled(project, environment):
    if environment == "public":
        append_env(project, PUBLIC_ENV)
    result = run_start(project, "render", "--environment", environment)
    assert result.returncode == 0, result.stderr
    env = yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]["n8n"]["environment"]
    assert "mcp-registry" in env["N8N_DISABLED_MODULES"].split(",")
