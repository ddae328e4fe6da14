"""The smaller Supabase doubles: GoTrue, Realtime, Storage, imgproxy, postgres-meta and Studio."""
from __future__ import annotations

import pytest

from tests.doubles.harness import PG_PASSWORD, api_key, free_port, run_cli, start, wait_for

SECRET = "test-jwt-secret-with-at-least-32-characters"


def _auth_env(postgres, port: int, **extra: str) -> dict[str, str]:
    return {"GOTRUE_API_HOST": "127.0.0.1", "GOTRUE_API_PORT": str(port), "API_EXTERNAL_URL": "http://localhost:8000",
            "GOTRUE_DB_DRIVER": "postgres", "GOTRUE_DB_DATABASE_URL": postgres.url("supabase_auth_admin"),
            "GOTRUE_SITE_URL": "http://localhost:3000", "GOTRUE_JWT_SECRET": SECRET, "GOTRUE_JWT_EXP": "3600",
            "GOTRUE_JWT_AUD": "authenticated", "GOTRUE_JWT_ADMIN_ROLES": "service_role",
            "GOTRUE_MAILER_AUTOCONFIRM": "false", **extra}


def test_auth_refuses_missing_settings(postgres, tmp_path):
    for name in ("GOTRUE_JWT_SECRET", "GOTRUE_DB_DATABASE_URL", "API_EXTERNAL_URL", "GOTRUE_SITE_URL"):
        result = run_cli("supabase-auth", env=_auth_env(postgres, free_port(), **{name: ""}), home=tmp_path,
                         timeout=10)
        assert result.returncode == 1 and "missing value" in result.stderr, name
    bad_bool = run_cli("supabase-auth", env=_auth_env(postgres, free_port(), GOTRUE_MAILER_AUTOCONFIRM="maybe"),
                       home=tmp_path, timeout=10)
    assert bad_bool.returncode == 1


def test_auth_listens_only_after_its_migrations_ran(postgres, tmp_path, spawn):
    port = free_port()
    env = _auth_env(postgres, port, GOTRUE_DB_DATABASE_URL=postgres.url("supabase_auth_admin", password="nope-123"))
    with pytest.raises(AssertionError, match="did not listen"):
        start("supabase-auth", env=env, home=tmp_path, port=port, timeout=3)
    auth = spawn("supabase-auth", env=_auth_env(postgres, port), port=port)
    health = auth.get("/health").json()
    assert health["name"] == "GoTrue" and health["version"] == "double"
    assert auth.get("/settings").json()["mailer_autoconfirm"] is False
    assert postgres.psql("SELECT count(*) FROM auth.schema_migrations") == "1"


def _realtime_env(postgres, port: int, **extra: str) -> dict[str, str]:
    return {"PORT": str(port), "DB_HOST": "127.0.0.1", "DB_PORT": str(postgres.port), "DB_USER": "supabase_admin",
            "DB_PASSWORD": PG_PASSWORD, "DB_NAME": "postgres", "DB_AFTER_CONNECT_QUERY": "SET search_path TO _realtime",
            "DB_ENC_KEY": "supabaserealtime", "API_JWT_SECRET": SECRET, "SECRET_KEY_BASE": "s" * 64,
            "APP_NAME": "realtime", "SEED_SELF_HOST": "true", "ANON_KEY": api_key("anon", SECRET), **extra}


def test_realtime_health_needs_a_key_signed_with_the_api_secret(postgres, tmp_path, spawn):
    port = free_port()
    realtime = spawn("supabase-realtime", env=_realtime_env(postgres, port), port=port)
    path = "/api/tenants/realtime-dev/health"
    assert realtime.get(path).status == 403
    forged = api_key("anon", "another-secret-of-at-least-32-characters")
    assert realtime.get(path, {"Authorization": f"Bearer {forged}"}).status == 403
    good = {"Authorization": "Bearer " + api_key("anon", SECRET)}
    assert wait_for(lambda: realtime.get(path, good).status == 200)
    assert realtime.request("HEAD", path, headers=good).status == 200
    assert realtime.get("/api/tenants/other/health", good).status == 404


def test_realtime_boot_checks(postgres, tmp_path):
    for extra in ({"SECRET_KEY_BASE": "s" * 63}, {"DB_ENC_KEY": "short"}, {"API_JWT_SECRET": ""}, {"APP_NAME": ""}):
        result = run_cli("supabase-realtime", env=_realtime_env(postgres, free_port(), **extra), home=tmp_path,
                         timeout=10)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, extra


