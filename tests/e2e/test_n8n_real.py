"""Issue 10 part 2, n8n: what the real n8n 2.41.3 (tests/images/n8n, from npm) does in our stack.

In order, on the shared private stack (tests/e2e/conftest.py): `up` says ready only when n8n's
editor and REST API answer (the real n8n answers /healthz/readiness before it mounts /rest:
packages/cli/src/abstract-server.ts);
n8n migrated into its own database as its own role; our credentials decrypt with our
N8N_ENCRYPTION_KEY; the starter agent was imported once, is active and answers through the
Ollama double; a second `up` imports nothing; the owner signs in through the real /rest/login."""
from __future__ import annotations

import json

import pytest
import requests

from tests.e2e import n8nlib
from tests.e2e.conftest import AT_READY, UP_TIMEOUT
from tests.e2e.n8nlib import STARTER

pytestmark = pytest.mark.shared_stack  # the shared stacks (conftest.py): run last

BASE = AT_READY["n8n"][0]


@pytest.fixture(scope="module")
def stack(shared_stack):
    return shared_stack


def _login(stack) -> requests.Session:
    """Sign in once per stack: n8n allows 5 sign-ins a minute per email (2.41.3
    dist/controllers/auth.controller.js:190-194), counting the stack's own activation sign-in."""
    if getattr(stack, "n8n_session", None) is not None:
        return stack.n8n_session
    env = n8nlib.env(stack)
    session = requests.Session()
    login = session.post(f"{BASE}/rest/login", timeout=10,
                         json={"emailOrLdapLoginId": env["N8N_OWNER_EMAIL"], "password": env["N8N_OWNER_PASSWORD"]})
    assert login.status_code == 200, login.text
    stack.n8n_session = session
    return session


def test_when_up_says_ready_the_editor_and_rest_api_answer(stack):
    assert "Local AI Stack is ready" in stack.up_output
    settings = stack.at_ready["/rest/settings"]
    assert settings.status_code == 200, settings.text[:300]
    # Without a login n8n answers its public settings (settingsMode "public"); the version is in the
    # logged-in ones (n8n 2.41.3 services/frontend.service.js:104,133,522-525).
    assert settings.json()["data"]["settingsMode"] == "public"
    full = _login(stack).get(f"{BASE}/rest/settings", timeout=10)
    assert full.json()["data"]["versionCli"] == "2.41.3"
    for page in ("/", "/signin"):
        assert stack.at_ready[page].status_code == 200 and "<html" in stack.at_ready[page].text.lower(), page


def test_n8n_migrated_into_its_own_database_as_its_own_role(stack):
    owners = n8nlib.sql(stack, "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")
    assert owners == "n8n"
    migrations = int(n8nlib.sql(stack, "SELECT count(*) FROM migrations"))
    assert migrations > 100, migrations  # n8n's own migrations table, every one applied
    assert n8nlib.sql(stack, "SELECT current_database() || ' ' || current_user") == "n8n n8n"


def test_our_credentials_decrypt_with_our_encryption_key(stack):
    env = n8nlib.env(stack)
    config = json.loads(stack.exec("n8n", "cat", "/home/node/.n8n/config"))
    assert config["encryptionKey"] == env["N8N_ENCRYPTION_KEY"]
    stored = n8nlib.sql(stack, "SELECT data FROM credentials_entity WHERE id = 'localaiPostgres'")
    assert env["N8N_DB_PASSWORD"] not in stored, "saved encrypted, not in clear"
    saved = n8nlib.decrypted_credentials(stack)
    assert sorted(saved) == ["localaiAgentAuth", "localaiOllama", "localaiPostgres", "localaiSearxng",
                             "localaiSupabase"]
    assert saved["localaiPostgres"]["password"] == env["N8N_DB_PASSWORD"]
    assert saved["localaiSupabase"]["serviceRole"] == env["SERVICE_ROLE_KEY"]
    assert saved["localaiAgentAuth"] == {"user": "openwebui", "password": env["N8N_AGENT_PASSWORD"]}


def test_the_starter_agent_was_imported_once_is_active_and_answers(stack):
    assert stack.up_output.count("imported and activated the starter agent workflow") == 1
    assert n8nlib.sql(stack, f"SELECT count(*) FROM workflow_entity WHERE id = '{STARTER}'") == "1"
    workflow = _login(stack).get(f"{BASE}/rest/workflows/{STARTER}", timeout=10).json()["data"]
    assert workflow["active"] is True
    chat = f"{BASE}/webhook/localai-agent/chat"
    auth = ("openwebui", n8nlib.env(stack)["N8N_AGENT_PASSWORD"])
    answer = requests.post(chat, auth=auth, timeout=120,
                           json={"action": "sendMessage", "sessionId": "real-1", "chatInput": "ping"})
    assert answer.status_code == 200, answer.text[:500]
    # the agent called the Ollama double's /api/chat, which streams this reply
    assert answer.json() == {"output": "Hello from the Ollama double (turn 1): ping"}


def test_a_second_up_imports_nothing(stack):
    version, history = n8nlib.starter_version(stack), n8nlib.history_count(stack)
    result = stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "starter agent" not in result.stdout + result.stderr
    assert (n8nlib.starter_version(stack), n8nlib.history_count(stack)) == (version, history)


def test_the_owner_signs_in_through_the_real_login(stack):
    env = n8nlib.env(stack)
    wrong = requests.post(f"{BASE}/rest/login", timeout=10,
                          json={"emailOrLdapLoginId": env["N8N_OWNER_EMAIL"], "password": "Wrong-password-1"})
    assert wrong.status_code == 401
    me = _login(stack).get(f"{BASE}/rest/login", timeout=10)
    assert me.status_code == 200, me.text[:300]
    user = me.json()["data"]
    assert (user["email"], user["role"]) == (env["N8N_OWNER_EMAIL"], "global:owner")
