"""n8n in the shared private stack (tests/e2e/conftest.py) on the real engine (tests run in order):
owner from .env, runners isolated, starter agent imported once from what the database holds, active, reachable by the
Open WebUI pipe's URL with basic auth, and our credentials following `secrets rotate`."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import read_env_file
from tests.e2e.conftest import SHARED_PORTS, UP_TIMEOUT
from tests.e2e.n8nlib import credentials_updated, decrypted_credentials, sql, starter_version

pytestmark = pytest.mark.shared_stack  # the shared stacks (conftest.py): run last

PORT = SHARED_PORTS["N8N_PORT"]
CHAT = f"http://127.0.0.1:{PORT}/webhook/localai-agent/chat"


@pytest.fixture(scope="module")
def stack(shared_stack):
    return shared_stack


def _env(stack) -> dict[str, str]:
    return read_env_file(stack.root / ".env")


def _session(stack) -> requests.Session:
    """One signed-in session per stack: the real n8n allows 5 sign-ins a minute per email and answers
    429 "Too many requests" beyond (n8n 2.41.3 dist/controllers/auth.controller.js:190-194,
    keyedRateLimit on emailOrLdapLoginId), so the tests sign in once, as a user's browser does."""
    if getattr(stack, "n8n_session", None) is not None:
        return stack.n8n_session
    env = _env(stack)
    session = requests.Session()
    login = session.post(f"http://127.0.0.1:{PORT}/rest/login", timeout=10,
                         json={"emailOrLdapLoginId": env["N8N_OWNER_EMAIL"], "password": env["N8N_OWNER_PASSWORD"]})
    assert login.status_code == 200, login.text
    stack.n8n_session = session
    return session


def _starter(stack) -> dict:
    return _session(stack).get(f"http://127.0.0.1:{PORT}/rest/workflows/localaiStarterAgent", timeout=10).json()["data"]


def _up(stack) -> str:
    result = stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_up_imports_and_activates_the_starter_agent(stack):
    assert "n8n: imported and activated the starter agent workflow" in stack.up_output
    states = stack.containers()
    for service in ("n8n", "n8n-runners"):
        assert states[service]["State"]["Health"]["Status"] == "healthy", service
    assert _starter(stack)["active"] is True
    assert sql(stack, "SELECT count(*) FROM workflow_entity") == "1"
    assert sql(stack, "SELECT string_agg(id, ',' ORDER BY id) FROM credentials_entity") == (
        "localaiAgentAuth,localaiOllama,localaiPostgres,localaiSearxng,localaiSupabase")


def test_nobody_can_claim_the_owner_and_the_owner_can_log_in(stack):
    claim = requests.post(f"http://127.0.0.1:{PORT}/rest/owner/setup", timeout=10,
                          json={"email": "stranger@example.com", "password": "Stranger123", "firstName": "a",
                                "lastName": "b"})
    assert claim.status_code == 400 and claim.json()["message"] == "Instance owner already setup"
    _session(stack)


def test_the_pipe_contract_url_and_basic_auth(stack):
    message = {"action": "sendMessage", "sessionId": "e2e-chat", "chatInput": "hello"}
    assert requests.post(CHAT, json=message, timeout=30).status_code == 401
    assert requests.post(CHAT, json=message, auth=("openwebui", "wrong"), timeout=30).status_code == 403
    auth = ("openwebui", _env(stack)["N8N_AGENT_PASSWORD"])
    answer = requests.post(CHAT, json=message, auth=auth, timeout=120)
    # the Ollama double streams a fixed reply that names the turn it saw
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"output": "Hello from the Ollama double (turn 1): hello"}
    again = requests.post(CHAT, json={**message, "chatInput": "and again"}, auth=auth, timeout=120)
    assert again.json() == {"output": "Hello from the Ollama double (turn 2): and again"}, again.text
    other = requests.post(CHAT, json={**message, "sessionId": "another-chat"}, auth=auth, timeout=120)
    assert other.json() == {"output": "Hello from the Ollama double (turn 1): hello"}, other.text


