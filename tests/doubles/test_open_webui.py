"""The Open WebUI double against what Open WebUI v0.12.4 does (file:line of the PyPI wheel in the
double's docstring), and our after-ready setup (stack/ops/webui_remote.py) against the double."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import yaml

from stack.ops.webui_setup import BAD_LOGIN, REMOTE_SCRIPT
from tests.conftest import append_env, read_env_file, run_start
from tests.doubles.harness import free_port

ADMIN = {"WEBUI_ADMIN_EMAIL": "admin@localai.local", "WEBUI_ADMIN_PASSWORD": "Admin-Password-123"}
GOOD = {"OLLAMA_BASE_URL": "http://ollama:11434", "ENABLE_WEB_SEARCH": "true", "WEB_SEARCH_ENGINE": "searxng",
        "SEARXNG_QUERY_URL": "http://searxng:8080/search", "WEBUI_NAME": "Local AI",
        "WEBUI_SECRET_KEY": "a-secret-from-env-123"}
PIPE = '''"""
title: test pipe
"""
from pydantic import BaseModel


class Pipe:
    class Valves(BaseModel):
        n8n_url: str = ""
        n8n_password: str = ""
        timeout_seconds: int = 300

    async def pipe(self, body: dict) -> str:
        return "hi"
'''


def _env(tmp_path, port: int, **extra: str) -> dict[str, str]:
    return {**GOOD, "DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "HOST": "127.0.0.1", **extra}


def _signin(webui, email: str = ADMIN["WEBUI_ADMIN_EMAIL"], password: str = ADMIN["WEBUI_ADMIN_PASSWORD"]):
    answer = webui.request("POST", "/api/v1/auths/signin", {"email": email, "password": password})
    assert answer.status == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_health_config_and_generated_secret_persist(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, WEBUI_SECRET_KEY=""), port=port)
    assert webui.get("/health").json() == {"status": True}
    config = webui.get("/api/config").json()
    assert config["name"] == "Local AI (Open WebUI)" and config["onboarding"] is True
    assert "<html" in webui.get("/").text
    key_file = tmp_path / "data/.webui_secret_key"
    key = key_file.read_text()
    assert key and oct(key_file.stat().st_mode & 0o777) == "0o600"
    webui.stop()
    spawn("open-webui", env=_env(tmp_path, port, WEBUI_SECRET_KEY=""), port=port)
    assert key_file.read_text() == key, "the generated key is kept, not regenerated"


def test_given_secret_is_used_and_not_logged(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN), port=port)
    assert webui.get("/health").status == 200
    assert not (tmp_path / "data/.webui_secret_key").exists()
    assert "a-secret-from-env-123" not in webui.output() and ADMIN["WEBUI_ADMIN_PASSWORD"] not in webui.output()


def test_urls_are_not_checked_at_start(spawn, tmp_path):
    """config.py:247 and :1224 only read them; searxng.py:51-56 accepts both URL forms."""
    for extra in ({"SEARXNG_QUERY_URL": "http://searxng:8080/search"},
                  {"SEARXNG_QUERY_URL": "http://searxng:8080/search?q=<query>"},
                  {"OLLAMA_BASE_URL": "ollama:11434"}):
        port = free_port()
        webui = spawn("open-webui", env=_env(tmp_path / str(port), port, **extra), port=port)
        assert webui.get("/health").status == 200, extra
        webui.stop()


def test_web_search_flag_needs_a_login_and_the_old_names_are_dead(spawn, tmp_path):
    port = free_port()
    dropped = ("ENABLE_WEB_SEARCH", "WEB_SEARCH_ENGINE")
    env = {k: v for k, v in _env(tmp_path, port, **ADMIN).items() if k not in dropped}
    webui = spawn("open-webui", env={**env, "ENABLE_RAG_WEB_SEARCH": "true", "RAG_WEB_SEARCH_ENGINE": "searxng"},
                  port=port)
    anonymous = webui.get("/api/config").json()
    assert "enable_web_search" not in anonymous["features"] and "onboarding" not in anonymous  # main.py:2322, :2392
    assert webui.get("/api/config", headers=_signin(webui)).json()["features"]["enable_web_search"] is False
    assert webui.get("/api/config", headers={"Authorization": "Bearer not-a-token"}).status == 401
    webui.stop()
    webui = spawn("open-webui", env=_env(tmp_path / "b", port, **ADMIN), port=port)
    assert webui.get("/api/config", headers=_signin(webui)).json()["features"]["enable_web_search"] is True


def test_admin_from_env_and_nobody_signs_up_afterwards(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN, ENABLE_SIGNUP="true"), port=port)
    assert webui.get("/api/config").json()["features"]["enable_signup"] is False  # main.py:404
    visitor = webui.request("POST", "/api/v1/auths/signup", {"name": "x", "email": "x@y.zz", "password": "Pw-12345"})
    assert visitor.status == 403
    assert webui.get("/api/v1/auths/", headers=_signin(webui)).json()["role"] == "admin"
    assert webui.request("POST", "/api/v1/auths/signin", {"email": ADMIN["WEBUI_ADMIN_EMAIL"],
                                                          "password": "wrong"}).status == 400


def test_without_an_admin_the_first_visitor_is_admin_then_signup_closes(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port), port=port)
    first = webui.request("POST", "/api/v1/auths/signup", {"name": "a", "email": "a@b.cc", "password": "Pw-12345"})
    assert first.status == 200 and first.json()["role"] == "admin"  # routers/auths.py:829-834
    second = webui.request("POST", "/api/v1/auths/signup", {"name": "b", "email": "b@b.cc", "password": "Pw-12345"})
    assert second.status == 403


def _ollama_urls(webui, headers) -> list[str]:
    answer = webui.get("/ollama/config", headers=headers)
    assert answer.status == 200, answer.text
    return answer.json()["OLLAMA_BASE_URLS"]


def test_persistent_config_seeds_at_first_start_and_then_wins(spawn, tmp_path):
    """The default (ENABLE_PERSISTENT_CONFIG true): every key is seeded into `config` at start and
    a changed environment is ignored from then on (models/config.py:143-149, :248-273)."""
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN), port=port)
    webui.stop()
    with sqlite3.connect(tmp_path / "data/webui.db") as db:
        keys = {row[0] for row in db.execute("SELECT key FROM config")}
    assert {"ollama.base_urls", "webui.url", "web.search.engine"} <= keys
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN, OLLAMA_BASE_URL="http://elsewhere:11434"),
                  port=port)
    assert _ollama_urls(webui, _signin(webui)) == ["http://ollama:11434"]


def test_without_persistence_env_wins_after_an_admin_save(spawn, tmp_path):
    port = free_port()
    env = _env(tmp_path, port, **ADMIN, ENABLE_PERSISTENT_CONFIG="false")
    webui = spawn("open-webui", env=env, port=port)
    headers = _signin(webui)
    saved = webui.request("POST", "/ollama/config/update", {"ENABLE_OLLAMA_API": True,
                                                            "OLLAMA_BASE_URLS": ["http://saved:11434"],
                                                            "OLLAMA_API_CONFIGS": {}}, headers)
    assert saved.status == 200 and _ollama_urls(webui, headers) == ["http://saved:11434"]
    webui.stop()
    webui = spawn("open-webui", env={**env, "OLLAMA_BASE_URL": "http://host.docker.internal:11434"}, port=port)
    assert _ollama_urls(webui, _signin(webui)) == ["http://host.docker.internal:11434"]


def _rendered_env(project, port: int, data) -> dict[str, str]:
    """The open-webui environment our compose file gives the container, ${VAR}s filled from .env."""
    service = yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]["open-webui"]
    values = read_env_file(project / ".env")
    env = {k: re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], str(v)) for k, v in service["environment"].items()}
    return {**env, "DATA_DIR": str(data), "PORT": str(port), "HOST": "127.0.0.1"}


def test_profile_switch_after_an_admin_save_reaches_open_webui(spawn, project, tmp_path):
    """The reported bug: after an admin save, --profile none left Open WebUI on http://ollama:11434."""
    port, data = free_port(), tmp_path / "volume"
    assert run_start(project, "render", "--profile", "cpu").returncode == 0
    webui = spawn("open-webui", env=_rendered_env(project, port, data), port=port)
    values = read_env_file(project / ".env")
    headers = _signin(webui, values["WEBUI_ADMIN_EMAIL"], values["WEBUI_ADMIN_PASSWORD"])
    assert webui.request("POST", "/ollama/config/update", {"ENABLE_OLLAMA_API": True,
                                                           "OLLAMA_BASE_URLS": _ollama_urls(webui, headers),
                                                           "OLLAMA_API_CONFIGS": {"0": {"enable": True}}},
                         headers).status == 200
    webui.stop()
    assert run_start(project, "render", "--profile", "none").returncode == 0
    webui = spawn("open-webui", env=_rendered_env(project, port, data), port=port)
    headers = _signin(webui, values["WEBUI_ADMIN_EMAIL"], values["WEBUI_ADMIN_PASSWORD"])
    assert _ollama_urls(webui, headers) == ["http://host.docker.internal:11434"]


