"""Public mode: only Caddy's 80/443 are published, and Caddy routes each hostname over HTTPS."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import read_env_file

pytestmark = pytest.mark.shared_stack("public")  # the shared stacks (conftest.py): run last


def _https(host: str, path: str, *extra: str) -> tuple[int, str]:
    result = subprocess.run(
        ["curl", "-sk", "--max-time", "10", "--resolve", f"{host}:443:127.0.0.1", "-o", "-", "-w",
         "\n%{http_code}", *extra, f"https://{host}{path}"], capture_output=True, text=True, timeout=30)
    body, _, code = result.stdout.rpartition("\n")
    return int(code or 0), body


def test_public_up_is_ready(public_stack):
    """The shared public stack's `up` (tests/e2e/conftest.py) succeeded and printed its address."""
    assert "https://chat.e2e.test" in public_stack.up_output


def test_only_caddy_80_and_443_are_published(public_stack):
    published = set()
    for service, info in public_stack.containers().items():
        for port, bindings in (info["NetworkSettings"]["Ports"] or {}).items():
            for binding in bindings or []:
                published.add((service, port, binding["HostPort"]))
    assert published, "caddy must be published"
    assert {s for s, _, _ in published} == {"caddy"}
    assert {hp for _, _, hp in published} <= {"80", "443"}
    assert {p for _, p, _ in published} >= {"80/tcp", "443/tcp", "443/udp"}


def test_caddy_routes_each_hostname_over_https(public_stack):
    values = read_env_file(public_stack.root / ".env")
    code, body = _https("chat.e2e.test", "/health")
    assert code == 200 and "true" in body, (code, body)
    code, body = _https("n8n.e2e.test", "/healthz")
    assert code == 200, (code, body)
    code, body = _https("supabase.e2e.test", "/auth/v1/health", "-H", f"apikey: {values['ANON_KEY']}")
    assert code == 200, (code, body)
    code, _ = _https("supabase.e2e.test", "/rest/v1/", "-H", "apikey: not-a-key")
    assert code == 401


def test_ollama_is_only_reachable_with_basic_auth(public_stack):
    values = read_env_file(public_stack.root / ".env")
    code, _ = _https("ollama.e2e.test", "/")
    assert code == 401
    auth = f"{values['CADDY_BASIC_AUTH_USER']}:{values['CADDY_BASIC_AUTH_PASSWORD']}"
    code, body = _https("ollama.e2e.test", "/", "-u", auth)
    assert code == 200 and "Ollama is running" in body


def test_studio_and_pg_meta_are_never_public_without_auth(public_stack):
    values = read_env_file(public_stack.root / ".env")
    code, _ = _https("supabase.e2e.test", "/")
    assert code == 401, "Studio must ask for the dashboard login"
    auth = f"{values['DASHBOARD_USERNAME']}:{values['DASHBOARD_PASSWORD']}"
    code, _ = _https("supabase.e2e.test", "/", "-u", auth)
    assert code in (200, 307), "with the dashboard login Studio answers (it redirects / to the project)"
    code, _ = _https("supabase.e2e.test", "/pg/tables", "-H", f"apikey: {values['ANON_KEY']}")
    assert code == 403, "pg-meta is for the service role only"
    code, _ = _https("supabase.e2e.test", "/pg/tables", "-H", f"apikey: {values['SERVICE_ROLE_KEY']}")
    assert code == 200


def test_security_headers_are_sent(public_stack):
    result = subprocess.run(["curl", "-skI", "--max-time", "10", "--resolve", "chat.e2e.test:443:127.0.0.1",
                             "https://chat.e2e.test/health"], capture_output=True, text=True, timeout=30)
    headers = result.stdout.lower()
    assert "strict-transport-security" in headers and "x-content-type-options: nosniff" in headers


def test_models_are_pulled_inside_the_container_in_public_mode(public_stack):
    text = public_stack.exec("ollama", "sh", "-c", "cat /root/.ollama/double-pulls.log 2>/dev/null || true")
    pulled = sorted(json.loads(line)["model"] for line in text.splitlines() if line.strip())
    assert pulled == ["nomic-embed-text", "tinyllama:latest"], pulled
    listed = public_stack.start("models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "tinyllama:latest" in listed.stdout and "nomic-embed-text" in listed.stdout


def test_supabase_key_check_runs_in_public_mode_with_the_internal_ca(public_stack):
    """`up` ran the check at Kong itself; `supabase check` does the same, forged tokens refused."""
    result = public_stack.start("supabase", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ANON_KEY: anon (expected anon)" in result.stdout
    assert "SERVICE_ROLE_KEY: service_role (expected service_role)" in result.stdout
    assert "forged Bearer token beside a valid apikey: refused (expected refused)" in result.stdout


def test_no_visitor_can_claim_open_webui(public_stack):
    """The admin exists from the first start and sign-up is closed, through Caddy, from outside."""
    code, body = _https("chat.e2e.test", "/api/config")
    assert code == 200 and json.loads(body)["features"]["enable_signup"] is False, body
    code, _ = _https("chat.e2e.test", "/api/v1/auths/signup", "-H", "Content-Type: application/json", "-d",
                     json.dumps({"name": "v", "email": "v@example.com", "password": "Visitor-123"}))
    assert code == 403
    env = dict(item.split("=", 1) for item in public_stack.containers()["open-webui"]["Config"]["Env"])
    assert env["CORS_ALLOW_ORIGIN"] == "https://chat.e2e.test"
    # the pipe was installed from inside the container (Open WebUI is not published in public mode)
    values = read_env_file(public_stack.root / ".env")
    code, body = _https("chat.e2e.test", "/api/v1/auths/signin", "-H", "Content-Type: application/json", "-d",
                        json.dumps({"email": values["WEBUI_ADMIN_EMAIL"], "password": values["WEBUI_ADMIN_PASSWORD"]}))
    assert code == 200, body
    token = json.loads(body)["token"]
    code, body = _https("chat.e2e.test", "/api/v1/functions/id/n8n_agent", "-H", f"Authorization: Bearer {token}")
    assert code == 200 and json.loads(body)["is_active"] is True, body


def test_rotating_the_caddy_basic_auth_password(public_stack):
    old = read_env_file(public_stack.root / ".env")
    result = public_stack.start("secrets", "rotate", "CADDY_BASIC_AUTH_PASSWORD", "--yes", timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    new = read_env_file(public_stack.root / ".env")
    assert new["CADDY_BASIC_AUTH_PASSWORD"] != old["CADDY_BASIC_AUTH_PASSWORD"]
    assert new["CADDY_BASIC_AUTH_HASH"] != old["CADDY_BASIC_AUTH_HASH"]
    user = new["CADDY_BASIC_AUTH_USER"]
    code, _ = _https("ollama.e2e.test", "/", "-u", f"{user}:{old['CADDY_BASIC_AUTH_PASSWORD']}")
    assert code == 401
    code, body = _https("ollama.e2e.test", "/", "-u", f"{user}:{new['CADDY_BASIC_AUTH_PASSWORD']}")
    assert code == 200 and "Ollama is running" in body
