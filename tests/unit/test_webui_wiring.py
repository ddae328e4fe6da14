"""Open WebUI's rendered service: only variables v0.12.4 (or a library in its image) reads, set so
a private stack calls nobody, .env wins over the database, and no visitor can become admin.
Citations are file:line of the PyPI open-webui==0.12.4 wheel (tests/records/env/open-webui.yml)."""
from __future__ import annotations

import re

import yaml

from stack.config.images import DEFAULT_IMAGES
from stack.config.schema import BY_KEY, SECRET_KEYS
from tests.conftest import PUBLIC_ENV, REPO, append_env, read_env_file, run_start


def _webui(project) -> dict:
    return yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]["open-webui"]


def test_pin_is_0_12_4_with_its_source():
    assert DEFAULT_IMAGES["OPEN_WEBUI_IMAGE"] == "ghcr.io/open-webui/open-webui:v0.12.4"
    pins = (REPO / "stack" / "config" / "images.py").read_text().splitlines()
    line = next(x for x in pins if '"OPEN_WEBUI_IMAGE"' in x)
    assert "open-webui 0.12.4" in line and "checked 2026-12-01" in line


def test_no_dead_or_unread_variables(project):
    assert run_start(project, "render").returncode == 0
    env = _webui(project)["environment"]
    # gone since the web.search.* rename (config.py:43, :1168-1177 read only the new names)
    assert "ENABLE_RAG_WEB_SEARCH" not in env and "RAG_WEB_SEARCH_ENGINE" not in env
    # Open WebUI passes anonymized_telemetry=False to chromadb itself (retrieval/vector/dbs/chroma.py:40)
    assert "ANONYMIZED_TELEMETRY" not in env
    assert env["ENABLE_WEB_SEARCH"] == "true" and env["WEB_SEARCH_ENGINE"] == "searxng"


def test_private_stack_makes_no_outbound_call(project):
    assert run_start(project, "render").returncode == 0
    env = _webui(project)["environment"]
    assert env["ENABLE_OPENAI_API"] == "false"     # config.py:325, default True -> api.openai.com
    assert env["OFFLINE_MODE"] == "true"           # env.py:1225-1229: no update check, HF offline
    assert env["RAG_EMBEDDING_ENGINE"] == "ollama"  # no sentence-transformers download (main.py:717)
    assert "CORS_ALLOW_ORIGIN" not in env          # private: any local origin (config.py:2192)


def test_public_cors_is_the_real_origin(project):
    append_env(project, PUBLIC_ENV)
    assert run_start(project, "render", "--environment", "public").returncode == 0
    env = _webui(project)["environment"]
    assert env["CORS_ALLOW_ORIGIN"] == "https://chat.example.com"  # config.py:2192-2205
    assert env["WEBUI_URL"] == "https://chat.example.com"


def test_env_wins_over_the_database(project):
    assert run_start(project, "render").returncode == 0
    assert _webui(project)["environment"]["ENABLE_PERSISTENT_CONFIG"] == "false"  # config.py:3352


def test_admin_is_created_from_generated_secrets_and_signup_is_off(project):
    assert run_start(project, "render").returncode == 0
    env = _webui(project)["environment"]
    assert env["WEBUI_ADMIN_EMAIL"] == "${WEBUI_ADMIN_EMAIL}"       # env.py:806, main.py:401
    assert env["WEBUI_ADMIN_PASSWORD"] == "${WEBUI_ADMIN_PASSWORD}"
    assert env["ENABLE_SIGNUP"] == "false"                          # config.py:1692
    assert "WEBUI_ADMIN_PASSWORD" in SECRET_KEYS and BY_KEY["WEBUI_ADMIN_EMAIL"].kind == "email"
    values = read_env_file(project / ".env")
    assert re.fullmatch(r"[A-Za-z0-9]{24}", values["WEBUI_ADMIN_PASSWORD"])
    for path in (project / "build").rglob("*"):
        if path.is_file():
            assert values["WEBUI_ADMIN_PASSWORD"].encode() not in path.read_bytes(), path


def test_healthcheck_probes_ipv4(project):
    assert run_start(project, "render").returncode == 0
    test = _webui(project)["healthcheck"]["test"]
    assert test == ["CMD", "curl", "-fsS", "http://127.0.0.1:8080/health"]


def test_accounts_shows_the_logins(project):
    assert run_start(project, "render").returncode == 0
    result = run_start(project, "accounts")
    assert result.returncode == 0, result.stderr
    values = read_env_file(project / ".env")
    assert "admin@localai.local" in result.stdout and values["WEBUI_ADMIN_PASSWORD"] in result.stdout
    assert "http://127.0.0.1:3000" in result.stdout
    assert ("N8N_OWNER_EMAIL" in BY_KEY) == ("owner" in result.stdout)


def test_accounts_rows_follow_the_schema(project, monkeypatch):
    from stack.config.schema import Setting
    from stack.ops import accounts
    from stack.ops.project import existing_settings

    assert run_start(project, "render").returncode == 0
    settings = existing_settings(project)
    assert [a.role for a in accounts.accounts(settings)] == ["admin", "Studio"] or "N8N_OWNER_EMAIL" in BY_KEY
    monkeypatch.setitem(accounts.BY_KEY, "N8N_OWNER_EMAIL", Setting("N8N_OWNER_EMAIL", "", "n8n", ""))
    monkeypatch.setitem(accounts.BY_KEY, "N8N_OWNER_PASSWORD", Setting("N8N_OWNER_PASSWORD", "", "n8n", ""))
    settings.values.update(N8N_OWNER_EMAIL="owner@x.y", N8N_OWNER_PASSWORD="pw-123")
    rows = {a.role: a for a in accounts.accounts(settings)}
    assert rows["owner"].login == "owner@x.y" and rows["owner"].password == "pw-123"
    assert rows["owner"].url == "http://127.0.0.1:5678"


def test_no_accounts_without_a_stack(tmp_path):
    from tests.conftest import copy_product

    project = copy_product(tmp_path / "p")
    result = run_start(project, "accounts")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_record_covers_every_variable_we_set(project):
    record = yaml.safe_load((REPO / "tests" / "records" / "env" / "open-webui.yml").read_text())
    assert DEFAULT_IMAGES[record["image_key"]].rsplit(":v", 1)[1] == record["version"]
    seen: set[str] = set()
    assert run_start(project, "render").returncode == 0
    seen |= set(_webui(project)["environment"])
    append_env(project, PUBLIC_ENV)
    assert run_start(project, "render", "--environment", "public", "--profile", "none").returncode == 0
    seen |= set(_webui(project)["environment"])
    assert seen == set(record["variables"]) | set(record["ours"])
    assert all(re.search(r"\.py:\d+", cite) for cite in record["variables"].values())