def test_functions_api_checks_input_like_the_real_one(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN), port=port)
    headers = _signin(webui)
    form = {"id": "n8n_agent", "name": "n8n agent", "content": PIPE, "meta": {"description": "d"}}
    assert webui.request("POST", "/api/v1/functions/create", form).status == 401  # admin only
    assert webui.request("POST", "/api/v1/functions/create", {**form, "id": "n8n-agent"}, headers).status == 400
    assert webui.request("POST", "/api/v1/functions/create", {**form, "content": "x = 1\n"}, headers).status == 400
    created = webui.request("POST", "/api/v1/functions/create", form, headers)
    assert created.status == 200 and created.json()["type"] == "pipe" and created.json()["is_active"] is False
    assert webui.request("POST", "/api/v1/functions/create", form, headers).status == 400  # ID_TAKEN
    assert webui.get("/api/v1/functions/id/nope", headers=headers).status == 401  # routers/functions.py:285-290
    assert webui.request("POST", "/api/v1/functions/id/n8n_agent/toggle", None, headers).json()["is_active"] is True
    valves = webui.request("POST", "/api/v1/functions/id/n8n_agent/valves/update",
                           {"n8n_url": "http://n8n:5678/x", "unknown": 1, "timeout_seconds": None}, headers)
    assert valves.status == 200 and valves.json() == {"n8n_url": "http://n8n:5678/x"}
    bad = webui.request("POST", "/api/v1/functions/id/n8n_agent/valves/update", {"timeout_seconds": "soon"}, headers)
    assert bad.status == 400