def test_code_nodes_cannot_reach_secrets_or_the_network(stack):
    runners_env = stack.exec("n8n-runners", "env")
    for key in ("N8N_ENCRYPTION_KEY", "DB_POSTGRESDB_PASSWORD", "N8N_USER_MANAGEMENT_JWT_SECRET"):
        assert key not in runners_env
    probe = ("import socket\ntry:\n socket.create_connection(('db', 5432), 3)\n print('reached')\n"
             "except OSError:\n print('no')")
    assert stack.exec("n8n-runners", "python3", "-c", probe).strip() == "no"
    n8n_env = dict(e.split("=", 1) for e in stack.containers()["n8n"]["Config"]["Env"])
    assert n8n_env["N8N_BLOCK_ENV_ACCESS_IN_NODE"] == "true" and "OLLAMA_BASE_URL" not in n8n_env
    assert stack.exec("n8n", "stat", "-c", "%a", "/home/node/.n8n/config").strip() == "600"


def test_a_second_up_keeps_the_users_workflow_and_writes_no_unchanged_credential(stack):
    session = _session(stack)
    off = session.post(f"http://127.0.0.1:{PORT}/rest/workflows/localaiStarterAgent/deactivate", json={}, timeout=10)
    assert off.status_code == 200  # the user switched it off: that is their choice
    stack.exec("n8n", "rm", "-f", "/home/node/.n8n/.localai-imported")
    version, written = starter_version(stack), credentials_updated(stack)
    assert "starter agent" not in _up(stack)
    assert starter_version(stack) == version, "a workflow the user has is never imported over"
    # .env holds what they hold: no n8n CLI run (each boots all of n8n) rewrites them
    assert credentials_updated(stack) == written, "our unchanged credentials were written again"
    assert _starter(stack)["active"] is False


def test_a_reset_database_gets_the_starter_agent_and_a_deleted_credential_again(stack):
    sql(stack, "DELETE FROM workflow_entity WHERE id = 'localaiStarterAgent'")
    sql(stack, "DELETE FROM credentials_entity WHERE id = 'localaiSearxng'")
    assert "n8n: imported and activated the starter agent workflow" in _up(stack)
    assert _starter(stack)["active"] is True
    assert decrypted_credentials(stack)["localaiSearxng"]["apiUrl"].startswith("http://searxng:")


@pytest.mark.parametrize(("key", "credential", "field", "value_key"), [
    ("N8N_DB_PASSWORD", "localaiPostgres", "password", "N8N_DB_PASSWORD"),
    ("JWT_SECRET", "localaiSupabase", "serviceRole", "SERVICE_ROLE_KEY"),
])
def test_rotation_updates_our_saved_credentials(stack, key, credential, field, value_key):
    before = _env(stack)[value_key]
    result = stack.start("secrets", "rotate", key, "--yes")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    after = _env(stack)[value_key]
    assert after != before
    saved = decrypted_credentials(stack)[credential][field]
    assert saved == after, f"{credential} still holds the old {value_key}"


def test_the_rendered_pipe_chats_with_the_starter_agent_keeping_memory_per_chat(stack):
    """The pipe start.py installs in Open WebUI, run as Open WebUI runs it, against this n8n."""
    import asyncio
    import importlib.util

    spec = importlib.util.spec_from_file_location("n8n_pipe", stack.root / "build/open-webui/n8n_pipe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pipe = module.Pipe()
    assert pipe.valves.n8n_url == "http://n8n:5678/webhook/localai-agent/chat"
    # from the host, the same webhook is at the published port; the password is what start.py sets
    pipe.valves.n8n_url, pipe.valves.n8n_password = CHAT, _env(stack)["N8N_AGENT_PASSWORD"]

    def ask(text: str, chat: str, history: list[dict]) -> str:
        history.append({"role": "user", "content": text})
        answer = asyncio.run(pipe.pipe({"messages": list(history)}, __chat_id__=chat))
        history.append({"role": "assistant", "content": answer})
        return answer

    first: list[dict] = []
    assert ask("hi", "chat-a", first) == "Hello from the Ollama double (turn 1): hi"
    assert ask("more", "chat-a", first) == "Hello from the Ollama double (turn 2): more"
    assert ask("hi", "chat-b", []) == "Hello from the Ollama double (turn 1): hi"
    assert asyncio.run(pipe.pipe({"messages": first}, __chat_id__="chat-a", __task__="title_generation")) == ""
