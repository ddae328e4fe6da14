"""Open WebUI after `up` (the shared private stack, tests/e2e/conftest.py): the admin from .env,
sign-up closed, the n8n agent pipe installed and switched on through Open WebUI's API with no manual
step; `accounts` shows the login."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import read_env_file
from tests.e2e.conftest import SHARED_PORTS, UP_TIMEOUT

pytestmark = pytest.mark.shared_stack  # the shared stacks (conftest.py): run last

BASE = f"http://127.0.0.1:{SHARED_PORTS['WEBUI_PORT']}"


def _admin(shared_stack) -> dict[str, str]:
    values = read_env_file(shared_stack.root / ".env")
    answer = requests.post(f"{BASE}/api/v1/auths/signin", json={"email": values["WEBUI_ADMIN_EMAIL"],
                                                                 "password": values["WEBUI_ADMIN_PASSWORD"]},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "admin"
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_webui_admin_pipe_and_closed_signup(shared_stack):
    assert "Local AI Stack is ready" in shared_stack.up_output
    headers = _admin(shared_stack)
    assert requests.get(f"{BASE}/api/config", timeout=10).json()["features"]["enable_signup"] is False
    visitor = requests.post(f"{BASE}/api/v1/auths/signup", json={"name": "v", "email": "v@example.com",
                                                                  "password": "Visitor-123"}, timeout=10)
    assert visitor.status_code == 403
    function = requests.get(f"{BASE}/api/v1/functions/id/n8n_agent", headers=headers, timeout=10).json()
    assert function["is_active"] is True and function["type"] == "pipe"
    valves = requests.get(f"{BASE}/api/v1/functions/id/n8n_agent/valves", headers=headers, timeout=10).json()
    assert valves["n8n_url"] == "http://n8n:5678/webhook/localai-agent/chat" and valves["n8n_user"] == "openwebui"
    values = read_env_file(shared_stack.root / ".env")
    assert valves["n8n_password"] == values.get("N8N_AGENT_PASSWORD", "")
    # a second up changes nothing and says nothing about the agent
    again = shared_stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull")
    assert again.returncode == 0 and "n8n agent" not in again.stderr


def test_accounts_prints_the_admin_login(shared_stack):
    result = shared_stack.start("accounts")
    assert result.returncode == 0, result.stderr
    values = read_env_file(shared_stack.root / ".env")
    assert values["WEBUI_ADMIN_EMAIL"] in result.stdout and values["WEBUI_ADMIN_PASSWORD"] in result.stdout
    assert BASE in result.stdout
