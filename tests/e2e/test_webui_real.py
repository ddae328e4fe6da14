"""The real Open WebUI (PyPI open-webui==0.12.4, tests/images/open-webui/) in the shared private stack
(tests/e2e/conftest.py), as a user meets it (issue 10 part 2; tests run in order):
- the admin start.py generated signs in through the real /api/v1/auths/signin;
- its model list is the Ollama double's models (and our n8n agent pipe);
- its web search asks the SearXNG double (the double's deterministic results come back);
- our n8n pipe is installed and active, a chat through it reaches n8n and comes back, and the
  second message of the same chat carries the same session (the agent's memory);
- an admin's save in the UI does not pin the Ollama URL: a later profile switch still takes effect
  (then the stack goes back to profile cpu for the modules after this one).
The n8n image is whatever localai-test/n8n:dev is (the double or the real n8n): the assertions hold
for both, since the answers come from the Ollama double behind n8n's agent.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from stack.ops.webui_setup import REMOTE_SCRIPT
from tests.conftest import append_env, read_env_file
from tests.e2e.conftest import SHARED_PORTS, UP_TIMEOUT, assert_ok, docker, image, port
from tests.e2e.n8nlib import decrypted_credentials

pytestmark = pytest.mark.shared_stack  # the shared stacks (conftest.py): run last

BASE = f"http://127.0.0.1:{SHARED_PORTS['WEBUI_PORT']}"
HOST_OLLAMA_PORT = port(21449)


@pytest.fixture(scope="module")
def stack(shared_stack):
    return shared_stack


def _env(stack) -> dict[str, str]:
    return read_env_file(stack.root / ".env")


def _signin(email: str, password: str) -> requests.Response:
    return requests.post(f"{BASE}/api/v1/auths/signin", json={"email": email, "password": password}, timeout=30)


@pytest.fixture(scope="module")
def admin(stack) -> dict[str, str]:
    values = _env(stack)
    answer = _signin(values["WEBUI_ADMIN_EMAIL"], values["WEBUI_ADMIN_PASSWORD"])
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_generated_admin_signs_in(stack):
    values = _env(stack)
    answer = _signin(values["WEBUI_ADMIN_EMAIL"], values["WEBUI_ADMIN_PASSWORD"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "admin" and answer.json()["email"] == values["WEBUI_ADMIN_EMAIL"].lower()
    assert _signin(values["WEBUI_ADMIN_EMAIL"], values["WEBUI_ADMIN_PASSWORD"] + "x").status_code == 400
    me = requests.get(f"{BASE}/api/v1/auths/", headers={"Authorization": f"Bearer {answer.json()['token']}"},
                      timeout=10)
    assert me.status_code == 200 and me.json()["role"] == "admin", me.text


def test_the_model_list_is_the_ollama_doubles(stack, admin):
    tags = requests.get(f"http://127.0.0.1:{SHARED_PORTS['OLLAMA_PORT']}/api/tags", timeout=10).json()["models"]
    pulled = {model["name"] for model in tags}
    assert {"tinyllama:latest"} <= pulled, pulled
    answer = requests.get(f"{BASE}/api/models", headers=admin, timeout=60)
    assert answer.status_code == 200, answer.text
    models = {model["id"]: model for model in answer.json()["data"]}
    assert pulled <= set(models), (pulled, sorted(models))
    assert all(models[name].get("owned_by") == "ollama" for name in pulled)
    assert models["n8n_agent"]["name"] == "n8n agent", sorted(models)


def _search_requests(stack) -> int:
    """How many json searches the SearXNG double has answered (its log line per search)."""
    logs = docker("logs", stack.containers()["searxng"]["Id"])
    return sum("search format=json" in line for line in (logs.stdout + logs.stderr).splitlines())


def test_web_search_asks_the_searxng_double(stack, admin):
    query = f"local ai stack {uuid.uuid4().hex[:8]}"
    before = _search_requests(stack)
    answer = requests.post(f"{BASE}/api/v1/retrieval/process/web/search", headers=admin, timeout=180,
                           json={"queries": [query]})
    assert _search_requests(stack) == before + 1, answer.text
    # The double's results are a function of the query (tests/images/searxng/double.py results_for):
    # what Open WebUI got back names pages only that query produces. Loading those made-up pages
    # fails here (no such site), which Open WebUI reports after the search itself succeeded.
    seed = hashlib.sha256(query.encode()).hexdigest()
    if answer.status_code == 200:
        assert all(seed[:8] in item["link"] for item in answer.json()["items"]), answer.text
    else:
        assert answer.status_code in (400, 404), answer.text
        assert "No results found" not in answer.text and "permission" not in answer.text, answer.text


def _new_chat(admin: dict[str, str]) -> str:
    answer = requests.post(f"{BASE}/api/v1/chats/new", headers=admin, timeout=30,
                           json={"chat": {"title": "e2e", "models": ["n8n_agent"], "messages": []}})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def _ask(admin: dict[str, str], chat: str, history: list[dict[str, str]], text: str) -> str:
    # A turn in a saved chat names its user message and the reply's id, as the web UI sends them; Open
    # WebUI 0.12.4 answers 409 without them (main.py:1265-1277 -> models/chats.py:1266-1268).
    parent = history[-1].get("id") if history else None
    user_message = {"id": str(uuid.uuid4()), "role": "user", "content": text, "parentId": parent}
    history.append({"role": "user", "content": text})
    answer = requests.post(f"{BASE}/api/chat/completions", headers=admin, timeout=300,
                           json={"model": "n8n_agent", "chat_id": chat, "stream": False, "messages":
                                 [{"role": m["role"], "content": m["content"]} for m in history],
                                 "id": str(uuid.uuid4()), "user_message": user_message})
    assert answer.status_code == 200, answer.text
    content = answer.json()["choices"][0]["message"]["content"]
    history.append({"role": "assistant", "content": content})
    return content


def test_a_chat_through_the_n8n_pipe_keeps_its_session(stack, admin):
    function = requests.get(f"{BASE}/api/v1/functions/id/n8n_agent", headers=admin, timeout=10).json()
    assert function["type"] == "pipe" and function["is_active"] is True, function
    chat, other = _new_chat(admin), _new_chat(admin)
    history: list[dict[str, str]] = []
    # the agent's model is the Ollama double, which numbers the user turns of the conversation it is given
    assert _ask(admin, chat, history, "hi") == "Hello from the Ollama double (turn 1): hi"
    assert _ask(admin, chat, history, "more") == "Hello from the Ollama double (turn 2): more"
    # another chat is another session: n8n's memory starts again
    assert _ask(admin, other, [], "hi") == "Hello from the Ollama double (turn 1): hi"


def test_the_setup_script_says_why_a_wrong_admin_login_fails(stack):
    """stack/webui_remote.py in the real container: exit 3 with Open WebUI's reason, no traceback."""
    values = _env(stack)
    job = {"base": "http://127.0.0.1:8080", "email": values["WEBUI_ADMIN_EMAIL"], "password": "not-the-password",
           "function": {"id": "n8n_agent", "name": "n8n agent", "content": "", "meta": {}}, "valves": {}}
    cid = stack.containers()["open-webui"]["Id"]
    result = subprocess.run(["docker", "exec", "-i", cid, "python3", "-c", REMOTE_SCRIPT.read_text()],
                            input=json.dumps(job), capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip() == ("Open WebUI refused the admin login from .env (HTTP 400: The email or password "
                                     "provided is incorrect. Please check for typos and try logging in again.)")


@pytest.fixture
def host_ollama():
    """The Ollama double on the host network, standing for a user's own Ollama (profile none)."""
    name = f"lase2e-owui-host-ollama-{os.getpid()}"
    docker("run", "-d", "--rm", "--name", name, "--network", "host", "-e",
           f"OLLAMA_HOST=0.0.0.0:{HOST_OLLAMA_PORT}", image("ollama"))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{HOST_OLLAMA_PORT}/", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        yield f"http://host.docker.internal:{HOST_OLLAMA_PORT}"
    finally:
        docker("rm", "-f", name, check=False)


def _ollama_urls(admin: dict[str, str]) -> list[str]:
    answer = requests.get(f"{BASE}/ollama/config", headers=admin, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["OLLAMA_BASE_URLS"]


def test_a_profile_switch_after_an_admin_save_takes_effect(stack, admin, host_ollama):
    saved = requests.post(f"{BASE}/ollama/config/update", headers=admin, timeout=30,
                          json={"ENABLE_OLLAMA_API": True, "OLLAMA_BASE_URLS": ["http://ollama:11434/admin-saved"],
                                "OLLAMA_API_CONFIGS": {}})
    assert saved.status_code == 200, saved.text
    assert _ollama_urls(admin) == ["http://ollama:11434/admin-saved"]
    append_env(stack.root, {"OLLAMA_HOST_URL": host_ollama})
    try:
        assert_ok(stack.start("up", "--profile", "none", "--timeout", UP_TIMEOUT))
        values = _env(stack)
        headers = {"Authorization": "Bearer " + _signin(values["WEBUI_ADMIN_EMAIL"],
                                                         values["WEBUI_ADMIN_PASSWORD"]).json()["token"]}
        assert _ollama_urls(headers) == [host_ollama]
        models = requests.get(f"{BASE}/api/models", headers=headers, timeout=60).json()["data"]
        assert "tinyllama:latest" in {model["id"] for model in models}
        # and n8n's agent follows: its saved Ollama credential holds the new URL
        assert decrypted_credentials(stack)["localaiOllama"]["baseUrl"] == host_ollama
    finally:  # the shared stack goes back to its own Ollama for the modules after this one
        assert_ok(stack.start("up", "--profile", "cpu", "--timeout", UP_TIMEOUT))
    assert _ollama_urls(headers) == ["http://ollama:11434"]
    assert decrypted_credentials(stack)["localaiOllama"]["baseUrl"] == "http://ollama:11434"
