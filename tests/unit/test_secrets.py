"""Secrets are generated once, never overwritten, and the API keys are real signed JWTs."""
from __future__ import annotations

import stat

import jwt
import pytest

from stack.config.schema import SECRET_KEYS
from tests.conftest import read_env_file, run_start


def test_first_render_creates_env_0600_with_every_secret(project):
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    env_path = project / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    values = read_env_file(env_path)
    for key in SECRET_KEYS:
        assert values[key], f"{key} was not generated"
    for key in ("POSTGRES_PASSWORD", "N8N_DB_PASSWORD"):
        assert values[key].isalnum(), f"{key} must be URL-safe"
    assert len(values["VAULT_ENC_KEY"]) == 32
    assert len(values["REALTIME_DB_ENC_KEY"]) == 16
    assert len(values["SECRET_KEY_BASE"]) >= 64


def test_second_run_leaves_env_byte_identical(project):
    assert run_start(project, "render").returncode == 0
    before = (project / ".env").read_bytes()
    assert run_start(project, "render").returncode == 0
    assert (project / ".env").read_bytes() == before


def test_deleting_one_secret_regenerates_only_that_one(project):
    assert run_start(project, "render").returncode == 0
    before = read_env_file(project / ".env")
    text = (project / ".env").read_text()
    text = text.replace(f"N8N_ENCRYPTION_KEY={before['N8N_ENCRYPTION_KEY']}", "N8N_ENCRYPTION_KEY=")
    (project / ".env").write_text(text)
    assert run_start(project, "render").returncode == 0
    after = read_env_file(project / ".env")
    assert after["N8N_ENCRYPTION_KEY"] and after["N8N_ENCRYPTION_KEY"] != before["N8N_ENCRYPTION_KEY"]
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"N8N_ENCRYPTION_KEY"}


def test_api_keys_are_hs256_jwts_signed_with_jwt_secret(project):
    assert run_start(project, "render").returncode == 0
    values = read_env_file(project / ".env")
    for key, role in (("ANON_KEY", "anon"), ("SERVICE_ROLE_KEY", "service_role")):
        assert jwt.get_unverified_header(values[key])["alg"] == "HS256"
        claims = jwt.decode(values[key], values["JWT_SECRET"], algorithms=["HS256"])
        assert claims["role"] == role
        assert claims["iss"] and claims["exp"] > claims["iat"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(values["ANON_KEY"], "x" * 48, algorithms=["HS256"])


def test_user_comments_order_and_values_are_kept(project):
    (project / ".env").write_text("# my own note\nWEBUI_PORT=3100\n\n# keep me too\nPROFILE=cpu\n")
    assert run_start(project, "render").returncode == 0
    text = (project / ".env").read_text()
    assert text.startswith("# my own note\nWEBUI_PORT=3100\n\n# keep me too\nPROFILE=cpu\n")
    assert "JWT_SECRET=" in text


def test_deleted_api_key_is_resigned_with_the_existing_secret(project):
    assert run_start(project, "render").returncode == 0
    before = read_env_file(project / ".env")
    text = (project / ".env").read_text().replace(f"ANON_KEY={before['ANON_KEY']}\n", "")
    (project / ".env").write_text(text)
    assert run_start(project, "render").returncode == 0
    after = read_env_file(project / ".env")
    assert after["JWT_SECRET"] == before["JWT_SECRET"]
    assert jwt.decode(after["ANON_KEY"], after["JWT_SECRET"], algorithms=["HS256"])["role"] == "anon"


def test_flags_are_remembered(project):
    env = {"WEBUI_HOSTNAME": "a.example.com"}
    assert run_start(project, "render", "--profile", "gpu-nvidia", env=env).returncode == 0
    assert read_env_file(project / ".env")["PROFILE"] == "gpu-nvidia"
    assert run_start(project, "render").returncode == 0
    compose = (project / "build" / "docker-compose.yml").read_text()
    assert "driver: nvidia" in compose
