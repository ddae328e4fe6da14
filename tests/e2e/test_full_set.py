"""SUPABASE_SERVICES=full, started by start.py on the real engine: the four extra services (analytics,
vector, functions, pooler) come up healthy behind their own compose healthchecks, Edge Functions
answer through Kong only with a valid JWT (VERIFY_JWT=true), and the pooler proxies Postgres.

The extra services run as contract doubles (tests/images/supabase-{analytics,vector,functions,
pooler}/, CONTRACTS.md); the functions double runs our own main/index.ts in a real Deno.
"""
from __future__ import annotations

import pytest
import requests

from tests.conftest import read_env_file
from tests.e2e.conftest import UP_TIMEOUT, docker, make_stack, ports

FULL_PORTS = ports({"WEBUI_PORT": "13000", "N8N_PORT": "15678", "SUPABASE_PORT": "18000", "OLLAMA_PORT": "14434",
                    "SEARXNG_PORT": "18081", "POSTGRES_PORT": "15432", "CADDY_PORT": "18880"})
EXTRA = ("analytics", "vector", "functions", "supavisor")
HELLO = """// test-only function: echoes the path it was called with and whether a token came along
Deno.serve((req: Request) => new Response(JSON.stringify({
  hello: new URL(req.url).pathname,
  authorized: req.headers.has("authorization"),
}), { headers: { "Content-Type": "application/json" } }));
"""


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory):
    stack = make_stack(tmp_path_factory, "full", {**FULL_PORTS, "SUPABASE_SERVICES": "full"})
    hello = stack.root / "templates" / "supabase" / "functions" / "hello"
    hello.mkdir(parents=True)
    (hello / "index.ts").write_text(HELLO)
    try:
        yield stack
    finally:
        stack.destroy()


def kong(stack, path: str, **kwargs) -> requests.Response:
    return requests.request(kwargs.pop("method", "GET"), f"http://127.0.0.1:{FULL_PORTS['SUPABASE_PORT']}{path}",
                            timeout=30, **kwargs)


def test_full_set_comes_up_ready_with_every_extra_service_healthy(full_stack):
    result = full_stack.start("up", "--profile", "cpu", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Local AI Stack is ready" in result.stdout
    states = full_stack.containers()
    for service in EXTRA:
        assert service in states, (service, sorted(states))
        state = states[service]["State"]
        logs = docker("logs", "--tail", "30", states[service]["Id"], check=False)
        why = (service, state.get("Health", {}).get("Log", [])[-1:], logs.stdout[-1500:], logs.stderr[-1500:])
        assert state["Status"] == "running" and states[service]["RestartCount"] == 0, why
        # each fragment has its own healthcheck: "healthy" means the probe ran in the image and passed
        assert states[service]["Config"].get("Healthcheck"), service
        assert state["Health"]["Status"] == "healthy", why


def test_functions_need_a_valid_jwt_through_kong(full_stack):
    keys = read_env_file(full_stack.root / ".env")
    anon = keys["ANON_KEY"]
    ok = kong(full_stack, "/functions/v1/hello", headers={"apikey": anon, "Authorization": f"Bearer {anon}"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"hello": "/hello", "authorized": True}
    service = kong(full_stack, "/functions/v1/hello", headers={"Authorization": f"Bearer {keys['SERVICE_ROLE_KEY']}"})
    assert service.status_code == 200, service.text

    missing = kong(full_stack, "/functions/v1/hello")
    assert missing.status_code == 401, missing.text
    assert missing.json()["code"] == "UNAUTHORIZED_NO_AUTH_HEADER"
    head, body, _sig = anon.split(".")
    forged = kong(full_stack, "/functions/v1/hello", headers={"Authorization": f"Bearer {head}.{body}.AAAA"})
    assert forged.status_code == 401, forged.text
    apikey_only = kong(full_stack, "/functions/v1/hello", headers={"apikey": anon})
    assert apikey_only.status_code == 401, apikey_only.text   # the apikey header is not a Bearer token
    unknown = kong(full_stack, "/functions/v1/no-such-function", headers={"Authorization": f"Bearer {anon}"})
    assert unknown.status_code == 500 and "worker boot error" in unknown.text, unknown.text


def test_pooler_proxies_postgres_for_the_tenant(full_stack):
    project = full_stack.project
    # From the db container (it has psql and POSTGRES_PASSWORD in its environment: no secret in argv).
    query = ('PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -h supavisor -p 6543 -U "postgres.$0" -d postgres '
             '-c "select current_user, current_database()"')
    out = full_stack.exec("db", "sh", "-c", query, project)
    assert out.strip() == "postgres|postgres", out
    cid = full_stack.containers()["db"]["Id"]
    wrong = docker("exec", cid, "sh", "-c", query, "no-such-tenant", check=False)
    assert wrong.returncode != 0
    assert "tenant/user postgres.no-such-tenant not found" in wrong.stderr, wrong.stderr
    bad_password = docker("exec", cid, "sh", "-c", query.replace('"$POSTGRES_PASSWORD"', "not-the-password"),
                          project, check=False)
    assert bad_password.returncode != 0 and "password authentication failed" in bad_password.stderr, bad_password.stderr
    health = full_stack.exec("supavisor", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "http://127.0.0.1:4000/api/health")
    assert health == "204"


INGEST = ('curl -s -o /dev/null -w "%{http_code}" -X POST -H "Content-Type: application/json" '
          '-H "x-api-key: $0" -d "{\\"event_message\\": \\"e2e\\"}" '
          '"http://127.0.0.1:4000/api/logs?source_name=postgres.logs"')


def _ingest(full_stack, token: str) -> str:
    """HTTP status of one log event sent to Analytics with `token` ($0 of the shell: not in the script)."""
    return full_stack.exec("analytics", "sh", "-c", INGEST, token)


def test_analytics_ingest_needs_the_access_token(full_stack):
    good = full_stack.exec("analytics", "sh", "-c", INGEST.replace("$0", "$LOGFLARE_PUBLIC_ACCESS_TOKEN"), "x")
    assert good == "200"
    assert _ingest(full_stack, "not-the-token") == "401"


@pytest.mark.parametrize("key", ["LOGFLARE_PUBLIC_ACCESS_TOKEN", "LOGFLARE_PRIVATE_ACCESS_TOKEN"])
def test_rotating_an_analytics_token_keeps_the_full_set_working(full_stack, key):
    old = read_env_file(full_stack.root / ".env")[key]
    result = full_stack.start("secrets", "rotate", key, "--yes", timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert old not in result.stdout + result.stderr
    env = dict(item.split("=", 1) for item in full_stack.containers()["analytics"]["Config"]["Env"])
    new = read_env_file(full_stack.root / ".env")[key]
    assert new != old and env[key] == new
    if key == "LOGFLARE_PUBLIC_ACCESS_TOKEN":
        assert _ingest(full_stack, new) == "200"
        assert _ingest(full_stack, old) == "401"
    states = full_stack.containers()
    assert all(c["State"]["Status"] == "running" for c in states.values())