def _storage_env(postgres, port: int, tmp_path, **extra: str) -> dict[str, str]:
    return {"PORT": str(port), "ANON_KEY": api_key("anon", SECRET), "SERVICE_KEY": api_key("service_role", SECRET),
            "AUTH_JWT_SECRET": SECRET,
            "DATABASE_URL": postgres.url("supabase_storage_admin"), "STORAGE_BACKEND": "file",
            "FILE_STORAGE_BACKEND_PATH": str(tmp_path / "storage"), "TENANT_ID": "stub", "REGION": "local",
            "GLOBAL_S3_BUCKET": "stub", "IMGPROXY_URL": "http://imgproxy:5001", **extra}


def test_storage_checks_its_keys_and_writes_its_volume(postgres, tmp_path, spawn):
    swapped = _storage_env(postgres, free_port(), tmp_path)
    swapped["ANON_KEY"], swapped["SERVICE_KEY"] = swapped["SERVICE_KEY"], swapped["ANON_KEY"]
    for env in (swapped, _storage_env(postgres, free_port(), tmp_path,
                                      ANON_KEY=api_key("anon", "another-secret-of-at-least-32-characters"))):
        result = run_cli("supabase-storage", env=env, home=tmp_path, timeout=10)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
        assert env["ANON_KEY"] not in result.stderr
    port = free_port()
    storage = spawn("supabase-storage", env=_storage_env(postgres, port, tmp_path), port=port)
    assert wait_for(lambda: storage.get("/status").status == 200)
    assert (tmp_path / "storage" / ".storage-double").is_file()
    assert postgres.psql("SELECT count(*) FROM storage.migrations") == "1"


def test_imgproxy_health_command(tmp_path, spawn):
    port = free_port()
    env = {"IMGPROXY_BIND": f":{port}", "IMGPROXY_LOCAL_FILESYSTEM_ROOT": str(tmp_path), "IMGPROXY_USE_ETAG": "true"}
    assert run_cli("supabase-imgproxy", "health", env=env, home=tmp_path).returncode == 1
    spawn("supabase-imgproxy", env=env, port=port)
    assert run_cli("supabase-imgproxy", "health", env=env, home=tmp_path).returncode == 0
    bad = run_cli("supabase-imgproxy", env={**env, "IMGPROXY_LOCAL_FILESYSTEM_ROOT": str(tmp_path / "missing")},
                  home=tmp_path, timeout=10)
    assert bad.returncode == 1


def test_meta_needs_crypto_key_and_reads_the_real_catalogue(postgres, tmp_path, spawn):
    port = free_port()
    env = {"PG_META_PORT": str(port), "PG_META_HOST": "127.0.0.1", "PG_META_DB_HOST": "127.0.0.1",
           "PG_META_DB_PORT": str(postgres.port), "PG_META_DB_NAME": "postgres", "PG_META_DB_USER": "supabase_admin",
           "PG_META_DB_PASSWORD": PG_PASSWORD, "CRYPTO_KEY": "c" * 32}
    assert run_cli("supabase-meta", env={**env, "CRYPTO_KEY": ""}, home=tmp_path, timeout=10).returncode == 1
    meta = spawn("supabase-meta", env=env, port=port)
    assert wait_for(lambda: meta.get("/health").status == 200)
    tables = meta.get("/tables?included_schemas=public").json()
    assert {t["name"] for t in tables} >= {"notes", "vault"} and {t["schema"] for t in tables} == {"public"}
    assert "auth" in {s["name"] for s in meta.get("/schemas").json()}


def test_studio_binds_hostname_and_answers_the_profile(tmp_path, spawn):
    port = free_port()
    env = {"HOSTNAME": "::", "PORT": str(port), "STUDIO_PG_META_URL": "http://meta:8080",
           "SUPABASE_URL": "http://kong:8000", "SUPABASE_PUBLIC_URL": "http://localhost:8000",
           "SUPABASE_ANON_KEY": api_key("anon", SECRET), "SUPABASE_SERVICE_KEY": api_key("service_role", SECRET),
           "AUTH_JWT_SECRET": SECRET, "DEFAULT_ORGANIZATION_NAME": "Org", "DEFAULT_PROJECT_NAME": "Proj",
           "PG_META_CRYPTO_KEY": "c" * 32}
    studio = spawn("supabase-studio", env=env, port=port)
    profile = studio.get("/api/platform/profile")
    assert profile.status == 200 and profile.json()["organizations"][0]["projects"][0]["name"] == "Proj"
    assert studio.get("/").status == 307 and "Proj" in studio.get("/project/default").text
    assert "WARNING" not in studio.output()
