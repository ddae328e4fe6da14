"""Bad input: one clear line on stderr, a non-zero exit, no traceback, nothing on disk changed."""
from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from tests.conftest import PUBLIC_ENV, run_start

PUBLIC_NO_HOSTS = "ENVIRONMENT=public\n"


def _env(text: str):
    return lambda project: (project / ".env").write_text(text)


def _env_bytes(data: bytes):
    return lambda project: (project / ".env").write_bytes(data)


def _public(extra: str):
    key, _, value = extra.strip().partition("=")
    merged = {**PUBLIC_ENV, key: value}
    return _env("".join(f"{k}={v}\n" for k, v in merged.items()))


def _foreign_anon_key(project: Path) -> None:
    token = jwt.encode({"role": "anon", "iss": "x", "iat": 1, "exp": 2**31}, "y" * 40, algorithm="HS256")
    (project / ".env").write_text(f"JWT_SECRET={'z' * 48}\nANON_KEY={token}\n")


# (id, setup, argv, expected exit code, words the one line must contain)
CASES = [
    ("unknown-profile", None, ["render", "--profile", "gpu-intel"], 2, "--profile"),
    ("unknown-environment", None, ["render", "--environment", "staging"], 2, "--environment"),
    ("unknown-command", None, ["launch"], 2, "launch"),
    ("malformed-line", _env("WEBUI_PORT=3000\nTHIS IS NOT A SETTING\n"), ["render"], 2, "line 2"),
    ("port-out-of-range", _env("WEBUI_PORT=99999\n"), ["render"], 2, "WEBUI_PORT"),
    ("port-not-a-number", _env("N8N_PORT=http\n"), ["render"], 2, "N8N_PORT"),
    ("port-used-twice", _env("WEBUI_PORT=5678\n"), ["render"], 2, "already used"),
    ("public-without-hostnames", _env(PUBLIC_NO_HOSTS), ["render"], 2, "WEBUI_HOSTNAME"),
    ("public-flag-without-hostnames", None, ["render", "--environment", "public"], 2, "LETSENCRYPT_EMAIL"),
    ("bad-email", _public("LETSENCRYPT_EMAIL=admin-at-example\n"), ["render", "-e", "public"], 2,
     "LETSENCRYPT_EMAIL"),
    ("hostname-with-scheme", _public("WEBUI_HOSTNAME=https://chat.example.com\n"), ["render", "-e", "public"],
     2, "WEBUI_HOSTNAME"),
    ("hostname-invalid", _public("N8N_HOSTNAME=n8n_host\n"), ["render", "-e", "public"], 2, "N8N_HOSTNAME"),
    ("same-hostname-twice", _public("N8N_HOSTNAME=chat.example.com\n"), ["render", "-e", "public"], 2,
     "own hostname"),
    ("kv-cache-without-flash-attention", _env("OLLAMA_KV_CACHE_TYPE=q8_0\nOLLAMA_FLASH_ATTENTION=0\n"),
     ["render"], 2, "OLLAMA_FLASH_ATTENTION=1"),
    ("kv-cache-unknown", _env("OLLAMA_KV_CACHE_TYPE=q2\n"), ["render"], 2, "OLLAMA_KV_CACHE_TYPE"),
    ("context-length-negative", _env("OLLAMA_CONTEXT_LENGTH=-5\n"), ["render"], 2, "OLLAMA_CONTEXT_LENGTH"),
    ("duplicate-key", _env("WEBUI_PORT=3000\nWEBUI_PORT=3001\n"), ["render"], 2, "twice"),
    ("password-with-at-sign", _env("POSTGRES_PASSWORD=p@ssw0rd:secret99\n"), ["render"], 2,
     "POSTGRES_PASSWORD"),
    ("password-with-dollar", _env("DASHBOARD_PASSWORD='abc$HOME123'\n"), ["render"], 2, "DASHBOARD_PASSWORD"),
    ("floating-image-tag", _env("OLLAMA_IMAGE=ollama/ollama:latest\n"), ["render"], 2, "OLLAMA_IMAGE"),
    ("untagged-image", _env("N8N_IMAGE=n8nio/n8n\n"), ["render"], 2, "N8N_IMAGE"),
    ("binary-garbage", _env_bytes(b"\x00\xff\xfe garbage \x89PNG"), ["render"], 2, ".env"),
    ("not-utf8", _env_bytes(b"WEBUI_NAME=caf\xe9\n"), ["render"], 2, "UTF-8"),
    ("vault-key-wrong-length", _env("VAULT_ENC_KEY=tooshort123\n"), ["render"], 2, "VAULT_ENC_KEY"),
    ("anon-key-from-another-secret", _foreign_anon_key, ["render"], 2, "ANON_KEY"),
    ("project-name-with-space", _env("PROJECT_NAME='My Stack'\n"), ["render"], 2, "PROJECT_NAME"),
    ("bool-not-bool", _env("DISABLE_SIGNUP=maybe\n"), ["render"], 2, "DISABLE_SIGNUP"),
    ("model-name-invalid", _env("OLLAMA_MODELS=llama3, ;rm -rf\n"), ["render"], 2, "OLLAMA_MODELS"),
    ("output-under-a-file", None, ["render", "--output", "start.py/build"], 2, "--output"),
    ("output-foreign-dir", None, ["render", "--output", "stack"], 2, "--output"),
    ("ollama-hostname-with-profile-none", _public("OLLAMA_HOSTNAME=ollama.example.com\n"),
     ["render", "-e", "public", "-p", "none"], 2, "OLLAMA_HOSTNAME"),
    ("down-volumes-without-yes", _env("WEBUI_PORT=3000\n"), ["down", "--volumes"], 2, "--yes"),
    ("newline-in-value", _env("WEBUI_NAME='two\nlines'\n"), ["render"], 2, "line break"),
    ("unterminated-quote", _env('WEBUI_PORT="3000\n'), ["render"], 2, "cannot parse"),
    ("unicode-hostname", _public("WEBUI_HOSTNAME=chät.example.com\n"), ["render", "-e", "public"], 2,
     "WEBUI_HOSTNAME"),
    ("email-with-space", _public("LETSENCRYPT_EMAIL=ad min@example.com\n"), ["render", "-e", "public"], 2,
     "LETSENCRYPT_EMAIL"),
    ("key-without-equals", _env("WEBUI_PORT\n"), ["render"], 2, "no '='"),
    ("key-not-a-name", _env("WEBUI-PORT=3000\n"), ["render"], 2, "not a valid name"),
    ("env-is-a-directory", lambda p: (p / ".env").mkdir(), ["render"], 2, ".env"),
    ("model-pull-bad-name", None, ["models", "pull", "bad name!"], 2, "model name"),
    ("model-rm-bad-name", None, ["models", "rm", "../../etc"], 2, "model name"),
    ("restore-missing-archive", None, ["restore", "no-such-backup.tar"], 2, "does not exist"),
    ("restore-not-an-archive", lambda p: (p / "fake.tar").write_text("not a tar"), ["restore", "fake.tar"], 2,
     "corrupt or truncated"),
    ("rotate-unknown-secret", None, ["secrets", "rotate", "NOT_A_SECRET", "--yes"], 2, "unknown secret"),
    ("rotate-encryption-key", None, ["secrets", "rotate", "N8N_ENCRYPTION_KEY", "--yes"], 2, "unreadable"),
    ("rotate-good-then-unknown", _env("WEBUI_PORT=3000\n"),
     ["secrets", "rotate", "JWT_SECRET", "NOT_A_SECRET", "--yes"], 2, "unknown secret NOT_A_SECRET"),
    ("rotate-good-then-refused", _env("WEBUI_PORT=3000\n"),
     ["secrets", "rotate", "DASHBOARD_PASSWORD", "N8N_ENCRYPTION_KEY", "--yes"], 2, "N8N_ENCRYPTION_KEY cannot"),
    ("rotate-nothing", None, ["secrets", "rotate", "--yes"], 2, "KEY"),
    ("logs-unknown-service", None, ["logs", "nosuchservice"], 2, "unknown service"),
    ("timeout-not-a-number", None, ["up", "--timeout", "soon"], 2, "--timeout"),
    ("status-without-setup", None, ["status"], 2, "no .env"),
    ("public-with-placeholder-secret", _public("DASHBOARD_PASSWORD=changeme\n"), ["render", "-e", "public"], 2,
     "placeholder"),
]


def _snapshot(project: Path) -> dict[str, bytes]:
    return {p.relative_to(project).as_posix(): p.read_bytes()
            for p in sorted(project.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize(("setup", "argv", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(project, setup, argv, code, words):
    if setup:
        setup(project)
    before = _snapshot(project)
    result = run_start(project, *argv)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, f"expected one line, got: {result.stderr!r}"
    assert words in lines[0], lines[0]
    assert _snapshot(project) == before, "bad input must leave every file as it was"
    assert not (project / "build").exists()
