"""The Supabase gateway of the shared private stack (tests/e2e/conftest.py), end to end: what Kong
must never pass on.

Realtime's tenant API and OpenAPI document, Studio's MCP server and PostgREST's OpenAPI root are
blocked or service-role-only (supabase/supabase docker/volumes/api/kong.yml @ 1f37f2a9, PR 46856);
the other routes keep working with the anon key. Every Supabase container ends up healthy.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import read_env_file
from tests.e2e.conftest import SHARED_PORTS

pytestmark = pytest.mark.shared_stack  # the shared stacks (conftest.py): run last


def _get(path: str, key: str | None = None) -> tuple[int, str]:
    url = f"http://127.0.0.1:{SHARED_PORTS['SUPABASE_PORT']}{path}"
    request = urllib.request.Request(url, headers={"apikey": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def gateway(shared_stack):
    values = read_env_file(shared_stack.root / ".env")
    return shared_stack, values["ANON_KEY"], values["SERVICE_ROLE_KEY"]


@pytest.mark.parametrize("path", ["/realtime/v1/api/tenants", "/realtime/v1/api/tenants/realtime-dev/health",
                                  "/realtime/v1/api/openapi", "/mcp", "/api/mcp"])
def test_blocked_for_every_key(gateway, path):
    _, anon, service = gateway
    for key in (anon, service):
        status, body = _get(path, key)
        assert status == 403 and json.loads(body)["message"] == "Access is forbidden.", (path, status, body)


def test_openapi_root_is_service_role_only_and_tables_stay_reachable(gateway):
    _, anon, service = gateway
    assert _get("/rest/v1/", anon)[0] == 403
    assert _get("/rest/v1/", service)[0] == 200
    assert _get("/auth/v1/health", anon)[0] == 200


def test_every_supabase_container_is_healthy(gateway):
    stack, _, _ = gateway
    states = {name: c["State"] for name, c in stack.containers().items()}
    for name in ("kong", "auth", "rest", "realtime", "storage", "imgproxy", "meta", "studio"):
        assert states[name].get("Health", {}).get("Status") == "healthy", (name, states[name])
