"""The PostgREST double against a real Postgres: JWT verification, role switching, grants decide."""
from __future__ import annotations

import pytest

from tests.doubles.harness import api_key, free_port, run_cli, sign, wait_for

SECRET = "test-jwt-secret-with-at-least-32-characters"


def _env(postgres, port: int, admin: int, **extra: str) -> dict[str, str]:
    return {"PGRST_DB_URI": postgres.url("authenticator"), "PGRST_DB_SCHEMAS": "public,storage",
            "PGRST_DB_ANON_ROLE": "anon", "PGRST_JWT_SECRET": SECRET, "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_PORT": str(port), "PGRST_ADMIN_SERVER_PORT": str(admin), "PGRST_DB_USE_LEGACY_GUCS": "false",
            "PGRST_APP_SETTINGS_JWT_SECRET": SECRET, **extra}


@pytest.fixture
def rest(spawn, postgres, tmp_path):
    port, admin = free_port(), free_port()
    env = _env(postgres, port, admin)
    double = spawn("supabase-rest", "postgrest", env=env, port=port)
    double.extra.update(env=env, admin=admin)
    return double


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + api_key(role, SECRET)}


def test_ready_healthcheck(rest, tmp_path):
    assert wait_for(lambda: run_cli("supabase-rest", "--ready", env=rest.extra["env"], home=tmp_path).returncode == 0)
    rest.stop()
    assert run_cli("supabase-rest", "--ready", env=rest.extra["env"], home=tmp_path).returncode == 1


def test_ready_fails_with_a_wrong_password(spawn, postgres, tmp_path):
    port, admin = free_port(), free_port()
    env = _env(postgres, port, admin, PGRST_DB_URI=postgres.url("authenticator", password="Wrong-Password-987"))
    double = spawn("supabase-rest", env=env, port=port)
    assert run_cli("supabase-rest", "--ready", env=env, home=tmp_path).returncode == 1
    assert double.get("/notes").status == 503
    assert "password authentication failed" in double.output()
    assert "Wrong-Password-987" not in double.output()


def test_roles_come_from_the_verified_jwt(rest):
    assert rest.request("POST", "/rpc/whoami", {}).json() == "anon"
    assert rest.request("POST", "/rpc/whoami", {}, bearer("anon")).json() == "anon"
    assert rest.request("POST", "/rpc/whoami", {}, bearer("service_role")).json() == "service_role"
    assert rest.request("POST", "/rpc/claimed_role", {}, bearer("service_role")).json() == "service_role"
    assert rest.request("POST", "/rpc/add", {"a": 2, "b": 3}).json() == 5
    forged = {"Authorization": "Bearer " + api_key("service_role", "another-secret-of-at-least-32-chars!!")}
    refused = rest.request("POST", "/rpc/whoami", {}, forged)
    assert refused.status == 401 and refused.json()["code"] == "PGRST301"
    expired = {"Authorization": "Bearer " + api_key("anon", SECRET, expires_in=-10)}
    assert rest.request("POST", "/rpc/whoami", {}, expired).json()["message"] == "JWT expired"
    none_alg = {"Authorization": "Bearer " + sign({"role": "service_role"}, SECRET, alg="none")}
    assert rest.request("POST", "/rpc/whoami", {}, none_alg).status == 401
    missing = rest.request("POST", "/rpc/nope", {})
    assert missing.status == 404 and missing.json()["code"] == "PGRST202"


def test_reads_and_writes_run_for_real_under_grants(rest):
    rows = rest.get("/notes?select=id,body&order=id.desc&limit=2")
    assert rows.status == 200 and [r["body"] for r in rows.json()] == ["third", "second"]
    assert rest.get("/notes?body=eq.first").json() == [{"id": 1, "body": "first"}]
    single = rest.get("/notes?id=eq.2", {"Accept": "application/vnd.pgrst.object+json"})
    assert single.json() == {"id": 2, "body": "second"}
    denied = rest.get("/vault")
    assert denied.status == 401 and denied.json()["code"] == "42501"
    assert "permission denied for table vault" in denied.json()["message"]
    assert rest.get("/vault", bearer("authenticated")).status == 403
    assert rest.get("/vault", bearer("service_role")).json() == []
    unknown = rest.get("/nothing_here")
    assert unknown.status == 404 and unknown.json()["code"] == "PGRST205"
    assert rest.request("POST", "/notes", {"body": "from anon"}).status == 401
    created = rest.request("POST", "/notes", {"body": "from service"},
                           {**bearer("service_role"), "Prefer": "return=representation"})
    assert created.status == 201 and created.json()[0]["body"] == "from service"
    assert rest.request("POST", "/notes", [{"body": "a"}, {"body": "b"}], bearer("service_role")).status == 201
    bad = rest.request("POST", "/notes", {"nope": 1}, bearer("service_role"))
    assert bad.status == 400 and bad.json()["code"] == "42703"
    assert rest.get("/notes?id=zz.1").status == 400
    wrong_schema = rest.get("/notes", {"Accept-Profile": "auth"})
    assert wrong_schema.status == 406 and wrong_schema.json()["code"] == "PGRST106"


def test_openapi_root_lists_visible_tables(rest):
    spec = rest.get("/").json()
    assert spec["swagger"] == "2.0" and "/notes" in spec["paths"] and "/vault" not in spec["paths"]
    assert "/vault" in rest.get("/", bearer("service_role")).json()["paths"]


def test_short_jwt_secret_is_refused(postgres, tmp_path):
    env = _env(postgres, free_port(), free_port(), PGRST_JWT_SECRET="too-short")
    result = run_cli("supabase-rest", env=env, home=tmp_path, timeout=10)
    assert result.returncode == 1 and result.stderr.strip() == "The JWT secret must be at least 32 characters long."
