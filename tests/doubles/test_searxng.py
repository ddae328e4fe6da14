"""The SearXNG double: settings.yml + environment like SearXNG, the ultrasecretkey refusal, formats."""
from __future__ import annotations

from tests.doubles.harness import free_port, run_cli

PRODUCT_LIKE = """use_default_settings: true
general:
  instance_name: "Test search"
search:
  formats: [html, json]
server:
  port: 8080
  bind_address: "0.0.0.0"
  secret_key: "replaced-at-start-by-SEARXNG_SECRET"
  limiter: false
"""


def _env(tmp_path, port: int, settings: str | None, **extra: str) -> dict[str, str]:
    path = tmp_path / "settings.yml"
    if settings is not None:
        path.write_text(settings)
    return {"SEARXNG_SETTINGS_PATH": str(path), "SEARXNG_PORT": str(port), "SEARXNG_BIND_ADDRESS": "127.0.0.1",
            **extra}


def test_refuses_the_default_secret(tmp_path):
    settings = "use_default_settings: true\nsearch:\n  formats: [html, json]\n"
    result = run_cli("searxng", env=_env(tmp_path, free_port(), settings), home=tmp_path, timeout=10)
    assert result.returncode == 1
    assert result.stderr.strip() == ("server.secret_key is not changed. Please use something else instead of "
                                     "ultrasecretkey.")
    overridden = run_cli("searxng", env=_env(tmp_path, free_port(), PRODUCT_LIKE, SEARXNG_SECRET="ultrasecretkey"),
                         home=tmp_path, timeout=10)
    assert overridden.returncode == 1, "SEARXNG_SECRET overrides server.secret_key"


def test_json_is_forbidden_unless_enabled(spawn, tmp_path):
    port = free_port()
    settings = "use_default_settings: true\nserver:\n  secret_key: a-real-secret-value\n"
    searxng = spawn("searxng", env=_env(tmp_path, port, settings), port=port)
    assert searxng.get("/healthz").text == "OK"
    assert searxng.get("/search?q=local+ai&format=json").status == 403
    page = searxng.get("/search?q=local+ai&format=html")
    assert page.status == 200 and "local ai" in page.text


def test_json_search_when_enabled(spawn, tmp_path):
    port = free_port()
    searxng = spawn("searxng", env=_env(tmp_path, port, PRODUCT_LIKE, SEARXNG_SECRET="s3cret-from-env",
                                        SEARXNG_BASE_URL="http://localhost:8080/"), port=port)
    result = searxng.get("/search?q=ollama%20models&format=json")
    assert result.status == 200
    data = result.json()
    assert data["query"] == "ollama models"
    assert data["number_of_results"] == len(data["results"]) > 0
    assert all(set(r) >= {"url", "title", "content", "engine"} for r in data["results"])
    assert searxng.get("/search?q=ollama%20models&format=json").json() == data, "deterministic"
    assert "s3cret-from-env" not in searxng.output()


def test_invalid_yaml_and_limiter_without_valkey_are_refused(tmp_path):
    bad = run_cli("searxng", env=_env(tmp_path, free_port(), "server: [unclosed\n"), home=tmp_path, timeout=10)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    limiter = PRODUCT_LIKE.replace("limiter: false", "limiter: true")
    result = run_cli("searxng", env=_env(tmp_path, free_port(), limiter, SEARXNG_SECRET="x" * 32), home=tmp_path,
                     timeout=10)
    assert result.returncode == 1 and "limiter requires Valkey" in result.stderr
