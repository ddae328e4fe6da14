"""The Open WebUI double: /health, /api/config, its secret key file and webui.db, config checks."""
from __future__ import annotations

import sqlite3

from tests.doubles.harness import free_port, run_cli

GOOD = {"OLLAMA_BASE_URL": "http://ollama:11434", "ENABLE_WEB_SEARCH": "true", "ENABLE_RAG_WEB_SEARCH": "true",
        "WEB_SEARCH_ENGINE": "searxng", "RAG_WEB_SEARCH_ENGINE": "searxng",
        "SEARXNG_QUERY_URL": "http://searxng:8080/search?q=<query>", "WEBUI_NAME": "Local AI"}


def _env(tmp_path, port: int, **extra: str) -> dict[str, str]:
    return {**GOOD, "DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "HOST": "127.0.0.1", **extra}


def test_health_config_and_generated_secret_persist(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, WEBUI_SECRET_KEY=""), port=port)
    assert webui.get("/health").json() == {"status": True}
    config = webui.get("/api/config").json()
    assert config["name"] == "Local AI (Open WebUI)" and config["features"]["enable_web_search"] is True
    assert "<html" in webui.get("/").text
    key_file = tmp_path / "data/.webui_secret_key"
    key = key_file.read_text()
    assert key and oct(key_file.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(tmp_path / "data/webui.db") as db:
        assert db.execute("SELECT count(*) FROM config").fetchone() == (1,)
    webui.stop()
    spawn("open-webui", env=_env(tmp_path, port, WEBUI_SECRET_KEY=""), port=port)
    assert key_file.read_text() == key, "the generated key is kept, not regenerated"


def test_given_secret_is_used_and_not_logged(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, WEBUI_SECRET_KEY="a-secret-from-env-123"), port=port)
    assert webui.get("/health").status == 200
    assert not (tmp_path / "data/.webui_secret_key").exists()
    assert "a-secret-from-env-123" not in webui.output()


def test_bad_urls_are_refused(tmp_path):
    cases = [{"OLLAMA_BASE_URL": "ollama:11434"},
             {"SEARXNG_QUERY_URL": "http://searxng:8080/search?q="},
             {"SEARXNG_QUERY_URL": "searxng/search?q=<query>"}]
    for extra in cases:
        result = run_cli("open-webui", env=_env(tmp_path, free_port(), **extra), home=tmp_path, timeout=10)
        assert result.returncode == 1, extra
        assert len(result.stderr.strip().splitlines()) == 1


def test_query_url_only_matters_when_searxng_search_is_on(spawn, tmp_path):
    port = free_port()
    webui = spawn("open-webui", env=_env(tmp_path, port, ENABLE_WEB_SEARCH="false", ENABLE_RAG_WEB_SEARCH="false",
                                         SEARXNG_QUERY_URL=""), port=port)
    assert webui.get("/api/config").json()["features"]["enable_web_search"] is False