def _setup(webui, password: str = ADMIN["WEBUI_ADMIN_PASSWORD"], content: str = PIPE):
    job = {"base": f"http://127.0.0.1:{webui.port}", "email": ADMIN["WEBUI_ADMIN_EMAIL"], "password": password,
           "function": {"id": "n8n_agent", "name": "n8n agent", "content": content, "meta": {"description": "d"}},
           "valves": {"n8n_url": "http://n8n:5678/webhook/localai-agent/chat", "n8n_password": "Agent-Pw-1"}}
    return subprocess.run([sys.executable, "-c", REMOTE_SCRIPT.read_text()], input=json.dumps(job), text=True,
                          capture_output=True, timeout=60)


def test_setup_installs_switches_on_and_is_idempotent(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN), port=port)
    first = _setup(webui)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"created": True, "updated": False, "activated": True}
    again = _setup(webui)
    assert json.loads(again.stdout) == {"created": False, "updated": False, "activated": False}
    headers = _signin(webui)
    webui.request("POST", "/api/v1/functions/id/n8n_agent/toggle", None, headers)  # a user switched it off
    changed = _setup(webui, content=PIPE.replace("hi", "hello"))
    assert json.loads(changed.stdout) == {"created": False, "updated": True, "activated": True}
    function = webui.get("/api/v1/functions/id/n8n_agent", headers=headers).json()
    assert function["is_active"] and "hello" in function["content"]
    assert webui.get("/api/v1/functions/id/n8n_agent/valves", headers=headers).json()["n8n_password"] == "Agent-Pw-1"


def test_setup_says_why_when_the_admin_cannot_sign_in(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, **ADMIN), port=port)
    result = _setup(webui, password="not-it")
    assert result.returncode == BAD_LOGIN and "refused the admin login" in result.stderr
    assert "not-it" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_old_stack_env_is_read_like_the_real_one(spawn, tmp_path, project):
    """A .env from before the admin settings existed gets them generated on the next render."""
    append_env(project, {"WEBUI_ADMIN_PASSWORD": ""})
    assert run_start(project, "render").returncode == 0
    assert re.fullmatch(r"[A-Za-z0-9]{24}", read_env_file(project / ".env")["WEBUI_ADMIN_PASSWORD"])
